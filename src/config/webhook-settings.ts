/**
 * What the standalone webhook (`npm run webhook`) starts with: the `webhook:` section of the stack file
 * (temporal-dev.yml, or the file named by WXREFUND_STACK_CONFIG; none: defaults), validated by webhookConfigSchema,
 * its paths resolved against the file's folder (stack-paths.ts). Temporal's own env variables win for the connection
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE), then the section's `temporal`, then the stack's dev server. Merchants come
 * from `webhook.merchants`, else (local stack) from the simulator's manifest.json in its keys directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeZodError as formatZodError } from '../domain/zod-errors';
import { loadSimulatorManifest, MANIFEST_FILE } from '../simulator/manifest';
import { webhookConfigSchema, type WebhookConfig } from '../webhook/config';
import type { MerchantVerifier } from '../webhook/merchant-verifier';
import { verifiersFromConfig, verifiersFromSimulatorManifest } from '../webhook/merchants';
import { describeStackFile, resolveWebhookPaths, stackConfigFile } from './stack-paths';

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

export interface WebhookSettings {
  /** Every path in it is absolute. */
  config: WebhookConfig;
  /** The stack file it came from, for messages. */
  source: string;
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
  return { config: resolveWebhookPaths(file, parsed.data), source };
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
  { manifestTimeoutMs = 30_000 }: { manifestTimeoutMs?: number } = {},
): Promise<MerchantVerifier[]> {
  if (config.merchants.length > 0) return verifiersFromConfig(config);
  if (!config.simulatorKeysDir) {
    throw new Error('webhook.merchants is empty and no simulator keys directory is configured: nothing to verify with');
  }
  const dir = path.resolve(config.simulatorKeysDir);
  await waitForManifest(dir, manifestTimeoutMs);
  return verifiersFromSimulatorManifest(loadSimulatorManifest(dir), {
    toleranceSeconds: config.timestampToleranceSeconds,
  });
}
