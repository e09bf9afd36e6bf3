/**
 * The refund worker: runs the refund and order-ledger workflows and their activities. A library: the program that
 * reads the settings and calls `runWorker` is src/cli/worker.ts (`npm run worker`); the settings are described in
 * src/config/worker-settings.ts.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from './activities';
import { TemporalUnreachableError } from './config/temporal-connection';
import type { WorkerSettings } from './config/worker-settings';

export type { WorkerSettings };

export const WORKFLOWS_PATH = require.resolve('./workflows');

/**
 * Runs the worker until SIGINT/SIGTERM, then lets running activities finish and resolves. Installs the SDK's runtime
 * (logger, metrics), which a process does once: one worker per process. Closes the settings' gateway at the end.
 */
export async function runWorker(settings: WorkerSettings): Promise<void> {
  const { taskQueue, metricsPort, maxCachedWorkflows, wechatpay: selection, sealer, temporal: target } = settings;
  Runtime.install({
    logger: new DefaultLogger(settings.logLevel),
    telemetryOptions: metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } : {},
  });
  const log = Runtime.instance().logger;

  log.info(
    `WeChat Pay: ${selection.backend} ${selection.apiVersion} at ${selection.baseUrl} as merchant ${selection.mchid}`,
  );
  log.info(
    sealer
      ? `bank details: sealed, key ${sealer.currentKeyId}`
      : 'bank details: no WXREFUND_SEAL_KEYS, sealed details are refused',
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
      // Bundled at start-up from source so `npm run worker` needs no build step, unless a prebuilt bundle is named.
      workflowBundle: settings.workflowBundlePath
        ? { code: readFileSync(settings.workflowBundlePath, 'utf8') }
        : await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: log }),
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
