/**
 * The refund worker: runs the refund and order-ledger workflows and their activities. A library: the program that
 * reads the settings and calls `runWorker` is src/cli/worker.ts (`npm run worker`); the settings are described in
 * src/config/worker-settings.ts.
 *
 * Payloads are encrypted at rest (docs/encryption.md): the Worker gets the settings' DataConverter, and the workflow
 * bundle its failure converter (the sandbox loads converters by path from its bundle), else failures thrown by
 * workflow code would reach the history with their messages in clear.
 *
 * It also makes sure each merchant's daily reconciliation schedule exists (docs/reconciliation.md) and gives the
 * reconciliation activity a client of its own for visibility.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type Logger } from '@temporalio/worker';
import { createActivities } from './activities';
import { eventsTargetOf } from './config/merchant-events';
import { createMerchantGateways } from './merchants/gateway-pool';
import { MerchantQueueWorkers } from './merchants/merchant-queue-workers';
import { watchRegistry } from './merchants/registry-watch';
import { ensureReconciliationSchedules, reconciledMerchants } from './reconciliation/schedules';
import type { MerchantRegistry } from './merchants/types';
import { isEncryptionWarning } from './codec/process-encryption';
import { ConfigError } from './config/config-error';
import { TemporalUnreachableError } from './config/temporal-connection';
import type { WorkerSettings } from './config/worker-settings';
import { bundleWorkflows } from './workflow-bundle';

export type { WorkerSettings };

export { WORKFLOWS_PATH } from './workflow-bundle';

/** What webpack writes into a bundle built without `failureConverterPath` (the SDK's stand-in module is ignored). */
const NO_CUSTOM_FAILURE_CONVERTER = '__temporal_custom_failure_converter (ignored)';

/**
 * A bundle built ahead of time (WXREFUND_WORKFLOW_BUNDLE). The SDK cannot tell whether it carries the failure
 * converter the worker's DataConverter names, and a bundle without it would store workflow failures' messages in
 * clear without a word: refused instead, saying how to build it.
 */
export function prebuiltWorkflowBundle(file: string, failureConverterPath: string | undefined): { code: string } {
  const code = readFileSync(file, 'utf8');
  if (failureConverterPath && code.includes(NO_CUSTOM_FAILURE_CONVERTER)) {
    throw new ConfigError(
      `WXREFUND_WORKFLOW_BUNDLE: ${file} was bundled without the failure converter, so failure messages of workflow ` +
        'code would be stored in clear: build it with bundleWorkflows({ failureConverterPath: FAILURE_CONVERTER_PATH }) ' +
        '(src/workflow-bundle.ts, src/codec/data-converter.ts), or unset the variable to bundle at start-up',
    );
  }
  return { code };
}

/**
 * Runs the worker until SIGINT/SIGTERM, then lets running activities finish and resolves. Installs the SDK's runtime
 * (logger, metrics), which a process does once: one worker per process.
 *
 * One process serves every merchant of the registry (docs/merchants.md): the workflow worker on the main task queue,
 * and per merchant two activity-only workers on its budgeted queues, `<queue>.wechat.<mchid>.create|query`, whose
 * `maxTaskQueueActivitiesPerSecond` comes from the merchant's budget (merchant-queue-workers.ts): the server holds the
 * rate across every worker process.
 * A reload of the registry file (edit it, or SIGHUP) starts and stops those workers and swaps changed credentials
 * without dropping in-flight work.
 */
export async function runWorker(settings: WorkerSettings): Promise<void> {
  const { taskQueue, metricsPort, maxCachedWorkflows, merchants, sealer, temporal: target } = settings;
  const { dataConverter, description } = settings.payloadEncryption;
  Runtime.install({
    logger: new DefaultLogger(settings.logLevel),
    telemetryOptions: metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } : {},
  });
  const log = Runtime.instance().logger;

  log.info(`WeChat Pay: ${merchants.backend}, merchants from ${merchants.registry.source}`);
  for (const line of describeMerchants(merchants.registry)) log.info(line);
  if (isEncryptionWarning(description)) log.warn(description);
  else log.info(description);
  log.info(
    sealer
      ? `sealed bank details (from before payload encryption, or with it off): opened with WXREFUND_SEAL_KEYS, ` +
          `key ${sealer.currentKeyId} and any older`
      : 'sealed bank details: no WXREFUND_SEAL_KEYS, refused',
  );

  log.info(`connecting to Temporal at ${target.connectionOptions.address} (namespace ${target.namespace})`);
  const connection = await NativeConnection.connect(target.connectionOptions).catch((e: unknown) => {
    throw new TemporalUnreachableError(target.connectionOptions.address ?? '127.0.0.1:7233', target.namespace, e);
  });
  const gateways = createMerchantGateways(merchants.registry, { log });
  // Visibility (the reconciliation's view of the engine's refunds) and the schedules need a client of their own.
  const clientConnection = await Connection.connect(target.connectionOptions as ConnectionOptions);
  const client = new Client({ connection: clientConnection, namespace: target.namespace, dataConverter });
  const activities = createActivities({
    gateways,
    merchantQueues: true,
    reconciliation: {
      client,
      reportsDir: settings.reconciliation.reportsDir,
      orphanLogPath: settings.reconciliation.orphanLogPath,
      isDefault: (mchid) => gateways.registry().defaultMchid === mchid,
    },
    unseal: sealer?.unseal,
    events: settings.events,
    eventsFor: (mchid) => eventsTargetOf(gateways.registry(), mchid, settings.events),
  });
  let w: Worker | undefined;
  let fatal: unknown;
  const budgeted = new MerchantQueueWorkers({
    connection,
    namespace: target.namespace,
    taskQueue,
    dataConverter,
    activities,
    log,
    onFatal: (err) => {
      fatal ??= err;
      if (w?.getState() === 'RUNNING') w.shutdown();
    },
  });
  let watch: { close(): void } | undefined;
  try {
    w = await Worker.create({
      connection,
      namespace: target.namespace,
      taskQueue,
      dataConverter,
      // Bundled at start-up from source so `npm run worker` needs no build step, unless a prebuilt bundle is named.
      workflowBundle: settings.workflowBundlePath
        ? prebuiltWorkflowBundle(settings.workflowBundlePath, dataConverter.failureConverterPath)
        : await bundleWorkflows({ failureConverterPath: dataConverter.failureConverterPath, logger: log }),
      activities,
      ...(maxCachedWorkflows !== undefined ? { maxCachedWorkflows } : {}),
    });
    await budgeted.serve(merchants.registry.list());
    if (settings.reconciliation.ensureSchedules) await ensureSchedules(client, merchants.registry, taskQueue, log);
    gateways.onChange((change, registry) => {
      log.info(
        `merchant registry reloaded: added [${change.added.join(', ')}], removed [${change.removed.join(', ')}], ` +
          `changed [${change.changed.join(', ')}]`,
      );
      budgeted.serve(registry.list()).catch((err: unknown) => log.error(`merchant queues: ${String(err)}`));
      if (settings.reconciliation.ensureSchedules) void ensureSchedules(client, registry, taskQueue, log);
    });
    if (merchants.watchPath) {
      watch = watchRegistry(merchants.watchPath, {
        onReload: (next) => gateways.replaceRegistry(next),
        onError: (err) => log.error(`merchant registry ${merchants.watchPath} not reloaded: ${err.message}`),
      });
    }
    log.info(
      `worker polling task queue ${taskQueue} and ${budgeted.size} budgeted merchant queues` +
        (metricsPort ? `; SDK metrics on http://127.0.0.1:${metricsPort}/metrics` : ''),
    );
    await w.run(); // resolves after SIGINT/SIGTERM once in-flight work is done
    if (fatal) throw fatal;
    log.info('worker stopped');
  } finally {
    watch?.close();
    await budgeted.stop();
    await gateways.close();
    await clientConnection.close();
    await connection.close();
  }
}

/** Each merchant's daily reconciliation schedule (src/reconciliation/schedules.ts); a failure is logged, not fatal. */
async function ensureSchedules(client: Client, registry: MerchantRegistry, taskQueue: string, log: Logger) {
  try {
    const ids = await ensureReconciliationSchedules(client, reconciledMerchants(registry.list()), { taskQueue });
    log.info(`reconciliation schedules (daily 10:30 Beijing time): ${ids.join(', ')}`);
  } catch (err) {
    log.error(`could not create or update the reconciliation schedules: ${String(err)}`);
  }
}

function describeMerchants(registry: MerchantRegistry): string[] {
  return registry
    .list()
    .map(
      (m) =>
        `merchant ${m.mchid}${m.isDefault ? ' (default)' : ''}: ${m.apiVersion} ${m.mode}` +
        (m.subMchids ? ` for ${m.subMchids.length} sub-merchants` : '') +
        `, budget ${m.budget.createsPerSecond} creates/s and ${m.budget.queriesPerSecond} queries/s`,
    );
}
