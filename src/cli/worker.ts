/**
 * `npm run worker` (built: `node lib/cli/worker.js`): the refund worker as a process.
 *
 * Settings (src/config/worker-settings.ts): Temporal's env conventions (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*). WeChat Pay: the embedded simulator of the local stack (temporal-dev.yml, or the
 * file named by WXREFUND_STACK_CONFIG) by default; the real API with WECHATPAY_BACKEND=production and
 * WECHATPAY_CONFIG=<merchant file>, which reads no stack file. Other env: WXREFUND_TASK_QUEUE, WXREFUND_METRICS_PORT
 * (0 = off), WXREFUND_MAX_CACHED_WORKFLOWS (workflows kept in memory), WXREFUND_PAYLOAD_KEYS (payload encryption at
 * rest: required in production unless WXREFUND_PAYLOAD_ENCRYPTION=off; the local stack's key file otherwise),
 * WXREFUND_SEAL_KEYS (opens bank details the operator CLI sealed before payload encryption, or while it is off),
 * WXREFUND_WORKFLOW_BUNDLE (a workflow bundle built ahead of time with the failure converter, so a restarted worker is
 * polling again in a second or two instead of re-bundling), WXREFUND_LOG_LEVEL. Refund events to the order service: the stack
 * file's `events:` section, or in production WXREFUND_EVENTS_URL with WXREFUND_EVENTS_SECRET or
 * WXREFUND_EVENTS_SECRET_FILE (and WXREFUND_EVENTS_TIMEOUT_MS); see docs/events.md.
 * SIGINT/SIGTERM: stops polling, lets running activities finish, then exits.
 */
import { workerSettingsFromEnv } from '../config/worker-settings';
import { runWorker } from '../worker';

const formatSpan = (ms: number) =>
  ms >= 86_400_000
    ? `${+(ms / 86_400_000).toFixed(1)} days`
    : ms >= 3_600_000
      ? `${+(ms / 3_600_000).toFixed(1)} h`
      : `${ms / 1_000} s`;

async function main(): Promise<void> {
  const settings = workerSettingsFromEnv();
  const { events } = settings;
  // Where events go is worth a line at start-up (the secret never is): a wrong URL shows here, not days later.
  console.log(
    events
      ? `refund events: POST ${events.url} (signed; retried for up to ${formatSpan(events.retry.giveUpAfterMs)})`
      : 'refund events: off (no events: section enabled, or no WXREFUND_EVENTS_URL)',
  );
  // runWorker hands settings.events to createActivities (src/worker.ts).
  await runWorker(settings);
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
