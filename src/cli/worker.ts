/**
 * `npm run worker` (built: `node lib/cli/worker.js`): the refund worker as a process.
 *
 * Settings (src/config/worker-settings.ts): Temporal's env conventions (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*). WeChat Pay: the embedded simulator of the local stack (temporal-dev.yml, or the
 * file named by WXREFUND_STACK_CONFIG) by default; the real API with WECHATPAY_BACKEND=production and
 * WECHATPAY_CONFIG=<merchant file>, which reads no stack file. Other env: WXREFUND_TASK_QUEUE, WXREFUND_METRICS_PORT
 * (0 = off), WXREFUND_MAX_CACHED_WORKFLOWS (workflows kept in memory), WXREFUND_SEAL_KEYS (opens bank details sealed by
 * the operator CLI), WXREFUND_WORKFLOW_BUNDLE (a workflow bundle built ahead of time, so a restarted worker is polling
 * again in a second or two instead of re-bundling), WXREFUND_LOG_LEVEL.
 * SIGINT/SIGTERM: stops polling, lets running activities finish, then exits.
 */
import { workerSettingsFromEnv } from '../config/worker-settings';
import { runWorker } from '../worker';

async function main(): Promise<void> {
  await runWorker(workerSettingsFromEnv());
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
