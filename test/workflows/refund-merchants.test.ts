/**
 * Many merchants, one worker fleet (docs/merchants.md): a refund's WeChat calls run on its merchant's budgeted task
 * queues, its polls are spread, a merchant whose credentials cannot be read waits in MANUAL_REVIEW alone, and a
 * non-default merchant's ledger numbers its refunds with the merchant in the ID. Time-skipping server, fake WeChat.
 */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import { createActivities } from '../../src/activities';
import { merchantTaskQueue } from '../../src/domain/merchant-queues';
import { refundWorkflowId } from '../../src/domain/ids';
import { pollJitterMs } from '../../src/domain/poll-jitter';
import { MerchantCredentialError, UnknownMerchantError } from '../../src/merchants/types';
import type { RefundGateway } from '../../src/wechatpay/gateway';
import { createTimeSkippingEnv, testDataConverter, uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { FAKE_MCHID, FakeGateway } from '../support/fake-gateway';
import {
  ledgerHandle,
  ledgerInput,
  newRefundNo,
  recordHistory,
  refundInput,
  requestRefund,
  startRefund,
  status,
  terminateStarted,
  track,
  waitForState,
} from './helpers';

// Five workers (the main queue and two merchants' budgeted queues) on a loaded machine: give each test time.
jest.setTimeout(180_000);

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

/** A merchant whose key file is gone: only its own refunds may suffer. */
const BROKEN_MCHID = '1900000999';
const BROKEN_SETTING = `merchants[${BROKEN_MCHID}].v3.merchantPrivateKey`;

/** The worker of a deployment: the main queue, and both budgeted queues of each merchant, as src/worker.ts runs them. */
async function withFleet<T>(gateway: RefundGateway, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniqueTaskQueue('merchants');
  const activities = createActivities({
    merchantQueues: true,
    gateways: {
      forMerchant(mchid) {
        if (mchid === BROKEN_MCHID) {
          throw new MerchantCredentialError(mchid, BROKEN_SETTING, `${BROKEN_SETTING}: cannot read key.pem: ENOENT`);
        }
        if (mchid !== undefined && mchid !== FAKE_MCHID) throw new UnknownMerchantError(`no merchant ${mchid}`);
        return gateway;
      },
    },
  });
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default', activities };
  const main = await Worker.create({
    ...common,
    taskQueue,
    workflowBundle: await workflowBundle(),
    dataConverter: testDataConverter(),
  });
  const budgeted = await Promise.all(
    [FAKE_MCHID, BROKEN_MCHID].flatMap((mchid) =>
      (['create', 'query'] as const).map((kind) =>
        Worker.create({
          ...common,
          taskQueue: merchantTaskQueue(taskQueue, mchid, kind),
          dataConverter: testDataConverter(),
          maxTaskQueueActivitiesPerSecond: kind === 'create' ? 100 : 200,
        }),
      ),
    ),
  );
  const runBudgeted = budgeted.map((w) => w.run());
  try {
    return await main.runUntil(async () => {
      try {
        return await fn(taskQueue);
      } finally {
        // What a test leaves running (a refund waiting in MANUAL_REVIEW) would stop the server skipping time later.
        await terminateStarted(env);
      }
    });
  } finally {
    for (const w of budgeted) w.shutdown();
    await Promise.all(runBudgeted);
  }
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function eventsOf(handle: { fetchHistory(): Promise<{ events?: HistoryEvent[] | null }> }) {
  return (await handle.fetchHistory()).events ?? [];
}

/** Activity type → the task queues it was scheduled on. */
function queuesByActivity(events: HistoryEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a?.activityType?.name || !a.taskQueue?.name) continue;
    (out[a.activityType.name] ??= []).push(a.taskQueue.name);
  }
  return out;
}

test("a refund's calls run on its merchant's budgeted queues, and its first poll is spread past the minute", async () => {
  const gateway = new FakeGateway({ channel: 'BALANCE', defaultProgress: [{ afterMs: 30_000, status: 'SUCCESS' }] });
  await withFleet(gateway, async (taskQueue) => {
    const input = refundInput({ mchid: FAKE_MCHID, payerBankType: 'OTHERS' });
    const handle = await startRefund(env, taskQueue, input);
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'SUCCESS', queries: 1 });

    const events = await eventsOf(handle);
    expect(queuesByActivity(events)).toEqual({
      submitRefund: [merchantTaskQueue(taskQueue, FAKE_MCHID, 'create')],
      queryRefund: [merchantTaskQueue(taskQueue, FAKE_MCHID, 'query')],
    });
    // The first poll: a minute after acceptance plus this refund's own offset (up to 12 s), the same on every replay.
    const view = await status(handle);
    const firstPollAfterMs = Date.parse(view.polls[0].at) - Date.parse(view.acceptedAt!);
    const spread = pollJitterMs(input.outRefundNo, 60_000);
    expect(spread).toBeLessThanOrEqual(12_000);
    expect(firstPollAfterMs).toBeGreaterThanOrEqual(60_000 + spread - 1_000);
    expect(firstPollAfterMs).toBeLessThan(60_000 + spread + 5_000);
    await recordHistory('refund-merchant-queues-spread-poll', handle);
  });
});

test('refunds accepted together are spread: their first polls do not all fall in the same second', () => {
  const spreads = Array.from({ length: 200 }, (_, i) => pollJitterMs(`BATCH-2026-${i}`, 60_000));
  expect(Math.max(...spreads)).toBeLessThanOrEqual(12_000);
  expect(new Set(spreads.map((ms) => Math.floor(ms / 1_000))).size).toBeGreaterThanOrEqual(10);
  // A day-long wait is spread by at most a minute, and a wait that is already over not at all.
  expect(pollJitterMs('BATCH-2026-1', 24 * 3_600_000)).toBeLessThanOrEqual(60_000);
  expect(pollJitterMs('BATCH-2026-1', 0)).toBe(0);
});

test("a non-default merchant's ledger names the merchant in its refunds' workflow IDs and asks WeChat as that merchant", async () => {
  const gateway = new FakeGateway({ channel: 'BALANCE', defaultProgress: [{ afterMs: 30_000, status: 'SUCCESS' }] });
  await withFleet(gateway, async (taskQueue) => {
    const ledger = ledgerInput(await env.currentTimeMs(), { mchid: FAKE_MCHID });
    const outRefundNo = newRefundNo();
    const receipt = await requestRefund(env, taskQueue, ledger, { outRefundNo, amountFen: 1_000 });

    expect(receipt.refundWorkflowId).toBe(`refund-${FAKE_MCHID}.${outRefundNo}`);
    expect(receipt.refundWorkflowId).toBe(refundWorkflowId(outRefundNo, { mchid: FAKE_MCHID }));
    expect(ledgerHandle(env, ledger).workflowId).toBe(`refund-order-${FAKE_MCHID}.${ledger.outTradeNo}`);
    const refund = track(env.client.workflow.getHandle(receipt.refundWorkflowId));
    expect(await refund.result()).toMatchObject({ state: 'SUCCESS' });
    // The ledger's order lookup ran once, as a local activity of the ledger's worker (no task queue of its own, no
    // workflow task of its own).
    const ledgerEvents = await eventsOf(ledgerHandle(env, ledger));
    expect(queuesByActivity(ledgerEvents).lookUpOrder).toBeUndefined();
    const lookups = gateway.calls.filter((c) => c.method === 'queryOrder');
    expect(lookups).toHaveLength(1);
    expect(lookups[0].input).toMatchObject({ outTradeNo: ledger.outTradeNo });
  });
});

// Last: its refund keeps retrying in MANUAL_REVIEW, and the time-skipping server skips no more once it is terminated.
test("a merchant whose credentials cannot be read waits in MANUAL_REVIEW, naming the setting; another merchant's refund goes on", async () => {
  const gateway = new FakeGateway({ channel: 'BALANCE', defaultProgress: [{ afterMs: 30_000, status: 'SUCCESS' }] });
  await withFleet(gateway, async (taskQueue) => {
    const broken = await startRefund(env, taskQueue, refundInput({ mchid: BROKEN_MCHID }));
    const healthy = await startRefund(env, taskQueue, refundInput({ mchid: FAKE_MCHID, payerBankType: 'OTHERS' }));

    const waiting = await waitForState(broken, 'MANUAL_REVIEW');
    expect(waiting.submitAttempts[0]).toMatchObject({ result: 'FAILED', error: { errorClass: 'NeedsOperator' } });
    expect(JSON.stringify(waiting)).toContain(BROKEN_SETTING);
    expect(gateway.callsOf('createRefund')).toHaveLength(1); // the healthy one's only

    expect(await healthy.result()).toMatchObject({ state: 'SUCCESS' });
  });
});
