/**
 * Issue 9, scenario 6: the webhook keeps receiving WeChat's notifications while Temporal is down for a while.
 *
 * Refunds are accepted by WeChat and stay PROCESSING; their poll schedule is stretched (first query 30 minutes after
 * acceptance) so that within the scenario only a notification can settle them. The Temporal dev server is SIGKILLed,
 * the simulator then settles the refunds (SUCCESS) one after the other over most of the outage, and their
 * notifications hit the webhook, which (outbox disabled) cannot signal and must answer 503 so WeChat keeps them. Temporal stays down for a while, is restarted on the same SQLite file, and
 * WeChat's own retry schedule (§4.6: 15 s, 15 s, 30 s, 3 min, 10 min… here run 15× faster by the simulator's clock)
 * delivers each notification again: every refund completes with its notification, none is lost or orphaned, no query
 * was made, and the money and progress invariants hold.
 */
import type { PollingConfig } from '../../src/domain/schemas';
import { WECHAT_RETRY_SCHEDULE_SECONDS } from '../../src/simulator/config';
import type { SimNotification } from '../../src/simulator/admin-schemas';
import { refundHandle } from '../../src/starter';
import { statusQuery } from '../../src/workflows/definitions';
import { callsSince, statusViews } from './support/call-budget';
import { sized } from './support/profile';
import {
  awaitAll,
  checkMoney,
  checkProgress,
  FAST_POLLING,
  isReceipt,
  plannedRefunds,
  requestAll,
} from './support/refunds';
import { lastReading } from './support/chaos';
import { reportFigures } from './support/report';
import { startReliabilityStack, type ReliabilityStack } from './support/stack';

const REFUNDS = sized(12, 150);
/** How long Temporal stays down after it was killed. */
const OUTAGE_MS = sized(20_000, 150_000);
/** The refunds settle one after the other over this part of the outage. */
const SETTLE_SPREAD_MS = OUTAGE_MS * 0.9;
/** Simulated seconds per real second: WeChat's retries come after 1, 1, 2, 12, 40, 80 … real seconds. */
const TIME_SCALE = 15;
const HOUR_MS = 3_600_000;
/** Queries only 30 minutes after acceptance: within the scenario nothing but a notification can settle a refund. */
const SLOW_POLLING: PollingConfig = {
  ...FAST_POLLING,
  balance: { initialOffsetsMs: [HOUR_MS / 2], thenEveryMs: HOUR_MS / 2, horizon: { calendarDays: 1, businessDays: 0 } },
};
/** Time for WeChat's retries to come round after the restart (the schedule's gaps grow: 40 s, then 80 s real). */
const DRAIN_TIMEOUT_MS = sized(4, 10) * 60_000;

jest.setTimeout(OUTAGE_MS + DRAIN_TIMEOUT_MS + 4 * 60_000);

let stack: ReliabilityStack;

beforeAll(async () => {
  stack = await startReliabilityStack('temporal-outage', {
    simulator: {
      seed: 6_2026,
      timeScale: TIME_SCALE,
      // Balance refunds would settle after 30 simulated seconds; here they stay PROCESSING until forced.
      lifecycle: { balanceDelaySeconds: 30 * 86_400 },
      notifications: { retryScheduleSeconds: WECHAT_RETRY_SCHEDULE_SECONDS },
    },
    // Fail fast while Temporal is away: the 503 goes back well inside WeChat's 5 s.
    // WeChat's own retries carry the notifications here, as with `webhook.outbox.enabled: false`; the outbox's path
    // through an outage (200 at once, relayed after) is test/webhook/temporal-outage.test.ts.
    webhook: { signalTimeoutMs: 1_000, handlerTimeoutMs: 2_000, outbox: { enabled: false } },
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function webhookCounts(): Promise<Record<string, number>> {
  const metric = await stack.webhook.metrics.notifications.get();
  const out: Record<string, number> = {};
  for (const v of metric.values) out[String(v.labels.result)] = (out[String(v.labels.result)] ?? 0) + v.value;
  return out;
}

it('WeChat’s retries deliver every notification once Temporal is back; nothing is lost', async () => {
  const planned = plannedRefunds('S6', REFUNDS);
  const results = await requestAll(stack, planned, { polling: SLOW_POLLING });
  const receipts = results.filter(isReceipt);
  expect(receipts).toHaveLength(planned.length);

  // 1. Every refund accepted by WeChat and PROCESSING in its workflow (the create is behind us).
  await waitFor(
    'every refund PROCESSING',
    async () => {
      for (const receipt of receipts) {
        try {
          const view = await refundHandle(stack.client, receipt).query(statusQuery);
          if (view.state !== 'PROCESSING') return undefined;
        } catch {
          return undefined; // not started by its ledger yet
        }
      }
      return true;
    },
    sized(120_000, 600_000),
  );
  const atWechat = await stack.sim.admin.refunds();
  expect(atWechat.filter((r) => r.status === 'PROCESSING')).toHaveLength(planned.length);
  const callsBefore = await stack.sim.admin.calls();
  const hooksBefore = await webhookCounts();

  // 2. Temporal dies; WeChat settles every refund and notifies the webhook, which must say "retry later".
  await stack.temporal.kill('SIGKILL');
  const downAt = Date.now();
  // WeChat settles them one after the other over most of the outage (on its own clock), so the notifications meet
  // the restart at different points of their retry schedules.
  for (const [i, p] of planned.entries()) {
    const afterSeconds = ((i / planned.length) * SETTLE_SPREAD_MS * TIME_SCALE) / 1000;
    const forced = await stack.sim.admin.forceOutcome(p.outRefundNo, { status: 'SUCCESS', afterSeconds });
    expect(forced.applied).toBe('now');
  }
  const firstRefusals = await waitFor(
    'a first (refused) delivery of every notification',
    async () => {
      const notes = await stack.sim.admin.notifications();
      return notes.length === planned.length && notes.every((n) => n.attempts.length > 0) ? notes : undefined;
    },
    SETTLE_SPREAD_MS + 60_000,
  );
  for (const n of firstRefusals) {
    expect({ no: n.outRefundNo, status: n.attempts[0].statusCode, ok: n.attempts[0].ok }).toEqual({
      no: n.outRefundNo,
      status: 503,
      ok: false,
    });
    // A clean "retry later" inside WeChat's 5 s, not a timeout.
    expect(n.attempts[0].latencyMs).toBeLessThan(5_000);
  }

  // 3. Down "a while": WeChat keeps retrying into the 503s.
  await new Promise((r) => setTimeout(r, Math.max(0, downAt + OUTAGE_MS - Date.now())));
  const workerSurvived = stack.worker.running;
  // The server may take signals a moment before start() sees it ready: judge attempts against the restart's start.
  const restartBegunAt = Date.now();
  await stack.temporal.start();
  const upAt = Date.now();
  const outageMs = upAt - downAt;

  // 4. Back: the next retry of each notification is signalled and the refund completes.
  const outcomes = await awaitAll(stack, receipts, DRAIN_TIMEOUT_MS);
  const drainedAt = Date.now();
  const views = await statusViews(stack.client, receipts);
  const calls = callsSince(await stack.sim.admin.calls(), callsBefore);
  // The webhook counts a notification once its signal call has returned, a moment after the workflow may already have
  // completed on that signal: read its counts once the last of them is in (or after 5 s, and let the checks say).
  const countsSince = async () =>
    Object.fromEntries(Object.entries(await webhookCounts()).map(([k, v]) => [k, v - (hooksBefore[k] ?? 0)]));
  const hooks = await lastReading(countsSince, (h) => (h.accepted ?? 0) >= planned.length, 5_000);
  // Likewise WeChat (the simulator) records a delivery once the webhook's 200 reaches it, which can be after the
  // workflow completed on the signal the webhook sent before answering: read them once all are in (or after 5 s).
  const notifications = await lastReading(
    () => stack.sim.admin.notifications(),
    (all) => all.every((n) => n.state === 'DELIVERED'),
    5_000,
  );

  // The workflows: settled by their notification, no query since acceptance.
  for (const receipt of receipts) {
    const outcome = outcomes.get(receipt.outRefundNo)!;
    const view = views.get(receipt.outRefundNo)!;
    expect({
      no: receipt.outRefundNo,
      state: outcome.state,
      notifications: outcome.notifications,
      settledBy: view.transitions[view.transitions.length - 1].evidence,
      polls: view.polls.length,
      queries: outcome.queries,
    }).toEqual({
      no: receipt.outRefundNo,
      state: 'SUCCESS',
      notifications: 1,
      settledBy: 'notification',
      polls: 0,
      queries: 0,
    });
  }
  // WeChat: no query reached it during or after the outage, so the deliveries, not polls, completed the refunds.
  expect(calls['v3.query']?.total ?? 0).toBe(0);
  expect(calls['v3.create']?.total ?? 0).toBe(0);

  // Each notification: refused with 503 while Temporal was down, delivered once it was back, then never again.
  const byRefund = new Map<string, SimNotification>();
  for (const n of notifications) {
    expect(byRefund.has(n.outRefundNo)).toBe(false); // exactly one notification per refund
    byRefund.set(n.outRefundNo, n);
  }
  expect([...byRefund.keys()].sort()).toEqual(planned.map((p) => p.outRefundNo).sort());
  for (const n of byRefund.values()) {
    const okAttempts = n.attempts.filter((a) => a.ok);
    expect({
      no: n.outRefundNo,
      state: n.state,
      ok: okAttempts.length,
      lastOk: n.attempts[n.attempts.length - 1].ok,
      refusedWhileDown: n.attempts.filter((a) => a.realAt < restartBegunAt).every((a) => a.statusCode === 503 && !a.ok),
      deliveredAfterRestart: okAttempts.every((a) => a.realAt >= restartBegunAt),
    }).toEqual({
      no: n.outRefundNo,
      state: 'DELIVERED',
      ok: 1,
      lastOk: true,
      refusedWhileDown: true,
      deliveredAfterRestart: true,
    });
  }
  const refused = notifications.reduce((s, n) => s + n.attempts.filter((a) => !a.ok).length, 0);
  // The webhook counted each refusal as "Temporal unavailable" and signalled each notification exactly once.
  expect(hooks.temporal_unavailable ?? 0).toBe(refused);
  expect(hooks.accepted ?? 0).toBe(planned.length);
  expect({ orphaned: hooks.orphaned ?? 0, error: hooks.error ?? 0, rejected: hooks.rejected ?? 0 }).toEqual({
    orphaned: 0,
    error: 0,
    rejected: 0,
  });
  expect(stack.webhook.orphans.recent()).toEqual([]);

  // The stack: the worker rode out the outage (it was never restarted).
  expect({ workerSurvived, workerStarts: stack.worker.starts, workerRunning: stack.worker.running }).toEqual({
    workerSurvived: true,
    workerStarts: 1,
    workerRunning: true,
  });

  const money = await checkMoney(stack, planned);
  expect(money.problems).toEqual([]);
  const progress = await checkProgress(stack, receipts);
  expect(progress.problems).toEqual([]);

  const attemptsPerNotification: Record<string, number> = {};
  for (const n of notifications) {
    attemptsPerNotification[n.attempts.length] = (attemptsPerNotification[n.attempts.length] ?? 0) + 1;
  }
  const deliveredAt = notifications.map((n) => n.attempts.find((a) => a.ok)!.realAt);
  reportFigures('6-temporal-outage', {
    refunds: planned.length,
    outcomes: { SUCCESS: [...outcomes.values()].filter((o) => o.state === 'SUCCESS').length },
    temporalKill: 'SIGKILL',
    outageSeconds: round1(outageMs / 1000),
    restartSeconds: round1((upAt - restartBegunAt) / 1000),
    settledDuringOutageOverSeconds: SETTLE_SPREAD_MS / 1000,
    retryScheduleRealSeconds: WECHAT_RETRY_SCHEDULE_SECONDS.slice(0, 6).map((s) => s / TIME_SCALE),
    deliveryAttempts: notifications.reduce((s, n) => s + n.attempts.length, 0),
    answered503: refused,
    attemptsPerNotification,
    firstDeliveryAfterRestartSeconds: round1((Math.min(...deliveredAt) - upAt) / 1000),
    lastDeliveryAfterRestartSeconds: round1((Math.max(...deliveredAt) - upAt) / 1000),
    timeToDrainAfterRecoverySeconds: round1((drainedAt - upAt) / 1000),
    webhook: hooks,
    apiCallsDuringAndAfterOutage: Object.fromEntries(Object.entries(calls).map(([e, c]) => [e, c.total])),
    notificationsLost: planned.length - [...byRefund.values()].filter((n) => n.state === 'DELIVERED').length,
    orphans: stack.webhook.orphans.recent().length,
    workerRestarts: stack.worker.starts - 1,
    invariantReportOk: money.report.ok,
  });
});

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
