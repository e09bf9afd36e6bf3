/** Registry files and the key files they name, written to a temporary folder for the merchant registry tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testKeys } from '../wechatpay/helpers/wechat-keys';

export const APIV3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
export const APIV2_KEY = 'b8def2AKC2lH3f8WgUt4kRabXjavs9Hc';

export function tempDir(prefix = 'wxrefund-registry-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function write(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** A registry file (JSON is YAML) with these merchants; returns its path. */
export function writeRegistry(dir: string, merchants: unknown[], name = 'merchants.yml'): string {
  return write(path.join(dir, name), JSON.stringify({ merchants }, null, 2));
}

/**
 * Key files of a v3 merchant under `<dir>/<mchid>/` (the test CA's keys) and its registry entry, with paths relative
 * to `dir` (the registry file's folder).
 */
export function v3Merchant(dir: string, mchid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const keys = testKeys();
  write(path.join(dir, mchid, 'apiclient_key.pem'), keys.merchant.privateKeyPem);
  write(path.join(dir, mchid, 'apiv3_key.txt'), `${APIV3_KEY}\n`);
  write(path.join(dir, mchid, 'pub_key.pem'), keys.publicKey.publicKeyPem);
  return {
    mchid,
    apiVersion: 'v3',
    notifyUrl: `https://pay.example.com/wechatpay/v3/refund-notify/${mchid}`,
    v3: {
      merchantSerialNo: '5157F09EFDC096DE15EBE81A47057A72C0A8A6B5',
      merchantPrivateKey: { file: `${mchid}/apiclient_key.pem` },
      apiV3Key: { file: `${mchid}/apiv3_key.txt` },
      wechatpayPublicKeys: [{ id: keys.publicKey.id, file: `${mchid}/pub_key.pem` }],
    },
    ...extra,
  };
}

/** Key files of a v2 merchant under `<dir>/<mchid>/` and its registry entry. */
export function v2Merchant(dir: string, mchid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const keys = testKeys();
  write(path.join(dir, mchid, 'apiclient_cert.pem'), keys.merchant.certPem);
  write(path.join(dir, mchid, 'apiclient_key.pem'), keys.merchant.privateKeyPem);
  write(path.join(dir, mchid, 'apiv2_key.txt'), APIV2_KEY);
  return {
    mchid,
    apiVersion: 'v2',
    v2: {
      appid: 'wx8888888888888888',
      apiKey: { file: `${mchid}/apiv2_key.txt` },
      signType: 'HMAC-SHA256',
      clientCertificate: { file: `${mchid}/apiclient_cert.pem` },
      clientPrivateKey: { file: `${mchid}/apiclient_key.pem` },
    },
    ...extra,
  };
}
