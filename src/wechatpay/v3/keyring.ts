/**
 * WeChat's verification keys, by id (reference §3.3 step 5, §3.4): platform certificates (id = certificate serial)
 * and WeChat Pay public keys (id = `PUB_KEY_ID_…`), both at once during a migration. Keys are stored as parsed
 * KeyObjects, so verifying a reply or notification never re-parses PEM.
 *
 * An unknown platform serial triggers one refresh of the platform certificates (through the injected `refresher`,
 * normally the v3 client's GET /v3/certificates); concurrent misses share one refresh, and misses are rate-limited
 * so a flood of forged serials cannot turn into a flood of certificate downloads.
 */
import { KeyObject } from 'node:crypto';
import { certificateSerial, certificateValidity } from '../../pki/x509';
import { toPublicKey } from '../key-objects';

export const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';

export interface PlatformCertificate {
  serial: string;
  certPem: string;
  notBefore?: Date;
  notAfter?: Date;
}

export interface KeyringEntry {
  id: string;
  kind: 'platform-certificate' | 'public-key';
  key: KeyObject;
  notBefore?: Date;
  notAfter?: Date;
  /** Configured by the operator (kept across refreshes) or downloaded (replaced by the next refresh). */
  source: 'configured' | 'downloaded';
}

export interface KeyringOptions {
  platformCertificates?: ReadonlyArray<string | PlatformCertificate>;
  publicKeys?: ReadonlyArray<{ id: string; publicKey: string | Buffer | KeyObject }>;
  /** Downloads the current platform certificates (already decrypted). */
  refresher?: () => Promise<PlatformCertificate[]>;
  /** Minimum time between two refreshes triggered by unknown serials. Default 60 s. */
  minRefreshIntervalMs?: number;
  now?: () => number;
}

export function isPublicKeyId(id: string): boolean {
  return id.startsWith(PUBLIC_KEY_ID_PREFIX);
}

function normaliseSerial(serial: string): string {
  return serial.trim().toUpperCase();
}

export class WechatPayKeyring {
  private readonly entries = new Map<string, KeyringEntry>();
  private refresher?: () => Promise<PlatformCertificate[]>;
  private inFlight?: Promise<void>;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private readonly minRefreshIntervalMs: number;
  private readonly now: () => number;

  constructor(options: KeyringOptions = {}) {
    this.refresher = options.refresher;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
    for (const c of options.platformCertificates ?? []) this.addPlatformCertificate(c);
    for (const p of options.publicKeys ?? []) this.addPublicKey(p.id, p.publicKey);
  }

  setRefresher(refresher: (() => Promise<PlatformCertificate[]>) | undefined): void {
    this.refresher = refresher;
  }

  get canRefresh(): boolean {
    return this.refresher !== undefined;
  }

  addPlatformCertificate(cert: string | PlatformCertificate, source: KeyringEntry['source'] = 'configured'): string {
    const pem = typeof cert === 'string' ? cert : cert.certPem;
    const serial = normaliseSerial(typeof cert === 'string' ? certificateSerial(pem) : cert.serial);
    const validity = certificateValidity(pem);
    this.entries.set(serial, {
      id: serial,
      kind: 'platform-certificate',
      key: toPublicKey(pem),
      notBefore: (typeof cert !== 'string' && cert.notBefore) || validity.notBefore,
      notAfter: (typeof cert !== 'string' && cert.notAfter) || validity.notAfter,
      source,
    });
    return serial;
  }

  addPublicKey(id: string, publicKey: string | Buffer | KeyObject): void {
    if (!isPublicKeyId(id)) throw new TypeError(`WeChat Pay public key id must start with ${PUBLIC_KEY_ID_PREFIX}`);
    this.entries.set(id, { id, kind: 'public-key', key: toPublicKey(publicKey), source: 'configured' });
  }

  /** Replace the downloaded platform certificates with `certs` (configured keys stay). */
  replaceDownloadedCertificates(certs: ReadonlyArray<PlatformCertificate>): void {
    for (const [id, e] of this.entries) if (e.source === 'downloaded') this.entries.delete(id);
    for (const c of certs) this.addPlatformCertificate(c, 'downloaded');
  }

  /** A copy of the current keys plus `extra` certificates, without refresher (for one-off verifications). */
  snapshot(extra: ReadonlyArray<PlatformCertificate> = []): WechatPayKeyring {
    const copy = new WechatPayKeyring({ now: this.now });
    for (const [id, e] of this.entries) copy.entries.set(id, e);
    for (const c of extra) copy.addPlatformCertificate(c, 'downloaded');
    return copy;
  }

  /** Synchronous lookup without refresh; undefined when unknown. */
  get(id: string): KeyObject | undefined {
    return this.entries.get(isPublicKeyId(id) ? id : normaliseSerial(id))?.key;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  list(): KeyringEntry[] {
    return [...this.entries.values()];
  }

  /**
   * Key for `id`, refreshing the platform certificates once if it is an unknown certificate serial. Public-key ids
   * never trigger a refresh (they come from the merchant portal, not from an API).
   */
  async resolve(id: string): Promise<KeyObject | undefined> {
    const known = this.get(id);
    if (known || isPublicKeyId(id) || !this.refresher) return known;
    await this.refreshOnMiss();
    return this.get(id);
  }

  /** Download the platform certificates now (single flight). Errors propagate to the caller. */
  async refresh(): Promise<void> {
    if (!this.refresher) throw new Error('no platform-certificate refresher configured');
    if (!this.inFlight) {
      const refresher = this.refresher;
      this.inFlight = (async () => {
        try {
          this.replaceDownloadedCertificates(await refresher());
        } finally {
          this.lastRefreshAt = this.now();
          this.inFlight = undefined;
        }
      })();
    }
    return this.inFlight;
  }

  private async refreshOnMiss(): Promise<void> {
    if (this.inFlight) return this.inFlight.catch(() => undefined);
    if (this.now() - this.lastRefreshAt < this.minRefreshIntervalMs) return;
    await this.refresh().catch(() => undefined);
  }

  /**
   * The key to encrypt sensitive fields with (§3.5): a WeChat Pay public key when configured, else the platform
   * certificate that is currently valid and expires last.
   */
  encryptionKey(): { id: string; key: KeyObject } | undefined {
    const all = this.list();
    const pub = all.find((e) => e.kind === 'public-key');
    if (pub) return { id: pub.id, key: pub.key };
    const now = this.now();
    const valid = all
      .filter((e) => e.kind === 'platform-certificate')
      .filter((e) => (!e.notBefore || e.notBefore.getTime() <= now) && (!e.notAfter || e.notAfter.getTime() > now))
      .sort((a, b) => (b.notAfter?.getTime() ?? 0) - (a.notAfter?.getTime() ?? 0));
    return valid[0] ? { id: valid[0].id, key: valid[0].key } : undefined;
  }
}
