/**
 * A merchant registry file (docs/merchants.md) for the simulator's merchants, written the way an operator would: every
 * key by `{ file }` reference into the simulator's keys directory (manifest.json's files), WeChat's certificates and
 * public keys likewise. Tests load it with the registry's own reader, so the webhook meets real registry entries.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SimulatorManifest } from '../../src/simulator/manifest';

export interface RegistryMerchantSpec {
  mchid: string;
  default?: boolean;
  /** Partner mode with these sub-merchants. */
  subMchids?: string[];
  /** Where its APIv3 key is read from (default: the simulator's key file). */
  apiV3KeyFile?: string;
  /** Leave out WeChat's verification keys: the webhook has never seen them and must download the certificates. */
  noWechatKeys?: boolean;
}

export function merchantKeyFile(keysDir: string, mchid: string, name: 'apiv3_key.txt' | 'apiclient_key.pem'): string {
  return path.join(keysDir, 'merchants', mchid, name);
}

function entryOf(manifest: SimulatorManifest, keysDir: string, spec: RegistryMerchantSpec) {
  const m = manifest.merchants.find((x) => x.mchid === spec.mchid);
  if (!m) throw new Error(`the simulator has no merchant ${spec.mchid}`);
  const wechat = path.join(keysDir, 'wechatpay');
  return {
    mchid: spec.mchid,
    default: spec.default ?? false,
    apiVersion: 'v3',
    mode: spec.subMchids ? 'partner' : 'direct',
    ...(spec.subMchids ? { subMchids: spec.subMchids } : {}),
    v3: {
      merchantSerialNo: m.serialNo,
      merchantPrivateKey: { file: merchantKeyFile(keysDir, spec.mchid, 'apiclient_key.pem') },
      apiV3Key: { file: spec.apiV3KeyFile ?? merchantKeyFile(keysDir, spec.mchid, 'apiv3_key.txt') },
      platformCertificates: spec.noWechatKeys
        ? []
        : manifest.wechat.platformCertificates.map((c) => ({
            file: path.join(wechat, `platform_cert_${c.serialNo}.pem`),
          })),
      wechatpayPublicKeys: spec.noWechatKeys
        ? []
        : manifest.wechat.publicKeys.map((k) => ({ id: k.id, file: path.join(wechat, `${k.id}.pem`) })),
      baseUrl: manifest.urls.v3,
      ...(manifest.urls.v3.startsWith('https:') ? { caCertificate: { file: path.join(keysDir, 'ca.pem') } } : {}),
      // No scheduled download: a test counts the downloads an unknown serial causes.
      certificateRefreshHours: 0,
      ...(spec.subMchids ? { defaultSubMchid: spec.subMchids[0] } : {}),
    },
  };
}

/** Writes (or rewrites) `file` listing `merchants`; JSON is YAML, so the registry reads it as is. */
export function writeRegistryFile(
  file: string,
  manifest: SimulatorManifest,
  keysDir: string,
  merchants: RegistryMerchantSpec[],
): string {
  const doc = { merchants: merchants.map((spec) => entryOf(manifest, keysDir, spec)) };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}
