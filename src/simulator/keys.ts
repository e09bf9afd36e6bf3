/**
 * Key material of the simulated WeChat Pay: its CA (which, like Tenpay's, issues merchant API certificates and the
 * platform certificates, and here also the TLS server certificate), the platform certificates and/or WeChat Pay
 * public keys it signs with, and every merchant's certificates and API keys.
 *
 * What the configuration gives is used as is; whatever is missing is generated. Generated material is cached in
 * `<keysDir>/simulator-private/generated.json` and re-used on the next start (so the worker keeps working across a
 * simulator restart); the public side is written by manifest.ts. Business-visible values (serials, API keys) come
 * from the seeded stream; private keys come from node:crypto.
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
import type { SimMerchant } from './model';
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

export interface WechatIdentity {
  signWith: 'certificate' | 'publicKey' | 'both';
  platformCertificates: PlatformCertificateKey[];
  publicKeys: WechatPublicKey[];
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
}

interface GeneratedCache {
  ca?: { certPem: string; privateKeyPem: string; publicKeyPem: string };
  tlsServer?: { certPem: string; privateKeyPem: string; hosts: string[] };
  platformCertificates?: PlatformCertificateKey[];
  publicKeys?: WechatPublicKey[];
  merchants?: Record<string, GeneratedMerchant>;
}

interface GeneratedMerchant {
  apiV3Key: string;
  apiV2Key: string;
  cert?: { serialNo: string; certificatePem: string; privateKeyPem: string };
}

export const DEMO_DIRECT_MCHID = '1900000109';
export const DEMO_PROVIDER_MCHID = '1900000100';
export const DEMO_SUB_MCHID = '1900000201';

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

  const hosts = tlsHosts(config);
  if (!cache.tlsServer || cache.tlsServer.hosts.join(',') !== hosts.join(',')) {
    const issued = issueCertificate(ca, {
      subject: { commonName: 'api.mch.weixin.qq.com (simulated)', organizationName: 'Tenpay.com (simulated)' },
      serial: seededSerial(rng),
      dnsNames: hosts.filter((h) => !isIp(h)),
      ipAddresses: hosts.filter(isIp),
      usage: ['serverAuth'],
    });
    cache.tlsServer = { certPem: issued.certPem, privateKeyPem: issued.privateKeyPem, hosts };
    dirty = true;
  }

  const wantCerts = config.wechat.signWith !== 'publicKey';
  const wantPubKeys = config.wechat.signWith !== 'certificate';

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
      const issued = issueCertificate(ca, {
        subject: { commonName: 'Tenpay.com sign', organizationName: 'Tenpay.com (simulated)' },
        serial: seededSerial(rng),
      });
      const validity = certificateValidity(issued.certPem);
      cache.platformCertificates = [
        {
          serialNo: issued.serial,
          certificatePem: issued.certPem,
          privateKeyPem: issued.privateKeyPem,
          notBefore: validity.notBefore.toISOString(),
          notAfter: validity.notAfter.toISOString(),
        },
      ];
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
      const pair = generateRsaKeyPair();
      cache.publicKeys = [
        { id: `PUB_KEY_ID_0${rng.digits(29)}`, privateKeyPem: pair.privateKeyPem, publicKeyPem: pair.publicKeyPem },
      ];
      dirty = true;
    }
    publicKeys = cache.publicKeys;
  }
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
          serial: seededSerial(rng),
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
    };
  });
  checkUnique(merchants);

  if (dirty) writeCache(config.keysDir, cache);
  return {
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
