/**
 * The refund worker: runs the refund and order-ledger workflows and their activities.
 *
 * Temporal connection: Temporal's env conventions (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*; see src/config/temporal-connection.ts). WeChat Pay: the embedded simulator by default, the real API
 * with WECHATPAY_BACKEND=production and WECHATPAY_CONFIG=<merchant file> (src/config/wechatpay-config.ts).
 * Other env: WXREFUND_TASK_QUEUE, WXREFUND_METRICS_PORT (0 = off), WXREFUND_MAX_CACHED_WORKFLOWS (workflows kept in
 * memory), WXREFUND_STACK_CONFIG, WXREFUND_SEAL_KEYS (opens bank details sealed by the operator CLI),
 * WXREFUND_WORKFLOW_BUNDLE (a workflow bundle built ahead of time, so a restarted worker is polling again in a second
 * or two instead of re-bundling).
 * SIGINT/SIGTERM: stops polling, lets running activities finish, then exits.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from './activities';
import { loadStackConfig } from './config/stack-config';
import { temporalTarget, TemporalUnreachableError } from './config/temporal-connection';
import { createGatewayFromConfig } from './config/wechatpay-config';
import { sealerFromEnv } from './secrets/seal';

export const WORKFLOWS_PATH = require.resolve('./workflows');

async function main(): Promise<void> {
  const stack = loadStackConfig();
  const taskQueue = process.env.WXREFUND_TASK_QUEUE ?? stack.worker.taskQueue;
  const metricsPort = Number(process.env.WXREFUND_METRICS_PORT ?? stack.worker.metricsPort);
  const cacheEnv = process.env.WXREFUND_MAX_CACHED_WORKFLOWS;
  const maxCachedWorkflows = cacheEnv === undefined ? stack.worker.maxCachedWorkflows : Number(cacheEnv);
  if (maxCachedWorkflows !== undefined && !(Number.isSafeInteger(maxCachedWorkflows) && maxCachedWorkflows >= 0)) {
    throw new Error(`WXREFUND_MAX_CACHED_WORKFLOWS: must be a whole number ≥ 0, got ${cacheEnv}`);
  }

  Runtime.install({
    logger: new DefaultLogger((process.env.WXREFUND_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO'),
    telemetryOptions: metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } : {},
  });
  const log = Runtime.instance().logger;

  const selection = createGatewayFromConfig(stack);
  log.info(
    `WeChat Pay: ${selection.backend} ${selection.apiVersion} at ${selection.baseUrl} as merchant ${selection.mchid}`,
  );

  const sealer = sealerFromEnv();
  log.info(
    sealer
      ? `bank details: sealed, key ${sealer.currentKeyId}`
      : 'bank details: no WXREFUND_SEAL_KEYS, sealed details are refused',
  );

  const target = temporalTarget();
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
      workflowBundle: process.env.WXREFUND_WORKFLOW_BUNDLE
        ? { code: readFileSync(process.env.WXREFUND_WORKFLOW_BUNDLE, 'utf8') }
        : await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: log }),
      activities: createActivities({ gateway: selection.gateway, unseal: sealer?.unseal }),
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

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
