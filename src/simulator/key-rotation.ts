/**
 * WeChat's signing keys changing while the simulator runs, as they do at WeChat: a new platform certificate is issued
 * and signs from then on while the old ones stay listed by GET /v3/certificates for a while (§3.4: clients must
 * download the new one when a reply names an unknown serial), or the old ones are retired at once; a merchant moved
 * to public-key mode gets a WeChat Pay public key if the simulator had none yet.
 *
 * The key lists of `WechatIdentity` are changed in place, so the signer sees the change on its next signature. Every
 * change is recorded by the key issuer (keys.ts: cached in keysDir, kept across a restart) and announced to the
 * listeners (server.ts rewrites the manifest).
 */
import type { PlatformCertificateKey, WechatIdentity, WechatKeyIssuer } from './keys';
import type { SigningMode } from './model';

export interface PlatformCertificateRotation {
  /** Serial of the new platform certificate, which signs from now on. */
  serialNo: string;
  notBefore: string;
  notAfter: string;
  /** Every platform certificate GET /v3/certificates lists now, oldest first. */
  platformCertificates: string[];
  /** Serials dropped by `retireOld`. */
  retired: string[];
}

export class WechatKeyRotation {
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly identity: WechatIdentity,
    private readonly issuer: WechatKeyIssuer,
  ) {}

  /** Called after every change of the key set. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Issue a platform certificate that signs from now on; `retireOld` drops the others (no overlap). */
  rotatePlatformCertificate(opts: { retireOld?: boolean } = {}): PlatformCertificateRotation {
    const certs = this.identity.platformCertificates;
    const fresh: PlatformCertificateKey = this.issuer.platformCertificate(new Set(certs.map((c) => c.serialNo)));
    const retired = opts.retireOld ? certs.splice(0).map((c) => c.serialNo) : [];
    certs.push(fresh);
    this.keysChanged();
    return {
      serialNo: fresh.serialNo,
      notBefore: fresh.notBefore,
      notAfter: fresh.notAfter,
      platformCertificates: certs.map((c) => c.serialNo),
      retired,
    };
  }

  /** Make sure a merchant can be signed for in `mode`: issue the kind of key the simulator does not have yet. */
  ensureKeysFor(mode: SigningMode): void {
    let changed = false;
    if (mode !== 'publicKey' && this.identity.platformCertificates.length === 0) {
      this.identity.platformCertificates.push(this.issuer.platformCertificate(new Set()));
      changed = true;
    }
    if (mode !== 'certificate' && this.identity.publicKeys.length === 0) {
      this.identity.publicKeys.push(this.issuer.publicKey(new Set()));
      changed = true;
    }
    if (changed) this.keysChanged();
  }

  /** Announce a change that is not a new key (a merchant's signing mode): the manifest records it too. */
  announce(): void {
    for (const listener of this.listeners) listener();
  }

  private keysChanged(): void {
    this.issuer.save(this.identity);
    this.announce();
  }
}
