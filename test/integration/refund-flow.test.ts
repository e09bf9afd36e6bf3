/**
 * The refund core end to end on the real Temporal dev server: the order service's update-with-start → order ledger →
 * refund workflow → activities → the real v3 gateway (signing, verifying) → the WeChat Pay simulator, and back via
 * the simulator's verified notification (a small stand-in for the webhook signals the workflow).
 *
 * Real time on the Temporal side; the simulator's clock is frozen and moved by the test, so WeChat settles exactly
 * when the test says so.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { refundWorkflowId } from '../../src/domain/ids';
import type { OrderLedgerInput } from '../../src/domain/schemas';
import type { SimulatorHandle } from '../../src/simulator/server';
import { ledgerQuery, refundNotifiedSignal, retryNowUpdate, statusQuery } from '../../src/workflows/definitions';
import type { RefundStatusView } from '../../src/workflows/types';
import type { refundWorkflow } from '../../src/workflows/refund';
import { createDevServerEnv, startBundledWorker, uniqueTaskQueue } from '../harness/temporal';
import {
  closeGateways,
  DIRECT,
  NotificationReceiver,
  paidOrder,
  startTestSimulator,
  v3Gateway,
} from '../simulator/support';
import { newRefundNo, requestRefund, ledgerHandle } from '../workflows/helpers';

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let receiver: NotificationReceiver;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
const taskQueue = uniqueTaskQueue('refund-flow');
const started: WorkflowHandle[] = [];

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  const merchant = sim.merchants.find((m) => m.mchid === DIRECT)!;
  // The webhook's job in miniature: verify (done by the receiver with the project's verifier), then signal.
  receiver = new NotificationReceiver(sim.manifest, {
    mchid: merchant.mchid,
    apiV3Key: merchant.apiV3Key,
    apiV2Key: merchant.apiV2Key,
  });
  receiver.respond = (entry) => {
    const n = entry.notification;
    if (n) {
      void env.client.workflow
        .getHandle(refundWorkflowId(n.outRefundNo))
        .signal(refundNotifiedSignal, n)
        .catch(() => undefined);
    }
    return undefined;
  };
  await receiver.start();
  await sim.admin.patchMerchant(DIRECT, { portalNotifyUrl: receiver.url });

  worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim) }));
});

afterAll(async () => {
  await Promise.all(started.map((h) => h.terminate('test finished').catch(() => undefined)));
  await worker?.stop();
  await closeGateways();
  await receiver?.close();
  await sim?.close();
  await env?.teardown();
});

async function order(opts: Parameters<typeof paidOrder>[1] = {}): Promise<OrderLedgerInput> {
  const o = await paidOrder(sim, { mchid: DIRECT, totalFen: 10_000, ...opts });
  const paidAt = new Date(Date.parse((await sim.admin.clock()).now)).toISOString();
  return {
    outTradeNo: o.outTradeNo,
    transactionId: o.transactionId,
    paidTotalFen: o.totalFen,
    paidAt,
    payerBankType: opts.payer?.bankType ?? 'OTHERS',
    // Retries of the create come quickly here; the defaults (minutes) are for WeChat.
    submitRetry: { retrySame: { initialMs: 300, maxMs: 2_000, coefficient: 2 } },
  };
}

function refundHandle(outRefundNo: string): WorkflowHandle<typeof refundWorkflow> {
  const handle = env.client.workflow.getHandle<typeof refundWorkflow>(refundWorkflowId(outRefundNo));
  started.push(handle);
  return handle;
}

async function until(handle: WorkflowHandle, done: (v: RefundStatusView) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await handle.query(statusQuery).catch(() => undefined);
    if (view && done(view)) return view;
    if (Date.now() > deadline) throw new Error(`refund never reached the expected state: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a refund goes through the ledger to the simulator and is settled by its verified notification', async () => {
  const o = await order();
  const outRefundNo = newRefundNo('IT');
  const receipt = await requestRefund(env, taskQueue, o, { outRefundNo, amountFen: 2_500, reason: 'returned' });
  started.push(ledgerHandle(env, o));
  const handle = refundHandle(outRefundNo);
  const accepted = await until(handle, (v) => v.state === 'PROCESSING');
  // Paid from the balance, refunded the original way: ORIGINAL channel, polled on the balance schedule.
  expect(accepted).toMatchObject({
    channel: 'ORIGINAL',
    requestedFen: 2_500,
    totalFen: 10_000,
    schedule: { kind: 'BALANCE' },
  });
  expect(accepted.refundId).toMatch(/^5/);

  await sim.admin.advance({ minutes: 5 }); // WeChat pays the balance refund and notifies
  const outcome = await handle.result();
  // No notify_url in the create, so WeChat notifies the portal URL, in v2 XML (§4.9). An unsigned, ECB-encrypted v2
  // notification is confirmed by one immediate query before it counts; no scheduled poll was needed.
  expect(outcome).toMatchObject({ state: 'SUCCESS', channel: 'ORIGINAL', queries: 1, notifications: 1 });
  const settled = await handle.query(statusQuery);
  expect(settled.polls.map((p) => p.reason)).toEqual(['VERIFY_NOTIFICATION']);
  expect(settled.notifications).toEqual([expect.objectContaining({ status: 'SUCCESS', decision: 'verifying' })]);
  expect(outcome.amounts).toMatchObject({ refundFen: 2_500, totalFen: 10_000, currency: 'CNY' });
  expect(await sim.admin.refund(outRefundNo)).toMatchObject({ status: 'SUCCESS' });

  const ledger = await ledgerHandle(env, o).query(ledgerQuery);
  expect(ledger.refunds).toEqual([expect.objectContaining({ outRefundNo, status: 'SUCCESS' })]);
  expect(ledger.money).toMatchObject({ succeededFen: 2_500, refundableFen: 7_500 });
  expect(receipt.refundWorkflowId).toBe(refundWorkflowId(outRefundNo));
  expect((await sim.admin.invariants()) as unknown).toMatchObject({ ok: true });
});

test('SYSTEM_ERROR twice, then a lost reply: the same out_refund_no throughout, one refund at WeChat', async () => {
  const o = await order();
  const outRefundNo = newRefundNo('IT');
  await sim.admin.addFault({ endpoint: 'v3.create', kind: 'SYSTEM_ERROR', times: 2, outRefundNo });
  await requestRefund(env, taskQueue, o, { outRefundNo, amountFen: 1_000 });
  started.push(ledgerHandle(env, o));
  const handle = refundHandle(outRefundNo);
  const accepted = await until(handle, (v) => v.state === 'PROCESSING');
  expect(accepted.submitAttempts.map((a) => a.error?.code ?? a.result)).toEqual([
    'SYSTEM_ERROR',
    'SYSTEM_ERROR',
    'ACCEPTED',
  ]);
  expect(await sim.admin.refunds({ outTradeNo: o.outTradeNo })).toHaveLength(1);

  // Second refund of another order: accepted at WeChat, but the reply never arrives; the query adopts it.
  const o2 = await order();
  const lost = newRefundNo('IT');
  await sim.admin.addFault({ endpoint: 'v3.create', kind: 'LOST_REPLY', times: 1, outRefundNo: lost });
  await requestRefund(env, taskQueue, o2, { outRefundNo: lost, amountFen: 1_000 });
  started.push(ledgerHandle(env, o2));
  const lostHandle = refundHandle(lost);
  const adopted = await until(lostHandle, (v) => v.state === 'PROCESSING');
  expect(adopted.submitAttempts.map((a) => a.result)).toEqual(['FAILED', 'ADOPTED']);
  expect(await sim.admin.refunds({ outTradeNo: o2.outTradeNo })).toHaveLength(1);

  await sim.admin.advance({ minutes: 5 });
  expect(await handle.result()).toMatchObject({ state: 'SUCCESS' });
  expect(await lostHandle.result()).toMatchObject({ state: 'SUCCESS' });
});

test('merchant balance short: MANUAL_REVIEW until topped up and retried by an operator', async () => {
  const o = await order();
  const outRefundNo = newRefundNo('IT');
  const { balanceFen } = (await sim.admin.merchants()).find((m) => m.mchid === DIRECT)!;
  await sim.admin.setBalance(DIRECT, 0);
  try {
    await requestRefund(env, taskQueue, o, { outRefundNo, amountFen: 3_000 });
    started.push(ledgerHandle(env, o));
    const handle = refundHandle(outRefundNo);
    const waiting = await until(handle, (v) => v.state === 'MANUAL_REVIEW');
    expect(waiting).toMatchObject({ reviewReason: 'SUBMIT_NEEDS_OPERATOR' });
    expect(waiting.submitAttempts[0].error).toMatchObject({
      errorClass: 'NeedsOperator',
      code: 'NOT_ENOUGH',
      httpStatus: 403,
    });

    await sim.admin.setBalance(DIRECT, balanceFen);
    await handle.executeUpdate(retryNowUpdate, { args: [{ operator: 'it-test' }] });
    await until(handle, (v) => v.state === 'PROCESSING');
    await sim.admin.advance({ minutes: 5 });
    expect(await handle.result()).toMatchObject({ state: 'SUCCESS', submitAttempts: 2 });
  } finally {
    await sim.admin.setBalance(DIRECT, balanceFen);
  }
});

test('a final refusal (payer account closed) ends as REJECTED and the ledger releases the amount', async () => {
  const o = await order({ payer: { bankType: 'OTHERS', userAccount: 'CLOSED' } });
  const outRefundNo = newRefundNo('IT');
  await requestRefund(env, taskQueue, o, { outRefundNo, amountFen: 4_000 });
  const ledger = ledgerHandle(env, o);
  started.push(ledger);
  const handle = refundHandle(outRefundNo);
  await until(handle, (v) => v.state === 'REJECTED');
  const outcome = await handle.result();
  expect(outcome).toMatchObject({
    state: 'REJECTED',
    rejection: { errorClass: 'Final', code: 'USER_ACCOUNT_ABNORMAL' },
  });

  const deadline = Date.now() + 10_000;
  let view = await ledger.query(ledgerQuery);
  while (view.refunds[0]?.status !== 'REJECTED' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    view = await ledger.query(ledgerQuery);
  }
  expect(view.refunds[0]).toMatchObject({ outRefundNo, status: 'REJECTED' });
  expect(view.money).toMatchObject({ refundableFen: 10_000, releasedFen: 4_000, refundCount: 0 });
});
