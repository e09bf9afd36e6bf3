/**
 * Loads temporal-dev.yml, the one description of the local (dev) stack; production reads no stack file. Each section
 * is validated by its owner's schema (the simulator's, the webhook's), so each module keeps its own rules and a bad key
 * is named at start-up. Every path in the result is absolute, resolved against the file's folder (stack-paths.ts).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { apiConfigSchema } from '../api/config';
import { simulatorConfigSchema } from '../simulator/config';
import { webhookConfigSchema } from '../webhook/config';
import { clusterConfigSchema } from '../stack/cluster/cluster-config';
import { describeRegistryIssues, stackMerchantsSchema, withAbsoluteRefs } from '../merchants/registry-schema';
import { codecConfigSchema, resolveCodecPaths } from './codec-settings';
import { ConfigError } from './config-error';
import { eventsConfigSchema, resolveEventsPaths } from './events-settings';
import {
  DEFAULT_STACK_CONFIG_PATH,
  describeStackFile,
  resolveSimulatorPaths,
  resolveStackPath,
  resolveWebhookPaths,
  stackConfigFile,
} from './stack-paths';

export { ConfigError, DEFAULT_STACK_CONFIG_PATH };

const searchAttributeType = z.enum(['Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList']);
const port = z.number().int().min(1).max(65535);
const identifier = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, _)');

export const temporalDevServerSchema = z
  .object({
    ip: z.string().min(1).default('127.0.0.1'),
    port: port.default(7233),
    uiPort: port.default(8233),
    namespace: z.string().min(1).default('default'),
    dbFile: z.string().min(1).optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('warn'),
    dynamicConfig: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    searchAttributes: z.record(identifier, searchAttributeType).default({}),
  })
  .strict()
  .refine((t) => t.dynamicConfig['frontend.enableServerVersionCheck'] === false, {
    message: 'must set frontend.enableServerVersionCheck: false (the version check calls out to the internet)',
    path: ['dynamicConfig', 'frontend.enableServerVersionCheck'],
  });

export const workerConfigSchema = z
  .object({
    taskQueue: z.string().min(1).default('wechatpay-refunds'),
    /** Prometheus endpoint for the SDK's metrics; 0 = off. */
    metricsPort: z.number().int().min(0).max(65535).default(9464),
    /**
     * Workflows kept in the worker's memory between tasks (each costs about 0.2–0.3 MB since the schemas are built once
     * per worker, 1.3–1.7 MB before; see BENCHMARKS.md §5). An evicted one is replayed from its history on its next
     * timer or signal. Absent: the SDK's default, sized from the heap limit (about 2,300 with Node's default 4 GB
     * heap).
     */
    maxCachedWorkflows: z.number().int().min(0).optional(),
    wechatpay: z
      .object({
        /** simulator: the embedded WeChat Pay; production: the real API with the merchant file in WECHATPAY_CONFIG. */
        backend: z.enum(['simulator', 'production']).default('simulator'),
        apiVersion: z.enum(['v3', 'v2']).default('v3'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const stackConfigSchema = z
  .object({
    temporal: temporalDevServerSchema,
    worker: workerConfigSchema.prefault({}),
    // Validated by the simulator's own schema, so a typo in any of its keys is named here, at start-up.
    simulator: simulatorConfigSchema.prefault({}),
    webhook: webhookConfigSchema.prefault({}),
    // The HTTP API for order services (src/api); key hashes only, never keys.
    api: apiConfigSchema.prefault({}),
    // Refund events to the order service (docs/events.md); the signing secret by reference only.
    events: eventsConfigSchema.prefault({}),
    // Payload encryption at rest and the codec server (docs/encryption.md); a path to the dev key, never a key.
    codec: codecConfigSchema.prefault({}),
    // The merchants this stack serves (docs/merchants.md); absent: the simulator's one merchant, as before.
    merchants: stackMerchantsSchema.optional(),
    // A production-shaped Temporal cluster on PostgreSQL (npm run stack:cluster, docs/cluster.md); absent: none.
    cluster: clusterConfigSchema.optional(),
  })
  .strict();

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type TemporalDevServerConfig = z.infer<typeof temporalDevServerSchema>;

/**
 * Parses and validates YAML text; errors name the file and the offending key path. `file` is where the text was read
 * from: its relative paths are resolved against that file's folder (text of no file is read as temporal-dev.yml's).
 */
export function parseStackConfig(
  text: string,
  source = 'temporal-dev.yml',
  file = DEFAULT_STACK_CONFIG_PATH,
): StackConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  const parsed = stackConfigSchema.safeParse(raw ?? {});
  // Merchants are named by mchid (`merchants[1900000109].v3.apiV3Key`); other keys read as everywhere else.
  if (!parsed.success) throw new ConfigError(`${source}: ${describeRegistryIssues(parsed.error, raw)}`);
  return withAbsolutePaths(parsed.data, file);
}

function withAbsolutePaths(cfg: StackConfig, file: string): StackConfig {
  const { dbFile } = cfg.temporal;
  return {
    ...cfg,
    temporal: { ...cfg.temporal, ...(dbFile !== undefined ? { dbFile: resolveStackPath(file, dbFile) } : {}) },
    simulator: resolveSimulatorPaths(file, cfg.simulator),
    webhook: resolveWebhookPaths(file, cfg.webhook),
    api: { ...cfg.api, devKeyFile: resolveStackPath(file, cfg.api.devKeyFile) },
    events: resolveEventsPaths((p) => resolveStackPath(file, p), cfg.events),
    codec: resolveCodecPaths((p) => resolveStackPath(file, p), cfg.codec),
    ...(cfg.cluster ? { cluster: { ...cfg.cluster, dataDir: resolveStackPath(file, cfg.cluster.dataDir) } } : {}),
    ...(cfg.merchants
      ? { merchants: cfg.merchants.map((m) => withAbsoluteRefs(m, (p) => resolveStackPath(file, p))) }
      : {}),
  };
}

export function loadStackConfig(file = stackConfigFile()): StackConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read stack config ${file}: ${(e as Error).message}`);
  }
  return parseStackConfig(text, describeStackFile(file), file);
}
