/**
 * Everything the worker is configured with, read once at start-up from the environment, and in the local stack from
 * the stack file:
 *
 * - production (WECHATPAY_BACKEND=production): the environment only. The merchants from the registry file named by
 *   WXREFUND_MERCHANTS (or the older single-merchant file named by WECHATPAY_CONFIG; docs/merchants.md);
 *   WXREFUND_TASK_QUEUE, WXREFUND_METRICS_PORT, WXREFUND_MAX_CACHED_WORKFLOWS, or their defaults. No stack file is
 *   read: temporal-dev.yml describes the dev stack, not a production deployment.
 * - otherwise (local stack): the `worker:` section of temporal-dev.yml (or WXREFUND_STACK_CONFIG), the same env
 *   variables overriding it, and its `merchants:` section with the simulator's keys.
 *
 * Refund events (events-settings.ts): production from WXREFUND_EVENTS_URL and WXREFUND_EVENTS_SECRET(_FILE); the local
 * stack from the file's `events:` section. Absent or disabled: no events are sent.
 *
 * Payload encryption (program-encryption.ts, docs/encryption.md): WXREFUND_PAYLOAD_KEYS, required in production
 * unless WXREFUND_PAYLOAD_ENCRYPTION=off; the local stack falls back to the stack file's `codec.devKeyFile`.
 *
 * Both: Temporal through its own env conventions (temporal-connection.ts), WXREFUND_SEAL_KEYS (opens bank details
 * sealed by the operator CLI before payload encryption, or while it is off), WXREFUND_WORKFLOW_BUNDLE (a workflow
 * bundle built ahead of time, with the failure converter), WXREFUND_LOG_LEVEL.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LogLevel } from '@temporalio/worker';
import { sealerFromEnv, type Sealer } from '../secrets/seal';
import { ConfigError } from './config-error';
import { eventsSettingsFromEnv, eventsSettingsFromSection, type EventsSettings } from './events-settings';
import { isProduction, programPayloadEncryption, type PayloadEncryption } from './program-encryption';
import { loadStackConfig, workerConfigSchema, type StackConfig } from './stack-config';
import { describeStackFile, stackConfigFile } from './stack-paths';
import { temporalTarget, type TemporalTarget } from './temporal-connection';
import { loadProgramRegistry } from '../merchants/program-registry';
import type { MerchantRegistry } from '../merchants/types';

export interface WorkerSettings {
  taskQueue: string;
  /** Prometheus endpoint of the SDK's metrics on 127.0.0.1; 0 = off. */
  metricsPort: number;
  /** Workflows kept in memory between tasks; undefined: the SDK's default. */
  maxCachedWorkflows?: number;
  logLevel: LogLevel;
  /** A workflow bundle built ahead of time; undefined: bundled from source at start-up. */
  workflowBundlePath?: string;
  temporal: TemporalTarget;
  /** The merchants the worker serves (their gateways are opened on first use), and the file a reload reads. */
  merchants: { backend: 'simulator' | 'production'; registry: MerchantRegistry; watchPath?: string };
  /** Opens sealed bank details; undefined: sealed details are refused. */
  sealer?: Sealer;
  /** The key ring and DataConverter of the worker (payloads encrypted at rest), and its start-up line. */
  payloadEncryption: PayloadEncryption;
  /**
   * Daily reconciliation (docs/reconciliation.md): where reports go (WXREFUND_REPORTS_DIR, default
   * .data/reconciliation beside the stack file, or in the working directory in production), and whether this worker
   * makes sure each merchant's schedule exists (WXREFUND_RECONCILE_SCHEDULES=off: not this one).
   */
  reconciliation: { reportsDir: string; ensureSchedules: boolean; orphanLogPath?: string };
  /** Where refund events go, with the signing secret; undefined: events are off. */
  events?: EventsSettings;
}

export { isProduction };

/** Reads the worker's settings; throws a ConfigError naming the variable or key that is missing or wrong. */
export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const stackFile = stackConfigFile(env);
  const stack = isProduction(env) ? undefined : devStack(stackFile);
  // Production: the defaults of the stack file's `worker:` section; env variables override either, as they always did.
  const worker = stack?.worker ?? workerConfigSchema.parse({});
  const metricsPort = Number(env.WXREFUND_METRICS_PORT ?? worker.metricsPort);
  const cacheEnv = env.WXREFUND_MAX_CACHED_WORKFLOWS;
  const maxCachedWorkflows = cacheEnv === undefined ? worker.maxCachedWorkflows : Number(cacheEnv);
  if (maxCachedWorkflows !== undefined && !(Number.isSafeInteger(maxCachedWorkflows) && maxCachedWorkflows >= 0)) {
    throw new ConfigError(`WXREFUND_MAX_CACHED_WORKFLOWS: must be a whole number ≥ 0, got ${cacheEnv}`);
  }
  // Before the gateway is opened, so that a bad events setting leaves no connection pool behind.
  const events = stack
    ? eventsSettingsFromSection(stack.events, path.dirname(stackFile), env, describeStackFile(stackFile))
    : eventsSettingsFromEnv(env);
  // Before the payload keys, so that a missing merchant registry is named first.
  const { registry, watchPath } = loadProgramRegistry(env);
  const backend = (env.WECHATPAY_BACKEND ?? stack?.worker.wechatpay.backend ?? 'production') as
    'simulator' | 'production';
  const payloadEncryption: PayloadEncryption = programPayloadEncryption(env, stack);
  const sealer: Sealer | undefined = sealerFromEnv(env);
  const schedulesSetting = (env.WXREFUND_RECONCILE_SCHEDULES ?? 'on').trim().toLowerCase();
  if (schedulesSetting !== 'on' && schedulesSetting !== 'off') {
    throw new ConfigError(`WXREFUND_RECONCILE_SCHEDULES: must be on or off, got ${schedulesSetting}`);
  }
  const reportsBase = stack ? path.dirname(path.resolve(stackFile)) : process.cwd();
  const reconciliation = {
    reportsDir: path.resolve(reportsBase, env.WXREFUND_REPORTS_DIR || path.join('.data', 'reconciliation')),
    ensureSchedules: schedulesSetting === 'on',
    // The webhook's orphan records: the stack's webhook.orphanLogPath, or WXREFUND_ORPHAN_LOG where shared.
    orphanLogPath: env.WXREFUND_ORPHAN_LOG
      ? path.resolve(env.WXREFUND_ORPHAN_LOG)
      : stack
        ? path.resolve(reportsBase, stack.webhook.orphanLogPath ?? path.join('.data', 'webhook', 'orphans.jsonl'))
        : undefined,
  };
  return {
    taskQueue: env.WXREFUND_TASK_QUEUE ?? worker.taskQueue,
    reconciliation,
    metricsPort,
    maxCachedWorkflows,
    logLevel: (env.WXREFUND_LOG_LEVEL as LogLevel | undefined) ?? 'INFO',
    workflowBundlePath: env.WXREFUND_WORKFLOW_BUNDLE || undefined,
    temporal: temporalTarget(env),
    merchants: { backend, registry, ...(watchPath ? { watchPath } : {}) },
    sealer,
    payloadEncryption,
    events,
  };
}

/** The local stack's file; when it is missing, the error also says how production runs without one. */
function devStack(file: string): StackConfig {
  if (!existsSync(file)) {
    throw new ConfigError(
      `cannot read stack config ${file}: no such file (the local stack's; a production worker reads none: set ` +
        'WECHATPAY_BACKEND=production and WXREFUND_MERCHANTS=<merchant registry>)',
    );
  }
  return loadStackConfig(file);
}
