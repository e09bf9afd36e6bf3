/**
 * Builds the per-merchant verifiers from configuration: resolves secrets (env / file / inline), reads PEM files and
 * loads WeChat's keys into a keyring. Also offers the local-stack shortcut: every merchant of the simulator's manifest.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SimulatorManifest } from '../simulator/manifest';
import { WechatPayKeyring } from '../wechatpay/v3/keyring';
import type { MerchantConfig, PemSource, SecretSource, WebhookConfig } from './config';
import { merchantVerifier, type MerchantVerifier } from './merchant-verifier';

export class MerchantConfigError extends Error {
  override readonly name = 'MerchantConfigError';
}

function readText(file: string, baseDir: string, what: string): string {
  try {
    return readFileSync(path.resolve(baseDir, file), 'utf8');
  } catch (e) {
    // The path is configuration, not a secret; the content never appears in messages.
    throw new MerchantConfigError(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function resolveSecret(source: SecretSource, what: string, baseDir: string, env = process.env): string {
  if ('value' in source) return source.value;
  if ('env' in source) {
    const v = env[source.env];
    if (!v) throw new MerchantConfigError(`${what}: environment variable ${source.env} is not set`);
    return v.trim();
  }
  return readText(source.file, baseDir, what).trim();
}

function resolvePem(source: PemSource, what: string, baseDir: string): string {
  return 'pem' in source ? source.pem : readText(source.file, baseDir, what);
}

function checkKeyLength(key: string, what: string): string {
  // Both the APIv3 key and the API v2 key are exactly 32 ASCII characters (reference §4.3, §5.2).
  if (!/^[\x21-\x7e]{32}$/.test(key)) throw new MerchantConfigError(`${what}: must be 32 printable ASCII characters`);
  return key;
}

export function verifierFromConfig(
  m: MerchantConfig,
  opts: { toleranceSeconds: number; baseDir?: string; env?: NodeJS.ProcessEnv },
): MerchantVerifier {
  const baseDir = opts.baseDir ?? process.cwd();
  const where = `merchants[${m.mchid}]`;
  const v3 = m.v3
    ? {
        apiV3Key: checkKeyLength(
          resolveSecret(m.v3.apiV3Key, `${where}.v3.apiV3Key`, baseDir, opts.env),
          `${where}.v3.apiV3Key`,
        ),
        keyring: new WechatPayKeyring({
          platformCertificates: m.v3.platformCertificates.map((c, i) =>
            resolvePem(c, `${where}.v3.platformCertificates[${i}]`, baseDir),
          ),
          publicKeys: m.v3.publicKeys.map((k) => ({
            id: k.id,
            publicKey: resolvePem(k, `${where}.v3.publicKeys[${k.id}]`, baseDir),
          })),
        }),
      }
    : undefined;
  const v2 = m.v2
    ? {
        apiKey: checkKeyLength(
          resolveSecret(m.v2.apiKey, `${where}.v2.apiKey`, baseDir, opts.env),
          `${where}.v2.apiKey`,
        ),
      }
    : undefined;
  return merchantVerifier({ mchid: m.mchid, v3, v2 }, { toleranceSeconds: opts.toleranceSeconds });
}

export function verifiersFromConfig(config: WebhookConfig, baseDir?: string): MerchantVerifier[] {
  return config.merchants.map((m) =>
    verifierFromConfig(m, { toleranceSeconds: config.timestampToleranceSeconds, baseDir }),
  );
}

/**
 * Every merchant of a running simulator (local stack, tests): WeChat's platform certificates and public keys as the
 * simulator signs with them, and each merchant's APIv3 and v2 keys. The default merchant (whose refunds keep the
 * single-merchant workflow IDs) is `defaultMchid`, else the manifest's first direct merchant, as the worker's.
 */
export function verifiersFromSimulatorManifest(
  manifest: SimulatorManifest,
  opts: { toleranceSeconds?: number; defaultMchid?: string } = {},
): MerchantVerifier[] {
  const defaultMchid =
    opts.defaultMchid ?? manifest.merchants.find((m) => m.mode === 'direct')?.mchid ?? manifest.merchants[0]?.mchid;
  return manifest.merchants.map((m) =>
    merchantVerifier(
      {
        mchid: m.mchid,
        isDefault: m.mchid === defaultMchid,
        v3: {
          apiV3Key: m.apiV3Key,
          keyring: new WechatPayKeyring({
            platformCertificates: manifest.wechat.platformCertificates.map((c) => c.certificatePem),
            publicKeys: manifest.wechat.publicKeys.map((k) => ({ id: k.id, publicKey: k.publicKeyPem })),
          }),
        },
        v2: { apiKey: m.apiV2Key },
      },
      { toleranceSeconds: opts.toleranceSeconds },
    ),
  );
}
