/**
 * Issue 9, scenario 2: the Temporal dev server is SIGKILLed while refunds are in flight (history in its SQLite file),
 * stays down for seconds, and is started again on the same port and file.
 *
 * At the kill, refunds are (proven from the simulator and the histories, not assumed) in each of three phases:
 *  - submitting — SLOW create: WeChat stored the refund, the reply is held, so the activity is still running;
 *  - polling    — notification DROPped, accepted and PROCESSING: only queries can finish it;
 *  - waiting    — accepted and PROCESSING, notification not dropped (and polled as well): a notification falling due
 *                 during the outage is answered 503 by the webhook and retried by the simulator on WeChat's schedule
 *                 (15 s, 15 s, 30 s…); the outage lasts until at least one was turned away.
 * The worker and the webhook are left alone: they must come back by themselves (the worker is only restarted if it
 * does not, the figures say so, and the test then fails). Histories read before the kill must still be there,
 * unchanged, afterwards. A create held across the kill may end either way: the SDK delivers its completion once the
 * server is back, or gives up, the activity times out (30 s) and the resend adopts the refund or its notification
 * finishes it; never a second accepted create.
 *
 * End: every refund SUCCESS, exactly one accepted create per refund, money and progress checks clean, and every
 * notification that met the outage delivered later.
 */
import { request } from 'undici';
import { orderWorkflowId } from '../../src/domain/ids';
import { refundHandle, type RefundReceipt } from '../../src/starter';
import { statusQuery } from '../../src/workflows/definitions';
import {
  activityPicture,
  chaosSeed,
  eventKey,
  Rng,
  sleep,
  stats,
  waitFor,
  type ActivityPicture,
} from './support/chaos';
import { sized } from './support/profile';
import {
  awaitAll,
  checkMoney,
  checkProgress,
  isReceipt,
  plannedRefunds,
  requestAll,
  type PlannedRefund,
} from './support/refunds';
import { reportFigures } from './support/report';
import { MCHID, startReliabilityStack, type ReliabilityStack } from './support/stack';

const SEED = chaosSeed(9_2_2026);
const REFUNDS = sized(30, 300);
/** How long the server stays down (ms), drawn from the seed in this range. */
const OUTAGE_MS = sized([10_000, 14_000], [30_000, 60_000]);
/** Balance refunds settle this long after acceptance (real time): inside the outage. */
const SETTLE_SECONDS = sized(15, 60);
/** SLOW holds the create reply after the refund is stored; below the client's 10 s header timeout. */
const SLOW_MS = 9_000;
/** How long the worker gets to resume by itself once the server is back, before the test restarts it. */
const WORKER_GRACE_MS = 90_000;

jest.setTimeout(sized(8, 30) * 60_000);

type Role = 'plain' | 'slow' | 'drop';
type Phase = 'submitting' | 'polling' | 'waiting';

let stack: ReliabilityStack;

beforeAll(async () => {
  stack = await startReliabilityStack('server-restart', {
    simulator: { seed: SEED, timeScale: 1, lifecycle: { balanceDelaySeconds: SETTLE_SECONDS } },
    // Answer a notification quickly while Temporal is away (WeChat's deadline is 5 s either way).
    // Outbox disabled: the notifications of the outage go back to WeChat's retries, the path this scenario proves.
    webhook: { signalTimeoutMs: 1_500, handlerTimeoutMs: 3_000, healthTimeoutMs: 500, outbox: { enabled: false } },
  });
});

afterAll(async () => {
  await stack?.close();
});

async function webhookHealth(): Promise<number> {
  const res = await request(`${stack.webhookUrl}/healthz`);
  await res.body.dump();
  return res.statusCode;
}

/** Runs `fn` over `items` with at most `width` at once. */
async function inLanes<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

it('SIGKILLed dev server restarted mid-flight on the same SQLite file: histories survive, every refund completes', async () => {
  const began = Date.now();
  const rng = new Rng(SEED);
  console.log(`[reliability] server-restart: seed ${SEED} (replay with RELIABILITY_SEED=${SEED})`);

  const planned = plannedRefunds('sr', REFUNDS, { amountFen: 2_000, paidTotalFen: 8_000 });
  const role = new Map<string, Role>();
  rng.shuffle(planned.map((p) => p.outRefundNo)).forEach((no, i) => {
    const forced: Role[] = ['slow', 'slow', 'drop', 'drop', 'plain', 'plain'];
    role.set(no, i < forced.length ? forced[i] : rng.pick(['plain', 'plain', 'slow', 'drop', 'drop']));
  });
  const withRole = (r: Role) => planned.filter((p) => role.get(p.outRefundNo) === r);
  for (const p of withRole('slow')) {
    await stack.sim.admin.addFault({
      endpoint: 'v3.create',
      kind: 'SLOW',
      delayMs: SLOW_MS,
      outRefundNo: p.outRefundNo,
      times: 1,
    });
  }
  for (const p of withRole('drop'))
    await stack.sim.admin.addNotificationFault({ kind: 'DROP', outRefundNo: p.outRefundNo });

  // 1. The refunds that will be polling or waiting for their notification: accepted at WeChat, PROCESSING.
  const receipts: RefundReceipt[] = [];
  const first: PlannedRefund[] = rng.shuffle([...withRole('plain'), ...withRole('drop')]);
  const firstResults = await requestAll(stack, first, { concurrency: 10 });
  expect(firstResults.filter((r) => !isReceipt(r))).toEqual([]);
  receipts.push(...firstResults.filter(isReceipt));
  await waitFor(
    'every first refund accepted at WeChat',
    async () => ((await stack.sim.admin.refunds({ owner: MCHID })).length >= first.length ? true : undefined),
    60_000,
  );

  // 2. Histories as they are before the kill (refunds and their orders' ledgers), read from the server.
  const before = new Map<string, ActivityPicture>();
  const snapshot = async (refunds: RefundReceipt[]) => {
    const ids = [...refunds.map((r) => r.refundWorkflowId), ...refunds.map((r) => orderWorkflowId(r.outTradeNo))];
    await inLanes(ids, 8, async (id) => {
      before.set(id, await activityPicture(stack.client, id));
    });
  };
  await snapshot(receipts);

  // 3. The submitting ones: requested last, their creates held by WeChat; a few of their histories read as well
  // (quickly: the held replies must still be held when the server dies).
  const slow = withRole('slow');
  const slowResults = await requestAll(stack, slow, { concurrency: 10 });
  expect(slowResults.filter((r) => !isReceipt(r))).toEqual([]);
  const slowReceipts = slowResults.filter(isReceipt);
  receipts.push(...slowReceipts);
  const slowNos = new Set(slow.map((p) => p.outRefundNo));
  await waitFor(
    'a held create',
    async () => ((await stack.sim.admin.faultHits()).some((h) => slowNos.has(h.outRefundNo ?? '')) ? true : undefined),
    30_000,
    200,
  );
  await snapshot(slowReceipts.slice(0, 5));
  const workflowIds = [...before.keys()];

  // 4. Kill the server at a seeded moment while the held creates are still held.
  const jitterMs = rng.int(0, 1_500);
  await sleep(jitterMs);
  const killAtMs = Date.now() - began;
  await stack.temporal.kill('SIGKILL');
  const killedAt = Date.now();

  const [atKill, hits] = await Promise.all([stack.sim.admin.refunds({ owner: MCHID }), stack.sim.admin.faultHits()]);
  const statusAtKill = new Map(atKill.map((r) => [r.outRefundNo, r.status]));
  const caught: Record<Phase, string[]> = { submitting: [], polling: [], waiting: [] };
  for (const h of hits) {
    if (h.kind === 'SLOW' && Date.parse(h.at) + SLOW_MS > killedAt + 250) caught.submitting.push(h.outRefundNo!);
  }
  for (const p of first) {
    const submitted = before.get(receipts.find((r) => r.outRefundNo === p.outRefundNo)!.refundWorkflowId)!;
    if (!submitted.completed.has('submitRefund') || statusAtKill.get(p.outRefundNo) !== 'PROCESSING') continue;
    caught[role.get(p.outRefundNo) === 'drop' ? 'polling' : 'waiting'].push(p.outRefundNo);
  }
  console.log(
    `[reliability] server-restart: killed at +${killAtMs} ms (jitter ${jitterMs} ms): ` +
      `submitting ${caught.submitting.length}, polling ${caught.polling.length}, waiting ${caught.waiting.length}`,
  );
  for (const phase of Object.keys(caught) as Phase[]) {
    expect({ phase, caught: caught[phase].length > 0 }).toEqual({ phase, caught: true });
  }

  // 5. The outage: the webhook reports Temporal unreachable and turns notifications away with 503.
  // It lasts the seeded time, and in any case until WeChat has met the outage with a notification (at most 45 s).
  const outageMs = rng.int(OUTAGE_MS[0], OUTAGE_MS[1]);
  const healthDuringOutage: number[] = [];
  const turnedAwayYet = async () =>
    (await stack.sim.admin.notifications({ owner: MCHID })).some((n) => n.attempts.some((a) => a.statusCode === 503));
  while (Date.now() - killedAt < outageMs || (Date.now() - killedAt < 45_000 && !(await turnedAwayYet()))) {
    healthDuringOutage.push(await webhookHealth());
    await sleep(1_000);
  }
  expect(healthDuringOutage.length).toBeGreaterThan(0);
  expect(healthDuringOutage.every((s) => s === 503)).toBe(true);
  expect(stack.worker.running).toBe(true); // the worker rides the outage out (it does not crash)

  // 6. Back on the same port and file. The webhook is watched from the first moment (it reconnects by itself).
  const restartBegan = Date.now();
  let webhookHealthyAt: number | undefined;
  const watchingWebhook = (async () => {
    while (webhookHealthyAt === undefined && Date.now() - restartBegan < 120_000) {
      if ((await webhookHealth().catch(() => 0)) === 200) webhookHealthyAt = Date.now();
      else await sleep(250);
    }
  })();
  await stack.temporal.start();
  const serverBackAt = Date.now();
  const serverStartMs = serverBackAt - restartBegan;
  const downMs = serverBackAt - killedAt;

  // Histories survived: every event read before the kill is still there, in place.
  const lostHistory: string[] = [];
  let eventsBefore = 0;
  await inLanes(workflowIds, 8, async (id) => {
    const earlier = before.get(id)!.events.map(eventKey);
    eventsBefore += earlier.length;
    const now = (await waitFor(`history of ${id}`, () => activityPicture(stack.client, id), 60_000)).events.map(
      eventKey,
    );
    const mismatch = earlier.findIndex((k, i) => now[i] !== k);
    if (now.length < earlier.length || mismatch >= 0) {
      lostHistory.push(`${id}: ${earlier.length} events before, ${now.length} after, first difference at ${mismatch}`);
    }
  });
  expect(lostHistory).toEqual([]);

  // Did the worker resume by itself? Evidence: a workflow task it completed after the kill (so against the new
  // server process), read from the histories.
  const workerStartsBefore = stack.worker.starts;
  const firstTaskAfterKill = async (id: string): Promise<number | undefined> => {
    const { events } = await activityPicture(stack.client, id);
    for (const e of events) {
      const at = e.eventTime ? Number(e.eventTime.seconds) * 1_000 + (e.eventTime.nanos ?? 0) / 1e6 : 0;
      if (e.workflowTaskCompletedEventAttributes && at > killedAt) return at;
    }
    return undefined;
  };
  const resumedAt = await waitFor(
    'a workflow task completed after the restart',
    async () => {
      const found = (await inLanes(workflowIds, 8, firstTaskAfterKill)).filter((t) => t !== undefined);
      return found.length > 0 ? Math.min(...found) : undefined;
    },
    WORKER_GRACE_MS,
    1_000,
  ).catch(() => undefined);
  const workerSelfRecovered = resumedAt !== undefined && stack.worker.running;
  if (!workerSelfRecovered) {
    console.log('[reliability] server-restart: the worker did NOT resume by itself; restarting it');
    await stack.worker.restart();
  }
  await watchingWebhook;
  expect(webhookHealthyAt).toBeDefined();

  // 7. Everything completes.
  const outcomes = await awaitAll(stack, receipts, sized(180_000, 900_000));
  const notSuccess = [...outcomes.values()]
    .filter((o) => o.state !== 'SUCCESS')
    .map((o) => `${o.outRefundNo}:${o.state}`);
  expect(notSuccess).toEqual([]);
  expect(outcomes.size).toBe(REFUNDS);

  const money = await checkMoney(stack, planned);
  expect(money.problems).toEqual([]);
  expect(money.ok).toBe(true);
  const progress = await checkProgress(stack, receipts);
  expect(progress.problems).toEqual([]);
  expect(progress.ok).toBe(true);

  const atWechat = await stack.sim.admin.refunds({ owner: MCHID });
  const perNumber = new Map<string, number>();
  for (const r of atWechat) perNumber.set(r.outRefundNo, (perNumber.get(r.outRefundNo) ?? 0) + 1);
  expect(planned.filter((p) => perNumber.get(p.outRefundNo) !== 1).map((p) => p.outRefundNo)).toEqual([]);
  expect(atWechat.filter((r) => r.status !== 'SUCCESS' || r.payouts !== 1).map((r) => r.outRefundNo)).toEqual([]);
  const calls = await stack.sim.admin.calls();
  const create = calls['v3.create'] ?? { total: 0, byStatus: {}, byCode: {} };
  // One accepted create per refund: a held create whose reply was lost with the server is adopted, not resent.
  expect(create.byStatus['200'] ?? 0).toBe(REFUNDS);
  // Anything else must have stored nothing: at most WeChat's 429 for a burst of failing calls (F22).
  const unexpected = Object.keys(create.byStatus).filter((status) => status !== '200' && status !== '429');
  expect({ unexpected, byStatus: create.byStatus, byCode: create.byCode }).toMatchObject({ unexpected: [] });

  // The creates held across the kill: either the worker's completion got through once the server was back (the SDK
  // retries it), or it was lost and the activity timed out; then the resend's query adopted the refund, or its
  // notification finished it first. Never a second accepted create.
  const heldOutcome = { replyDeliveredAfterRestart: 0, timedOutThenAdopted: 0, timedOutThenNotified: 0 };
  const heldProblems: string[] = [];
  for (const no of caught.submitting) {
    const receipt = receipts.find((r) => r.outRefundNo === no)!;
    const view = await refundHandle(stack.client, receipt).query(statusQuery);
    const results = view.submitAttempts.map((a) => (a.result === 'FAILED' ? `FAILED:${a.error?.code}` : a.result));
    const final = view.transitions[view.transitions.length - 1];
    const timedOut = results[0] === 'FAILED:ACTIVITY_TIMEOUT' && !results.includes('ACCEPTED');
    if (results.length === 1 && results[0] === 'ACCEPTED') heldOutcome.replyDeliveredAfterRestart += 1;
    else if (timedOut && results[results.length - 1] === 'ADOPTED') heldOutcome.timedOutThenAdopted += 1;
    else if (timedOut && final?.evidence === 'notification') heldOutcome.timedOutThenNotified += 1;
    else heldProblems.push(`${no}: ${results.join(' → ')}; ends ${JSON.stringify(final)}`);
  }
  expect(heldProblems).toEqual([]);

  // Notifications turned away during the outage were delivered later, on WeChat's retry schedule.
  const turnedAway = (await stack.sim.admin.notifications({ owner: MCHID })).filter((n) =>
    n.attempts.some((a) => a.statusCode === 503),
  );
  expect(turnedAway.length).toBeGreaterThan(0);
  const delivered = await waitFor(
    'every turned-away notification delivered',
    async () => {
      const now = await stack.sim.admin.notifications({ owner: MCHID });
      const pending = turnedAway.filter((t) => now.find((n) => n.id === t.id)?.state !== 'DELIVERED');
      return pending.length === 0 ? now.filter((n) => turnedAway.some((t) => t.id === n.id)) : undefined;
    },
    120_000,
    1_000,
  );
  const redeliveryMs = delivered.map((n) => {
    const ok = n.attempts.find((a) => a.ok)!;
    return ok.realAt - n.attempts[0].realAt;
  });

  const alerted: string[] = [];
  for (const receipt of receipts) {
    const view = await refundHandle(stack.client, receipt).query(statusQuery);
    if (view.alerts.length > 0) alerted.push(`${view.outRefundNo}: ${view.alerts[0]}`);
  }

  const completeMs: number[] = [];
  let lastCloseAt = 0;
  for (const receipt of receipts) {
    const closeAt = (await refundHandle(stack.client, receipt).describe()).closeTime!.getTime();
    completeMs.push(closeAt - Date.parse(receipt.requestedAt));
    lastCloseAt = Math.max(lastCloseAt, closeAt);
  }

  reportFigures('server-restart', {
    seed: SEED,
    refunds: REFUNDS,
    success: [...outcomes.values()].filter((o) => o.state === 'SUCCESS').length,
    inFlightAtKill: {
      submitting: caught.submitting.length,
      polling: caught.polling.length,
      waiting: caught.waiting.length,
    },
    heldCreates: heldOutcome,
    killAtMs,
    serverDownMs: downMs,
    serverStartMs,
    webhook503Health: healthDuringOutage.length,
    notificationsTurnedAway: turnedAway.length,
    notificationRedeliveryMs: stats(redeliveryMs),
    webhookHealthyAfterRestartMs: webhookHealthyAt! - restartBegan,
    workerSelfRecovered,
    workerRestartedByTest: stack.worker.starts - workerStartsBefore,
    workerResumedAfterRestartMs: resumedAt !== undefined ? Math.round(resumedAt - restartBegan) : null,
    historiesChecked: workflowIds.length,
    historyEventsBeforeKill: eventsBefore,
    historiesIntact: workflowIds.length - lostHistory.length,
    createCalls: create.total,
    createCallsPerRefund: Number((create.total / REFUNDS).toFixed(3)),
    refundsWithAlerts: alerted.length,
    alertSamples: alerted.slice(0, 3),
    queryCalls: calls['v3.query']?.total ?? 0,
    duplicatePayouts: money.report.duplicatePayouts.length,
    completeMs: stats(completeMs),
    restartToAllDoneMs: lastCloseAt - restartBegan,
    scenarioMs: Date.now() - began,
  });
  // No operator alert: a reply written before settlement that arrives after it is stale news (src/domain/status.ts).
  expect(alerted).toEqual([]);
  // The product's promise: no operator action after a server restart.
  expect(workerSelfRecovered).toBe(true);
});
