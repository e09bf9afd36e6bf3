/**
 * `npm run webhook`: the notification webhook as its own process.
 *
 * Settings: the `webhook:` section of temporal-dev.yml (or the file named by WXREFUND_STACK_CONFIG), validated by
 * webhookConfigSchema. Temporal's own env variables win for the connection (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE), as
 * in production. Merchants come from `webhook.merchants`, else (local stack) from the simulator's manifest.json.
 *
 * The Temporal connection is lazy: the webhook starts and answers 503 (so WeChat retries) while Temporal is down.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import { describeZodError as formatZodError } from '../domain/zod-errors';
import { DEFAULT_STACK_CONFIG_PATH } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { loadSimulatorManifest, MANIFEST_FILE } from '../simulator/manifest';
import { webhookConfigSchema, type WebhookConfig } from './config';
import type { MerchantVerifier } from './merchant-verifier';
import { verifiersFromConfig, verifiersFromSimulatorManifest } from './merchants';
import { createWebhookMetrics } from './metrics';
import { createWebhookServer, notifyUrl } from './server';

interface StackSections {
  webhook: unknown;
  temporal?: { ip?: string; port?: number; namespace?: string };
  simulator?: { enabled?: boolean; keysDir?: string };
}

function readStackSections(file: string): StackSections {
  if (!existsSync(file)) return { webhook: {} };
  const doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  return {
    webhook: doc.webhook ?? {},
    temporal: doc.temporal as StackSections['temporal'],
    simulator: doc.simulator as StackSections['simulator'],
  };
}

function loadConfig(): { config: WebhookConfig; source: string; stack: StackSections } {
  const file = process.env.WXREFUND_STACK_CONFIG ?? DEFAULT_STACK_CONFIG_PATH;
  const stack = readStackSections(file);
  const raw = { ...(stack.webhook as Record<string, unknown>) };
  const temporal = { ...((raw.temporal as Record<string, unknown> | undefined) ?? {}) };
  // Temporal's env conventions first, then the webhook section, then the stack's dev server.
  temporal.address ??=
    stack.temporal?.ip && stack.temporal.port ? `${stack.temporal.ip}:${stack.temporal.port}` : undefined;
  temporal.namespace ??= stack.temporal?.namespace;
  if (process.env.TEMPORAL_ADDRESS) temporal.address = process.env.TEMPORAL_ADDRESS;
  if (process.env.TEMPORAL_NAMESPACE) temporal.namespace = process.env.TEMPORAL_NAMESPACE;
  raw.temporal = Object.fromEntries(Object.entries(temporal).filter(([, v]) => v !== undefined));
  if (raw.simulatorKeysDir === undefined && stack.simulator?.enabled !== false && stack.simulator?.keysDir) {
    raw.simulatorKeysDir = stack.simulator.keysDir;
  }
  const parsed = webhookConfigSchema.safeParse(raw);
  const source = path.relative(process.cwd(), file) || file;
  if (!parsed.success) throw new Error(`${source}: webhook.${formatZodError(parsed.error)}`);
  return { config: parsed.data, source, stack };
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

async function loadMerchants(config: WebhookConfig): Promise<MerchantVerifier[]> {
  if (config.merchants.length > 0) return verifiersFromConfig(config, REPO_ROOT);
  if (!config.simulatorKeysDir) {
    throw new Error('webhook.merchants is empty and no simulator keys directory is configured: nothing to verify with');
  }
  const dir = path.resolve(REPO_ROOT, config.simulatorKeysDir);
  await waitForManifest(dir, 30_000);
  return verifiersFromSimulatorManifest(loadSimulatorManifest(dir), {
    toleranceSeconds: config.timestampToleranceSeconds,
  });
}

async function main(): Promise<void> {
  const { config, source } = loadConfig();
  const merchants = await loadMerchants(config);
  const connection = Connection.lazy({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const server = createWebhookServer({
    config: { ...config, orphanLogPath: path.resolve(REPO_ROOT, config.orphanLogPath) },
    temporal: client,
    merchants,
    metrics: createWebhookMetrics({ defaultMetrics: true }),
  });
  const baseUrl = await server.listen();
  const publicUrl = config.publicBaseUrl ?? baseUrl;
  server.app.log.info(
    {
      config: source,
      temporal: `${config.temporal.address}/${config.temporal.namespace}`,
      merchants: merchants.map((m) => m.mchid),
      notifyUrls: merchants.map((m) => notifyUrl(publicUrl, 'v3', m.mchid)),
    },
    `refund notification webhook listening on ${baseUrl}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    // In-flight notifications finish; new ones get 503 (return503OnClosing) and WeChat retries them.
    void server
      .close()
      .then(() => connection.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`webhook: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
