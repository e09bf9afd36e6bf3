/**
 * Which WeChat Pay the worker talks to, and as which merchant.
 *
 * - `simulator` (default, local stack): the embedded simulator's manifest.json (written into its keysDir) gives the
 *   URLs and the demo merchant's keys; refunds carry the local webhook as notify_url.
 * - `production`: a merchant file named by WECHATPAY_CONFIG (YAML or JSON), validated by the protocol layer's own
 *   schemas: `{ apiVersion: v3, v3: { mchid, merchantSerialNo, merchantPrivateKey: <path or PEM>, apiV3Key,
 *   platformCertificates | wechatpayPublicKeys, notifyUrl, ... } }` or `{ apiVersion: v2, v2: { ... } }`.
 *   The one config switch: WECHATPAY_BACKEND=production plus that file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { RefundGateway } from '../wechatpay/gateway';
import { createV3Gateway, v3GatewayConfigSchema } from '../wechatpay/v3/gateway';
import { createV2Gateway, v2GatewayConfigSchema } from '../wechatpay/v2/gateway';
import { DEFAULT_KEYS_DIR, loadSimulatorManifest, v2GatewayConfigFor, v3GatewayConfigFor } from '../simulator/manifest';
import { ConfigError } from './config-error';
import { describeZodError as formatZodError } from '../domain/zod-errors';
import { DEFAULT_STACK_CONFIG_PATH, resolveStackPath } from './stack-paths';
import { notifyUrl as webhookNotifyUrl } from '../webhook/notify-url';

export const merchantFileSchema = z.discriminatedUnion('apiVersion', [
  z.object({ apiVersion: z.literal('v3'), v3: v3GatewayConfigSchema }).strict(),
  z.object({ apiVersion: z.literal('v2'), v2: v2GatewayConfigSchema }).strict(),
]);

const backendSchema = z.enum(['simulator', 'production'], { error: 'must be simulator or production' });
const apiVersionSchema = z.enum(['v3', 'v2'], { error: 'must be v3 or v2' });

export interface GatewaySelection {
  backend: 'simulator' | 'production';
  apiVersion: 'v3' | 'v2';
  mchid: string;
  baseUrl: string;
  gateway: RefundGateway;
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(`${where}: ${formatZodError(r.error)}`);
  return r.data;
}

/**
 * What the gateway choice reads from the stack file (a StackConfig is one): the worker's backend and API version, the
 * simulator's keys directory (absolute once loaded; relative ones are read as temporal-dev.yml's), the webhook's URL.
 */
export interface GatewayStackSettings {
  worker: { wechatpay: { backend: 'simulator' | 'production'; apiVersion: 'v3' | 'v2' } };
  simulator: { keysDir?: string };
  webhook: { publicBaseUrl?: string };
}

/** The real WeChat Pay, as the merchant file named by WECHATPAY_CONFIG describes it. Reads no stack file. */
export function createProductionGateway(env: NodeJS.ProcessEnv = process.env): GatewaySelection {
  const backend = 'production';
  const file = env.WECHATPAY_CONFIG;
  if (!file)
    throw new ConfigError('WECHATPAY_CONFIG: required when WECHATPAY_BACKEND=production (path to the merchant file)');
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`WECHATPAY_CONFIG ${file}: ${(e as Error).message}`);
  }
  const merchant = parseWith(merchantFileSchema, raw, file);
  if (merchant.apiVersion === 'v3') {
    const gateway = createV3Gateway(merchant.v3);
    return { backend, apiVersion: 'v3', mchid: merchant.v3.mchid, baseUrl: merchant.v3.baseUrl, gateway };
  }
  const gateway = createV2Gateway(merchant.v2);
  return { backend, apiVersion: 'v2', mchid: merchant.v2.mchid, baseUrl: merchant.v2.baseUrl, gateway };
}

/** The backend WECHATPAY_BACKEND names, else the stack file's `worker.wechatpay.backend`. */
export function createGatewayFromConfig(
  stack: GatewayStackSettings,
  env: NodeJS.ProcessEnv = process.env,
): GatewaySelection {
  const { wechatpay } = stack.worker;
  const backend = parseWith(backendSchema, env.WECHATPAY_BACKEND ?? wechatpay.backend, 'WECHATPAY_BACKEND');
  if (backend === 'production') return createProductionGateway(env);

  const apiVersion = parseWith(
    apiVersionSchema,
    env.WECHATPAY_API_VERSION ?? wechatpay.apiVersion,
    'WECHATPAY_API_VERSION',
  );
  const keysDir = resolveStackPath(DEFAULT_STACK_CONFIG_PATH, stack.simulator.keysDir ?? DEFAULT_KEYS_DIR);
  let manifest;
  try {
    manifest = loadSimulatorManifest(keysDir);
  } catch (e) {
    throw new ConfigError(
      `simulator keys not found in ${keysDir} (start the simulator first: npm run sim): ${(e as Error).message}`,
    );
  }
  const webhookBase = stack.webhook.publicBaseUrl;
  const mchid =
    env.WECHATPAY_MCHID ?? manifest.merchants.find((m) => m.mode === 'direct')?.mchid ?? manifest.merchants[0].mchid;
  const notifyUrl = webhookBase ? webhookNotifyUrl(webhookBase, apiVersion, mchid) : undefined;
  if (apiVersion === 'v3') {
    const cfg = v3GatewayConfigFor(manifest, mchid, notifyUrl ? { notifyUrl } : {});
    return { backend, apiVersion, mchid, baseUrl: manifest.urls.v3, gateway: createV3Gateway(cfg) };
  }
  const cfg = v2GatewayConfigFor(manifest, mchid, notifyUrl ? { notifyUrl } : {});
  return { backend, apiVersion, mchid, baseUrl: manifest.urls.v2, gateway: createV2Gateway(cfg) };
}
