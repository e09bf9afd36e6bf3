/**
 * What the worker, the webhook and tests need to talk to the simulator as a merchant: URLs, the CA to trust, WeChat's
 * verification keys, and each merchant's API certificate, private key and API keys.
 *
 * On disk (`<keysDir>/manifest.json`) files are referenced by paths relative to the manifest; in memory
 * (`SimulatorHandle.manifest`, `loadSimulatorManifest`) everything is resolved to PEM text. `v3GatewayConfigFor` /
 * `v2GatewayConfigFor` turn either into the protocol layer's gateway configuration.
 *
 * WeChat's keys and a merchant's signing mode can change while the simulator runs (admin API): the simulator then
 * updates its in-memory manifest in place (`refreshManifest`) and rewrites the file, so a process started later
 * sees the new platform certificate or public key.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { V2GatewayConfigInput } from '../wechatpay/v2/gateway';
import type { V3GatewayConfigInput } from '../wechatpay/v3/gateway';
import type { KeyMaterial } from './keys';
import type { SigningMode } from './model';

const signingMode = z.enum(['certificate', 'publicKey', 'both']);

export const MANIFEST_FILE = 'manifest.json';
export const DEFAULT_KEYS_DIR = path.join('.data', 'simulator', 'keys');

const manifestFileSchema = z.object({
  version: z.literal(1),
  generatedAt: z.string(),
  urls: z.object({ v3: z.string(), v2: z.string(), admin: z.string() }),
  caCertificate: z.string(),
  wechat: z.object({
    signWith: signingMode,
    platformCertificates: z.array(z.object({ serialNo: z.string(), certificate: z.string() })),
    publicKeys: z.array(z.object({ id: z.string(), publicKey: z.string() })),
  }),
  merchants: z.array(
    z.object({
      mchid: z.string(),
      appid: z.string(),
      mode: z.enum(['direct', 'partner']),
      subMerchants: z.array(z.object({ subMchid: z.string(), subAppid: z.string().optional() })),
      serialNo: z.string(),
      certificate: z.string().optional(),
      privateKey: z.string().optional(),
      apiV3Key: z.string(),
      apiV2Key: z.string(),
      /** Absent: `wechat.signWith`. */
      signWith: signingMode.optional(),
    }),
  ),
});
export type ManifestFile = z.infer<typeof manifestFileSchema>;

export interface ManifestMerchant {
  mchid: string;
  appid: string;
  mode: 'direct' | 'partner';
  subMerchants: Array<{ subMchid: string; subAppid?: string }>;
  serialNo: string;
  certificatePem?: string;
  /** Present when the simulator generated the merchant's key (absent for merchants configured with their own). */
  privateKeyPem?: string;
  apiV3Key: string;
  apiV2Key: string;
  /** The merchant's own signing mode; absent: `wechat.signWith`. */
  signWith?: SigningMode;
}

export interface SimulatorManifest {
  urls: { v3: string; v2: string; admin: string };
  caCertificatePem: string;
  wechat: {
    signWith: SigningMode;
    platformCertificates: Array<{ serialNo: string; certificatePem: string }>;
    publicKeys: Array<{ id: string; publicKeyPem: string }>;
  };
  merchants: ManifestMerchant[];
}

export function buildManifest(material: KeyMaterial, urls: SimulatorManifest['urls']): SimulatorManifest {
  return {
    urls,
    caCertificatePem: material.tls.caCertPem,
    wechat: {
      signWith: material.wechat.signWith,
      platformCertificates: material.wechat.platformCertificates.map((c) => ({
        serialNo: c.serialNo,
        certificatePem: c.certificatePem,
      })),
      publicKeys: material.wechat.publicKeys.map((k) => ({ id: k.id, publicKeyPem: k.publicKeyPem })),
    },
    merchants: material.merchants.map((m) => ({
      mchid: m.mchid,
      appid: m.appid,
      mode: m.mode,
      subMerchants: m.subMerchants,
      serialNo: m.certificates[0].serialNo,
      certificatePem: m.certificates[0].certificatePem,
      privateKeyPem: m.privateKeyPem,
      apiV3Key: m.apiV3Key,
      apiV2Key: m.apiV2Key,
      ...(m.signWith ? { signWith: m.signWith } : {}),
    })),
  };
}

/**
 * Bring `manifest` up to date with the key material after a run-time change, in place: whoever holds the manifest
 * or one of its merchants (SimulatorHandle.manifest / .merchants) sees the new keys and signing modes.
 */
export function refreshManifest(manifest: SimulatorManifest, material: KeyMaterial): void {
  const fresh = buildManifest(material, manifest.urls);
  manifest.wechat = fresh.wechat;
  for (const m of manifest.merchants) {
    const now = fresh.merchants.find((f) => f.mchid === m.mchid);
    if (now?.signWith) m.signWith = now.signWith;
    else delete m.signWith;
  }
}

/** Write the manifest and the PEM files it references (private keys 0600). Returns the manifest path. */
export function writeManifest(dir: string, manifest: SimulatorManifest): string {
  mkdirSync(dir, { recursive: true });
  const write = (rel: string, text: string, secret = false) => {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: secret ? 0o600 : 0o644 });
    return rel;
  };
  const file: ManifestFile = {
    version: 1,
    generatedAt: new Date().toISOString(),
    urls: manifest.urls,
    caCertificate: write('ca.pem', manifest.caCertificatePem),
    wechat: {
      signWith: manifest.wechat.signWith,
      platformCertificates: manifest.wechat.platformCertificates.map((c) => ({
        serialNo: c.serialNo,
        certificate: write(path.join('wechatpay', `platform_cert_${c.serialNo}.pem`), c.certificatePem),
      })),
      publicKeys: manifest.wechat.publicKeys.map((k) => ({
        id: k.id,
        publicKey: write(path.join('wechatpay', `${k.id}.pem`), k.publicKeyPem),
      })),
    },
    merchants: manifest.merchants.map((m) => {
      const base = path.join('merchants', m.mchid);
      write(path.join(base, 'apiv3_key.txt'), m.apiV3Key, true);
      write(path.join(base, 'apiv2_key.txt'), m.apiV2Key, true);
      return {
        mchid: m.mchid,
        appid: m.appid,
        mode: m.mode,
        subMerchants: m.subMerchants,
        serialNo: m.serialNo,
        certificate: m.certificatePem ? write(path.join(base, 'apiclient_cert.pem'), m.certificatePem) : undefined,
        privateKey: m.privateKeyPem ? write(path.join(base, 'apiclient_key.pem'), m.privateKeyPem, true) : undefined,
        apiV3Key: m.apiV3Key,
        apiV2Key: m.apiV2Key,
        ...(m.signWith ? { signWith: m.signWith } : {}),
      };
    }),
  };
  const manifestPath = path.join(dir, MANIFEST_FILE);
  writeFileSync(manifestPath, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  return manifestPath;
}

/** Read `<dir>/manifest.json` and the files it names. */
export function loadSimulatorManifest(dir: string = DEFAULT_KEYS_DIR): SimulatorManifest {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const parsed = manifestFileSchema.safeParse(JSON.parse(readFileSync(manifestPath, 'utf8')));
  if (!parsed.success) throw new Error(`${manifestPath}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const f = parsed.data;
  const read = (rel: string) => readFileSync(path.resolve(dir, rel), 'utf8');
  return {
    urls: f.urls,
    caCertificatePem: read(f.caCertificate),
    wechat: {
      signWith: f.wechat.signWith,
      platformCertificates: f.wechat.platformCertificates.map((c) => ({
        serialNo: c.serialNo,
        certificatePem: read(c.certificate),
      })),
      publicKeys: f.wechat.publicKeys.map((k) => ({ id: k.id, publicKeyPem: read(k.publicKey) })),
    },
    merchants: f.merchants.map((m) => ({
      mchid: m.mchid,
      appid: m.appid,
      mode: m.mode,
      subMerchants: m.subMerchants,
      serialNo: m.serialNo,
      certificatePem: m.certificate ? read(m.certificate) : undefined,
      privateKeyPem: m.privateKey ? read(m.privateKey) : undefined,
      apiV3Key: m.apiV3Key,
      apiV2Key: m.apiV2Key,
      ...(m.signWith ? { signWith: m.signWith } : {}),
    })),
  };
}

function merchantOf(manifest: SimulatorManifest, mchid?: string): ManifestMerchant {
  const m = mchid ? manifest.merchants.find((x) => x.mchid === mchid) : manifest.merchants[0];
  if (!m) throw new Error(`the simulator manifest has no merchant ${mchid}`);
  if (!m.privateKeyPem) throw new Error(`merchant ${m.mchid} brought its own key: the manifest cannot sign for it`);
  return m;
}

/**
 * v3 gateway configuration for one of the manifest's merchants. WeChat's keys are pre-loaded (platform certificates
 * and public keys as the simulator signs with), so no certificate download is needed before the first call; in
 * certificate or mixed mode an unknown serial (a rotated-in certificate) makes the client download the list again.
 */
export function v3GatewayConfigFor(
  manifest: SimulatorManifest,
  mchid?: string,
  overrides: Partial<V3GatewayConfigInput> = {},
): V3GatewayConfigInput {
  const m = merchantOf(manifest, mchid);
  return {
    baseUrl: manifest.urls.v3,
    mode: m.mode,
    mchid: m.mchid,
    ...(m.mode === 'partner' && m.subMerchants[0] ? { defaultSubMchid: m.subMerchants[0].subMchid } : {}),
    merchantSerialNo: m.serialNo,
    merchantPrivateKey: m.privateKeyPem as string,
    apiV3Key: m.apiV3Key,
    platformCertificates: manifest.wechat.platformCertificates.map((c) => c.certificatePem),
    wechatpayPublicKeys: manifest.wechat.publicKeys.map((k) => ({ id: k.id, publicKey: k.publicKeyPem })),
    autoRefreshCertificates: (m.signWith ?? manifest.wechat.signWith) !== 'publicKey',
    ...(manifest.urls.v3.startsWith('https:') ? { caCertificate: manifest.caCertificatePem } : {}),
    ...overrides,
  };
}

/** v2 gateway configuration (mutual TLS with the merchant's API certificate, trusting the simulator's CA). */
export function v2GatewayConfigFor(
  manifest: SimulatorManifest,
  mchid?: string,
  overrides: Partial<V2GatewayConfigInput> = {},
): V2GatewayConfigInput {
  const m = merchantOf(manifest, mchid);
  if (!m.certificatePem) throw new Error(`merchant ${m.mchid} has no API certificate for mutual TLS`);
  const sub = m.mode === 'partner' ? m.subMerchants[0] : undefined;
  return {
    baseUrl: manifest.urls.v2,
    mode: m.mode,
    appid: m.appid,
    mchid: m.mchid,
    ...(sub ? { defaultSubMchid: sub.subMchid, ...(sub.subAppid ? { subAppid: sub.subAppid } : {}) } : {}),
    apiKey: m.apiV2Key,
    clientCertificate: m.certificatePem,
    clientPrivateKey: m.privateKeyPem as string,
    ...(manifest.urls.v2.startsWith('https:') ? { caCertificate: manifest.caCertificatePem } : {}),
    ...overrides,
  };
}
