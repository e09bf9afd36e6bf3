/**
 * The refund worker: runs the refund and order-ledger workflows and their activities. A library: the program that
 * reads the settings and calls `runWorker` is src/cli/worker.ts (`npm run worker`); the settings are described in
 * src/config/worker-settings.ts.
 *
 * Payloads are encrypted at rest (docs/encryption.md): the Worker gets the settings' DataConverter, and the workflow
 * bundle its failure converter (the sandbox loads converters by path from its bundle), else failures thrown by
 * workflow code would reach the history with their messages in clear.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from './activities';
import { isEncryptionWarning } from './codec/process-encryption';
import { ConfigError } from './config/config-error';
import { TemporalUnreachableError } from './config/temporal-connection';
import type { WorkerSettings } from './config/worker-settings';

export type { WorkerSettings };

export const WORKFLOWS_PATH = require.resolve('./workflows');

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
        'code would be stored in clear: build it with bundleWorkflowCode({ workflowsPath, failureConverterPath: ' +
        'FAILURE_CONVERTER_PATH }) (src/codec/data-converter.ts), or unset the variable to bundle at start-up',
    );
  }
  return { code };
}

/**
 * Runs the worker until SIGINT/SIGTERM, then lets running activities finish and resolves. Installs the SDK's runtime
 * (logger, metrics), which a process does once: one worker per process. Closes the settings' gateway at the end.
 */
export async function runWorker(settings: WorkerSettings): Promise<void> {
  const { taskQueue, metricsPort, maxCachedWorkflows, wechatpay: selection, sealer, temporal: target } = settings;
  const { dataConverter, description } = settings.payloadEncryption;
  Runtime.install({
    logger: new DefaultLogger(settings.logLevel),
    telemetryOptions: metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } : {},
  });
  const log = Runtime.instance().logger;

  log.info(
    `WeChat Pay: ${selection.backend} ${selection.apiVersion} at ${selection.baseUrl} as merchant ${selection.mchid}`,
  );
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
  try {
    const w = await Worker.create({
      connection,
      namespace: target.namespace,
      taskQueue,
      dataConverter,
      // Bundled at start-up from source so `npm run worker` needs no build step, unless a prebuilt bundle is named.
      workflowBundle: settings.workflowBundlePath
        ? prebuiltWorkflowBundle(settings.workflowBundlePath, dataConverter.failureConverterPath)
        : await bundleWorkflowCode({
            workflowsPath: WORKFLOWS_PATH,
            failureConverterPath: dataConverter.failureConverterPath,
            logger: log,
          }),
      activities: createActivities({ gateway: selection.gateway, unseal: sealer?.unseal, events: settings.events }),
      ...(maxCachedWorkflows !== undefined ? { maxCachedWorkflows } : {}),
    });
    log.info(
      `worker polling task queue ${taskQueue}` +
        (metricsPort ? `; SDK metrics on http://127.0.0.1:${metricsPort}/metrics` : ''),
    );
    await w.run(); // resolves after SIGINT/SIGTERM once in-flight work is done
    log.info('worker stopped');
  } finally {
    await selection.gateway.close?.();
    await connection.close();
  }
}
