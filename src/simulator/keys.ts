/**
 * Key material of the simulated WeChat Pay: its CA (which, like Tenpay's, issues merchant API certificates and the
 * platform certificates, and here also the TLS server certificate), the platform certificates and/or WeChat Pay
 * public keys it signs with, and every merchant's certificates and API keys.
 *
 * What the configuration gives is used as is; whatever is missing is generated. Generated material is cached in
 * `<keysDir>/simulator-private/generated.json` and re-used on the next start (so the worker keeps working across a
 * simulator restart); the public side is written by manifest.ts. Business-visible values (serials, API keys) come
 * from the seeded stream; private keys come from node:crypto.
 *
 * WeChat's keys can change while the simulator runs (key-rotation.ts: a new platform certificate, a public key for a
 * merchant switched to public-key mode); `KeyMaterial.issuer` issues them from the same CA and records the resulting
 * key set in the cache, so a restart with the same configuration comes back with it.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  certificateSerial,
  certificateValidity,
  createCertificateAuthority,
  generateRsaKeyPair,
  issueCertificate,
  publicKeyPemFromCertificate,
  type CertificateAuthority,
} from '../pki';
import type { SimulatorConfig } from './config';
import type { SigningMode, SimMerchant } from './model';
import type { RandomStream, SeededRandom } from './random';

export interface PlatformCertificateKey {
  serialNo: string;
  certificatePem: string;
  privateKeyPem: string;
  notBefore: string;
  notAfter: string;
}

export interface WechatPublicKey {
  id: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

/** WeChat's signing keys. The arrays are changed in place at run time (key-rotation.ts); the last entry is the newest. */
export interface WechatIdentity {
  /** Simulator-wide default; a merchant's own `signWith` overrides it. */
  signWith: SigningMode;
  platformCertificates: PlatformCertificateKey[];
  publicKeys: WechatPublicKey[];
}

/** Issues WeChat keys after start-up and records the key set in the cache (see the file header). */
export interface WechatKeyIssuer {
  /** A new platform certificate from the simulator's CA, with a serial not in `taken`. */
  platformCertificate(taken: ReadonlySet<string>): PlatformCertificateKey;
  /** A new WeChat Pay public key pair, with an id not in `taken`. */
  publicKey(taken: ReadonlySet<string>): WechatPublicKey;
  /** Remember the current key set (written to `<keysDir>/simulator-private/generated.json` when there is one). */
  save(identity: WechatIdentity): void;
}

export interface TlsIdentity {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

export interface KeyMaterial {
  wechat: WechatIdentity;
  tls: TlsIdentity;
  /** Merchants with their initial balances (by owner: merchant or sub-merchant). */
  merchants: SimMerchant[];
  initialBalances: Record<string, number>;
  issuer: WechatKeyIssuer;
}

interface GeneratedCache {
  ca?: { certPem: string; privateKeyPem: string; publicKeyPem: string };
  tlsServer?: { certPem: string; privateKeyPem: string; hosts: string[] };
  platformCertificates?: PlatformCertificateKey[];
  publicKeys?: WechatPublicKey[];
  merchants?: Record<string, GeneratedMerchant>;
  /** The key set as changed at run time, valid while the keys resolved at start are still `base`. */
  runtimeWechatKeys?: RuntimeWechatKeys;
}

interface RuntimeWechatKeys {
  /** Serials / ids resolved at start when the change was made: a different configuration ignores this record. */
  base: { platformCertificates: string[]; publicKeys: string[] };
  platformCertificates: PlatformCertificateKey[];
  publicKeys: WechatPublicKey[];
  /** Keys issued at run time so far: each issue draws from its own seeded stream, so none repeats an earlier one. */
  issued: number;
}

interface GeneratedMerchant {
  apiV3Key: string;
  apiV2Key: string;
  cert?: { serialNo: string; certificatePem: string; privateKeyPem: string };
}

export const DEMO_DIRECT_MCHID = '1900000109';
export const DEMO_PROVIDER_MCHID = '1900000100';
export const DEMO_SUB_MCHID = '1900000201';
/** A second direct merchant, which the demo drives through API v2 (the simulator serves both APIs to any merchant). */
export const DEMO_V2_MCHID = '1900000110';

const CACHE_FILE = path.join('simulator-private', 'generated.json');

function readCache(dir: string | undefined, reuse: boolean): GeneratedCache {
  if (!dir || !reuse) return {};
  const file = path.join(dir, CACHE_FILE);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as GeneratedCache;
  } catch {
    // A damaged cache is regenerated rather than trusted.
    return {};
  }
}

function writeCache(dir: string | undefined, cache: GeneratedCache): void {
  if (!dir) return;
  const file = path.join(dir, CACHE_FILE);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(cache, null, 2), { mode: 0o600 });
}

/** A 40-hex-digit certificate serial with the top bit clear, like WeChat's. */
function seededSerial(rng: RandomStream): string {
  const first = rng.int(1, 7).toString(16).toUpperCase();
  return first + rng.hex(39);
}

function tlsHosts(config: SimulatorConfig): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', config.host, config.v2.host ?? config.host])].sort();
}

const isIp = (h: string) => /^[\d.]+$/.test(h) || h.includes(':');

function issuePlatformCertificate(ca: CertificateAuthority, serial: string): PlatformCertificateKey {
  const issued = issueCertificate(ca, {
    subject: { commonName: 'Tenpay.com sign', organizationName: 'Tenpay.com (simulated)' },
    serial,
  });
  const validity = certificateValidity(issued.certPem);
  return {
    serialNo: issued.serial,
    certificatePem: issued.certPem,
    privateKeyPem: issued.privateKeyPem,
    notBefore: validity.notBefore.toISOString(),
    notAfter: validity.notAfter.toISOString(),
  };
}

const publicKeyId = (rng: RandomStream) => `PUB_KEY_ID_0${rng.digits(29)}`;

function generatePublicKey(id: string): WechatPublicKey {
  const pair = generateRsaKeyPair();
  return { id, privateKeyPem: pair.privateKeyPem, publicKeyPem: pair.publicKeyPem };
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function resolveKeyMaterial(config: SimulatorConfig, random: SeededRandom): KeyMaterial {
  const rng = random.stream('keys');
  const cache = readCache(config.keysDir, config.reuseKeys);
  let dirty = false;

  const ca: CertificateAuthority =
    cache.ca ??
    ((dirty = true),
    (cache.ca = createCertificateAuthority({
      subject: { commonName: 'Simulated Tenpay.com Root CA', organizationName: 'Tenpay.com (simulated)' },
      serial: seededSerial(rng),
    })));

  // Serials this CA already issued. Over a cache the 'keys' stream restarts and would draw them again for anything
  // generated now (a merchant added since, a TLS certificate for new hosts); X.509 wants them unique per issuer.
  const usedSerials = new Set<string>([
    certificateSerial(ca.certPem),
    ...(cache.tlsServer ? [certificateSerial(cache.tlsServer.certPem)] : []),
    ...[...(cache.platformCertificates ?? []), ...(cache.runtimeWechatKeys?.platformCertificates ?? [])].map(
      (c) => c.serialNo,
    ),
    ...Object.values(cache.merchants ?? {}).flatMap((m) => (m.cert ? [m.cert.serialNo] : [])),
  ]);
  const newSerial = (from: RandomStream = rng, taken: ReadonlySet<string> = new Set()): string => {
    let serial = seededSerial(from);
    while (usedSerials.has(serial) || taken.has(serial)) serial = seededSerial(from);
    usedSerials.add(serial);
    return serial;
  };

  const hosts = tlsHosts(config);
  if (!cache.tlsServer || cache.tlsServer.hosts.join(',') !== hosts.join(',')) {
    const issued = issueCertificate(ca, {
      subject: { commonName: 'api.mch.weixin.qq.com (simulated)', organizationName: 'Tenpay.com (simulated)' },
      serial: newSerial(),
      dnsNames: hosts.filter((h) => !isIp(h)),
      ipAddresses: hosts.filter(isIp),
      usage: ['serverAuth'],
    });
    cache.tlsServer = { certPem: issued.certPem, privateKeyPem: issued.privateKeyPem, hosts };
    dirty = true;
  }

  // Every mode in use needs its keys: the simulator-wide one and any merchant's own.
  const modes = new Set<SigningMode>([
    config.wechat.signWith,
    ...(config.merchants ?? []).flatMap((m) => m.signWith ?? []),
  ]);
  const wantCerts = [...modes].some((m) => m !== 'publicKey');
  const wantPubKeys = [...modes].some((m) => m !== 'certificate');

  let platformCertificates: PlatformCertificateKey[] = (config.wechat.platformCertificates ?? []).map((c) => {
    const validity = certificateValidity(c.certificate);
    return {
      serialNo: certificateSerial(c.certificate),
      certificatePem: c.certificate,
      privateKeyPem: c.privateKey,
      notBefore: validity.notBefore.toISOString(),
      notAfter: validity.notAfter.toISOString(),
    };
  });
  if (platformCertificates.length === 0 && wantCerts) {
    if (!cache.platformCertificates?.length) {
      cache.platformCertificates = [issuePlatformCertificate(ca, newSerial())];
      dirty = true;
    }
    platformCertificates = cache.platformCertificates;
  }

  let publicKeys: WechatPublicKey[] = (config.wechat.publicKeys ?? []).map((k) => ({
    id: k.id,
    privateKeyPem: k.privateKey,
    publicKeyPem: publicKeyPemOf(k.privateKey),
  }));
  if (publicKeys.length === 0 && wantPubKeys) {
    if (!cache.publicKeys?.length) {
      cache.publicKeys = [generatePublicKey(publicKeyId(rng))];
      dirty = true;
    }
    publicKeys = cache.publicKeys;
  }
  const base = {
    platformCertificates: platformCertificates.map((c) => c.serialNo),
    publicKeys: publicKeys.map((k) => k.id),
  };
  const runtime = cache.runtimeWechatKeys;
  if (
    runtime &&
    sameList(runtime.base.platformCertificates, base.platformCertificates) &&
    sameList(runtime.base.publicKeys, base.publicKeys)
  ) {
    // Rotated or issued while running, same configuration since: carry on with that key set.
    platformCertificates = runtime.platformCertificates;
    publicKeys = runtime.publicKeys;
  }
  // Copies: the run-time changes (key-rotation.ts) must not alter the cached start-up lists.
  platformCertificates = [...platformCertificates];
  publicKeys = [...publicKeys];
  if (wantCerts && platformCertificates.length === 0)
    throw new Error('signWith needs at least one platform certificate');
  if (wantPubKeys && publicKeys.length === 0) throw new Error('signWith needs at least one WeChat Pay public key');

  const merchantConfigs = config.merchants ?? [
    { ...defaultMerchant(DEMO_DIRECT_MCHID), appid: 'wx8888888888888888', mode: 'direct' as const, subMerchants: [] },
    {
      ...defaultMerchant(DEMO_PROVIDER_MCHID),
      appid: 'wx9999999999999999',
      mode: 'partner' as const,
      subMerchants: [{ subMchid: DEMO_SUB_MCHID, subAppid: 'wx7777777777777777' }],
    },
    // Last, so the first two keep the serials and keys they had before it existed.
    { ...defaultMerchant(DEMO_V2_MCHID), appid: 'wx6666666666666666', mode: 'direct' as const, subMerchants: [] },
  ];

  /** API keys (seeded) and, when the configuration gives none, an API certificate issued by the simulator's CA. */
  const generatedMerchant = (mchid: string, withCert: boolean): GeneratedMerchant => {
    const cached = cache.merchants?.[mchid];
    if (cached && (!withCert || cached.cert)) return cached;
    const issued = withCert
      ? issueCertificate(ca, {
          subject: {
            commonName: mchid,
            organizationName: 'WeChat Pay merchant (simulated)',
            organizationalUnitName: `Merchant ${mchid}`,
          },
          serial: newSerial(),
          usage: ['clientAuth'],
        })
      : undefined;
    const fresh: GeneratedMerchant = {
      apiV3Key: cached?.apiV3Key ?? rng.alnum(32),
      apiV2Key: cached?.apiV2Key ?? rng.alnum(32),
      ...(issued
        ? { cert: { serialNo: issued.serial, certificatePem: issued.certPem, privateKeyPem: issued.privateKeyPem } }
        : {}),
    };
    cache.merchants = { ...cache.merchants, [mchid]: fresh };
    dirty = true;
    return fresh;
  };
  const initialBalances: Record<string, number> = {};
  const merchants: SimMerchant[] = merchantConfigs.map((m) => {
    const needsCert = !m.certificates || m.certificates.length === 0;
    const generated = generatedMerchant(m.mchid, needsCert);
    const certificates = needsCert
      ? [
          {
            serialNo: generated.cert!.serialNo,
            certificatePem: generated.cert!.certificatePem,
            publicKeyPem: publicKeyPemFromCertificate(generated.cert!.certificatePem),
          },
        ]
      : (m.certificates ?? []).map((c) => ({
          serialNo: c.certificate ? certificateSerial(c.certificate) : (c.serialNo as string),
          certificatePem: c.certificate,
          publicKeyPem: c.certificate ? publicKeyPemFromCertificate(c.certificate) : (c.publicKey as string),
        }));
    initialBalances[m.mchid] = m.balanceFen;
    for (const s of m.subMerchants) initialBalances[s.subMchid] = s.balanceFen ?? m.balanceFen;
    return {
      mchid: m.mchid,
      appid: m.appid,
      mode: m.mode,
      apiV3Key: m.apiV3Key ?? generated.apiV3Key,
      apiV2Key: m.apiV2Key ?? generated.apiV2Key,
      certificates,
      privateKeyPem: m.privateKey ?? (needsCert ? generated.cert?.privateKeyPem : undefined),
      subMerchants: m.subMerchants.map((s) => ({ subMchid: s.subMchid, subAppid: s.subAppid })),
      insufficientFunds: m.insufficientFunds,
      refundPermission: m.refundPermission,
      feeRateBps: m.feeRateBps,
      portalNotifyUrl: m.portalNotifyUrl,
      ...(m.signWith ? { signWith: m.signWith } : {}),
    };
  });
  checkUnique(merchants);

  if (dirty) writeCache(config.keysDir, cache);

  /** The seeded stream of the next run-time issue: its own each time, so values never repeat across restarts. */
  const nextIssueStream = (): RandomStream => {
    const issued = (cache.runtimeWechatKeys?.issued ?? 0) + 1;
    if (cache.runtimeWechatKeys) cache.runtimeWechatKeys.issued = issued;
    else cache.runtimeWechatKeys = { base, platformCertificates, publicKeys, issued };
    return random.stream(`keys.issued.${issued}`);
  };
  const issuer: WechatKeyIssuer = {
    platformCertificate(taken) {
      return issuePlatformCertificate(ca, newSerial(nextIssueStream(), taken));
    },
    publicKey(taken) {
      const issueRng = nextIssueStream();
      let id = publicKeyId(issueRng);
      while (taken.has(id)) id = publicKeyId(issueRng);
      return generatePublicKey(id);
    },
    save(identity) {
      cache.runtimeWechatKeys = {
        base,
        platformCertificates: [...identity.platformCertificates],
        publicKeys: [...identity.publicKeys],
        issued: cache.runtimeWechatKeys?.issued ?? 0,
      };
      writeCache(config.keysDir, cache);
    },
  };

  return {
    issuer,
    wechat: { signWith: config.wechat.signWith, platformCertificates, publicKeys },
    tls: {
      caCertPem: ca.certPem,
      serverCertPem: cache.tlsServer.certPem,
      serverKeyPem: cache.tlsServer.privateKeyPem,
    },
    merchants,
    initialBalances,
  };
}

function defaultMerchant(mchid: string) {
  return {
    mchid,
    balanceFen: 1_000_000_00,
    insufficientFunds: 'reject' as const,
    refundPermission: true,
    feeRateBps: 60,
    apiV3Key: undefined,
    apiV2Key: undefined,
    certificates: undefined,
    privateKey: undefined,
    portalNotifyUrl: undefined,
    signWith: undefined,
  };
}

function publicKeyPemOf(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}

function checkUnique(merchants: SimMerchant[]): void {
  const owners = new Set<string>();
  for (const m of merchants) {
    for (const id of [m.mchid, ...m.subMerchants.map((s) => s.subMchid)]) {
      if (owners.has(id)) throw new Error(`merchant number ${id} is configured twice`);
      owners.add(id);
    }
  }
}
