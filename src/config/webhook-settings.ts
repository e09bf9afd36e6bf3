/**
 * What the standalone webhook (`npm run webhook`) starts with: the `webhook:` section of the stack file
 * (temporal-dev.yml, or the file named by WXREFUND_STACK_CONFIG; none: defaults), validated by webhookConfigSchema,
 * its paths resolved against the file's folder (stack-paths.ts). Temporal's own env variables win for the connection
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE), then the section's `temporal`, then the stack's dev server.
 *
 * Merchants (`openWebhookMerchants`), the first that applies:
 *  1. the merchant registry the worker reads (docs/merchants.md; src/merchants/program-registry.ts), when one is named:
 *     WXREFUND_MERCHANTS, the production backend (WXREFUND_MERCHANTS or the single-merchant WECHATPAY_CONFIG), or the
 *     stack file's `merchants:` section. Reloaded on change (file watch, SIGHUP) without a restart;
 *  2. `webhook.merchants` (the webhook's own list of verification keys, as before the registry);
 *  3. local stack: every merchant of the simulator's manifest.json in its keys directory.
 * A registry and `webhook.merchants` together are refused, naming both: two lists of one thing would drift apart.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeZodError as formatZodError } from '../domain/zod-errors';
import { createMerchantGateways } from '../merchants/gateway-pool';
import { loadProgramRegistry } from '../merchants/program-registry';
import { watchRegistry, type RegistryWatch } from '../merchants/registry-watch';
import { loadSimulatorManifest, MANIFEST_FILE } from '../simulator/manifest';
import { webhookConfigSchema, type WebhookConfig } from '../webhook/config';
import type { MerchantDirectory } from '../webhook/merchant-directory';
import type { MerchantVerifier } from '../webhook/merchant-verifier';
import { verifiersFromConfig, verifiersFromSimulatorManifest } from '../webhook/merchants';
import { registryDirectory } from '../webhook/registry-verifiers';
import { ConfigError } from './config-error';
import { describeStackFile, resolveWebhookPaths, stackConfigFile } from './stack-paths';

interface StackSections {
  webhook: unknown;
  /** The stack's merchant registry section is there (its content is program-registry.ts's to read). */
  hasMerchants: boolean;
  temporal?: { ip?: string; port?: number; namespace?: string };
  simulator?: { enabled?: boolean; keysDir?: string };
  worker?: { wechatpay?: { backend?: string } };
}

function readStackSections(file: string): StackSections {
  if (!existsSync(file)) return { webhook: {}, hasMerchants: false };
  const doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  return {
    webhook: doc.webhook ?? {},
    hasMerchants: doc.merchants !== undefined && doc.merchants !== null,
    temporal: doc.temporal as StackSections['temporal'],
    simulator: doc.simulator as StackSections['simulator'],
    worker: doc.worker as StackSections['worker'],
  };
}

export interface WebhookSettings {
  /** Every path in it is absolute. */
  config: WebhookConfig;
  /** The stack file it came from, for messages. */
  source: string;
  /** The stack file has a `merchants:` section (the local stack's merchant registry). */
  stackHasMerchants: boolean;
  /** The stack file's `worker.wechatpay.backend` (WECHATPAY_BACKEND wins over it). */
  stackBackend?: string;
}

export function webhookSettingsFromStackFile(env: NodeJS.ProcessEnv = process.env): WebhookSettings {
  const file = stackConfigFile(env);
  const stack = readStackSections(file);
  const raw = { ...(stack.webhook as Record<string, unknown>) };
  const temporal = { ...((raw.temporal as Record<string, unknown> | undefined) ?? {}) };
  // Temporal's env conventions first, then the webhook section, then the stack's dev server.
  temporal.address ??=
    stack.temporal?.ip && stack.temporal.port ? `${stack.temporal.ip}:${stack.temporal.port}` : undefined;
  temporal.namespace ??= stack.temporal?.namespace;
  if (env.TEMPORAL_ADDRESS) temporal.address = env.TEMPORAL_ADDRESS;
  if (env.TEMPORAL_NAMESPACE) temporal.namespace = env.TEMPORAL_NAMESPACE;
  raw.temporal = Object.fromEntries(Object.entries(temporal).filter(([, v]) => v !== undefined));
  if (raw.simulatorKeysDir === undefined && stack.simulator?.enabled !== false && stack.simulator?.keysDir) {
    raw.simulatorKeysDir = stack.simulator.keysDir;
  }
  const parsed = webhookConfigSchema.safeParse(raw);
  const source = describeStackFile(file);
  if (!parsed.success) throw new Error(`${source}: webhook.${formatZodError(parsed.error)}`);
  return {
    config: resolveWebhookPaths(file, parsed.data),
    source,
    stackHasMerchants: stack.hasMerchants,
    stackBackend: stack.worker?.wechatpay?.backend,
  };
}

/** The simulator writes its manifest when it starts; in the local stack it may start a moment after us. */
async function waitForManifest(dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path.join(dir, MANIFEST_FILE))) {
    if (Date.now() > deadline)
      throw new Error(`no simulator manifest in ${dir} after ${timeoutMs} ms (is the simulator running?)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The merchants whose notifications the webhook verifies; waits up to `manifestTimeoutMs` for the simulator's. */
export async function loadWebhookMerchants(
  config: WebhookConfig,
  { manifestTimeoutMs = 30_000, env = process.env }: { manifestTimeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<MerchantVerifier[]> {
  if (config.merchants.length > 0) return verifiersFromConfig(config);
  if (!config.simulatorKeysDir) {
    throw new Error(
      'no merchants to verify for: name the merchant registry (WXREFUND_MERCHANTS, or the stack file’s `merchants:`), ' +
        'list webhook.merchants, or configure the simulator keys directory',
    );
  }
  const dir = path.resolve(config.simulatorKeysDir);
  await waitForManifest(dir, manifestTimeoutMs);
  // The default merchant as the worker's when the stack names no registry: WECHATPAY_MCHID, else the first direct one.
  return verifiersFromSimulatorManifest(loadSimulatorManifest(dir), {
    toleranceSeconds: config.timestampToleranceSeconds,
    defaultMchid: env.WECHATPAY_MCHID,
  });
}

/** Where the webhook's merchants come from (module header). */
export type WebhookMerchantSource = 'registry' | 'webhook.merchants' | 'simulator manifest';

export function webhookMerchantSource(
  settings: Pick<WebhookSettings, 'config' | 'source' | 'stackHasMerchants' | 'stackBackend'>,
  env: NodeJS.ProcessEnv = process.env,
): WebhookMerchantSource {
  const registryNamedBy = env.WXREFUND_MERCHANTS
    ? 'WXREFUND_MERCHANTS'
    : settings.stackHasMerchants
      ? `${settings.source}: merchants`
      : undefined;
  if (settings.config.merchants.length > 0) {
    if (registryNamedBy) {
      throw new ConfigError(
        `${settings.source}: webhook.merchants and ${registryNamedBy} both list merchants: the webhook reads the ` +
          'merchant registry, remove webhook.merchants',
      );
    }
    return 'webhook.merchants';
  }
  // Production always has a registry (WXREFUND_MERCHANTS, or WECHATPAY_CONFIG's single merchant): as the worker's.
  if (registryNamedBy || (env.WECHATPAY_BACKEND ?? settings.stackBackend) === 'production') return 'registry';
  return 'simulator manifest';
}

/** What `npm run webhook` serves: the merchants, where they came from, and how to follow and release them. */
export interface WebhookMerchants {
  kind: WebhookMerchantSource;
  /** For createWebhookServer: a fixed list, or the live directory over the registry. */
  merchants: readonly MerchantVerifier[] | MerchantDirectory;
  /** The merchants now (for the start-up log line). */
  mchids(): readonly string[];
  /**
   * Registry only: follow the registry file (fs.watch + SIGHUP). A valid new file replaces the merchants (the pool
   * rebuilds the changed ones; requests in flight finish with what they started with); an invalid one is logged
   * (naming the merchant and key) and the previous registry stays.
   */
  follow(log: ReloadLog): void;
  close(): Promise<void>;
}

/** The slice of a pino logger the reload messages need. */
export interface ReloadLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

function fixedMerchants(kind: WebhookMerchantSource, verifiers: MerchantVerifier[]): WebhookMerchants {
  return {
    kind,
    merchants: verifiers,
    mchids: () => verifiers.map((m) => m.mchid),
    follow: () => undefined,
    close: async () => undefined,
  };
}

export async function openWebhookMerchants(
  settings: WebhookSettings,
  { env = process.env, manifestTimeoutMs = 30_000 }: { env?: NodeJS.ProcessEnv; manifestTimeoutMs?: number } = {},
): Promise<WebhookMerchants> {
  const { config } = settings;
  const kind = webhookMerchantSource(settings, env);
  if (kind === 'webhook.merchants') return fixedMerchants(kind, verifiersFromConfig(config));
  if (kind === 'simulator manifest') {
    return fixedMerchants(kind, await loadWebhookMerchants(config, { manifestTimeoutMs, env }));
  }
  // The local stack's `credentials: simulator` merchants read the simulator's manifest, written once it started.
  if ((env.WECHATPAY_BACKEND ?? settings.stackBackend) !== 'production' && config.simulatorKeysDir) {
    await waitForManifest(path.resolve(config.simulatorKeysDir), manifestTimeoutMs);
  }
  const { registry, watchPath } = loadProgramRegistry(env);
  // The pool logs (refused scheduled refreshes…) through the server's logger once there is one.
  let log: ReloadLog | undefined;
  const gateways = createMerchantGateways(registry, {
    log: {
      info: (message, meta) => (log ? log.info(meta ?? {}, message) : console.info(message, meta ?? '')),
      warn: (message, meta) => (log ? log.warn(meta ?? {}, message) : console.warn(message, meta ?? '')),
    },
  });
  const directory = registryDirectory(gateways, { toleranceSeconds: config.timestampToleranceSeconds });
  let watching: RegistryWatch | undefined;
  return {
    kind,
    merchants: directory,
    mchids: () =>
      gateways
        .registry()
        .list()
        .map((m) => m.mchid),
    follow(logger) {
      log = logger;
      if (!watchPath || watching) return;
      watching = watchRegistry(watchPath, {
        env,
        onReload(next) {
          const change = gateways.replaceRegistry(next);
          logger.info({ registry: next.source, ...change }, 'merchant registry reloaded');
        },
        onError(err) {
          logger.error({ detail: err.message }, 'merchant registry not reloaded; the previous one stays');
        },
      });
    },
    async close() {
      // The server closes the directory; the watch and the pool (gateways, scheduled refreshes) are ours.
      watching?.close();
      await gateways.close();
    },
  };
}
