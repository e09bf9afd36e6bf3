/**
 * Order ledger: WeChat's money rules enforced before anything is submitted, one create at a time per order, at
 * least 60 s apart, results flowing back from the refund workflows. Requests arrive through update-with-start.
 * (The Java time-skipping server supports update-with-start, so everything here runs on it.)
 */
import { createTimeSkippingEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { DAY_MS, MINUTE_MS } from '../../src/domain/poll-schedule';
import { RetrySame } from '../../src/wechatpay/errors';
import { ledgerQuery, refundableAmountQuery, refundCountQuery, refundListQuery } from '../../src/workflows/definitions';
import { FakeGateway } from '../support/fake-gateway';
import {
  ledgerHandle,
  ledgerInput,
  newRefundNo,
  notify,
  recordHistory,
  requestRefund,
  withWorker,
  rejectionOf,
  receiptIdentity,
} from './helpers';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

/** Lets virtual time pass (children submit, poll, report back) and returns the ledger's view. */
async function ledgerAfter(ms: number, handle: ReturnType<typeof ledgerHandle>) {
  await env.sleep(ms);
  return handle.query(ledgerQuery);
}

test('the first request creates the ledger (update-with-start); amount caps at the paid total; CLOSED releases', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 1_000 });
    const first = await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 600 });
    expect(first).toMatchObject({ outTradeNo: order.outTradeNo, amountFen: 600 });
    const ledger = ledgerHandle(env, order);
    expect(await ledger.query(refundableAmountQuery)).toBe(400);

    const tooMuch = await rejectionOf(
      requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 401 }),
    );
    expect(tooMuch).toBe(
      `amountFen 401 exceeds the refundable amount of order ${order.outTradeNo}: 400 fen ` +
        `(paid 1000, refunded 0, in flight 600) (M4)`,
    );
    const typed = await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 401 }).catch(
      (err: WorkflowUpdateFailedError) => err.cause,
    );
    expect(typed).toMatchObject({ type: 'RefundRuleM4', nonRetryable: true });
    const bad = await rejectionOf(requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 1.5 }));
    expect(bad).toBe('amountFen: must be an integer number of fen (no decimals, M1)');
    const zero = await rejectionOf(requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 0 }));
    expect(zero).toBe('amountFen: must be greater than 0 fen');

    // WeChat closes the first refund: its 600 fen are released.
    await env.sleep(2 * MINUTE_MS);
    await notify(env.client.workflow.getHandle(first.refundWorkflowId), gateway.settle(first.outRefundNo, 'CLOSED'));
    const view = await ledgerAfter(MINUTE_MS, ledger);
    expect(view.refunds[0]).toMatchObject({ outRefundNo: first.outRefundNo, status: 'CLOSED' });
    expect(view.money).toMatchObject({ refundableFen: 1_000, releasedFen: 600, refundCount: 1 });

    const second = await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 1_000 });
    expect(second.amountFen).toBe(1_000);
    expect(await ledger.query(refundableAmountQuery)).toBe(0);
    expect(await ledger.query(refundCountQuery)).toBe(2);
    await recordHistory('ledger-caps-and-closed-release', ledger);
  });
});

test('requests racing for the last fen: exactly one wins', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 100 });
    await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 99 });
    const racers = Array.from({ length: 8 }, () => ({ outRefundNo: newRefundNo(), amountFen: 1 }));
    const results = await Promise.allSettled(racers.map((r) => requestRefund(env, taskQueue, order, r)));

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const loser of losers) {
      expect((loser.reason as WorkflowUpdateFailedError).cause?.message).toMatch(/refundable amount .*: 0 fen/);
    }
    const ledger = ledgerHandle(env, order);
    expect(await ledger.query(refundableAmountQuery)).toBe(0);
    expect((await ledger.query(refundListQuery)).map((r) => r.amountFen)).toEqual([99, 1]);
  });
});

test('one create at a time per order, at least 60 s apart; the rest queue', async () => {
  const gateway = new FakeGateway({ createStatus: 'SUCCESS', channel: 'BALANCE' });
  const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 3_000 });
  const nos = [newRefundNo('A'), newRefundNo('B'), newRefundNo('C')];
  // The first refund's create fails twice before WeChat accepts it (1 + 2 minutes of backoff).
  gateway.failNext(
    'createRefund',
    new RetrySame({ code: 'SYSTEM_ERROR', message: 'timeout', httpStatus: 500 }),
    new RetrySame({ code: 'SYSTEM_ERROR', message: 'timeout', httpStatus: 500 }),
  );
  await withWorker(env, gateway, async (taskQueue) => {
    const receipts = await Promise.all(
      nos.map((no) => requestRefund(env, taskQueue, order, { outRefundNo: no, amountFen: 1_000 })),
    );
    expect(receipts.map((r) => r.outRefundNo).sort()).toEqual([...nos].sort());
    const ledger = ledgerHandle(env, order);
    const early = await ledger.query(ledgerQuery);
    expect(early.queue).toHaveLength(2);
    expect(early.submitting).toBeDefined();

    const view = await ledgerAfter(10 * MINUTE_MS, ledger);
    expect(view.refunds.map((r) => r.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(view.money).toMatchObject({ succeededFen: 3_000, refundableFen: 0 });

    const creates = gateway
      .callsOf('createRefund')
      .map((c) => ({ no: (c.input as { outRefundNo: string }).outRefundNo, at: c.at }));
    const order1 = creates.map((c) => c.no);
    // Never interleaved: all creates of one refund before any create of the next.
    expect(order1).toEqual([order1[0], order1[0], order1[0], order1[3], order1[4]]);
    expect(new Set(order1).size).toBe(3);
    for (let i = 1; i < creates.length; i++) {
      if (creates[i].no !== creates[i - 1].no) expect(creates[i].at - creates[i - 1].at).toBeGreaterThanOrEqual(60_000);
    }
    expect(gateway.refundCount()).toBe(3);
    const child = await env.client.workflow.getHandle(receipts[0].refundWorkflowId).describe();
    expect(await child.staticSummary()).toBe(
      `Refund 10.00 CNY of order ${order.outTradeNo} (${receipts[0].outRefundNo})`,
    );
    await recordHistory('ledger-serialised-submissions', ledger);
    await recordHistory('ledger-verified-order-held-refunds', ledger);
  });
});

test('refunds only within a year of payment (M5)', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const now = await env.currentTimeMs();
    const stale = ledgerInput(now, { paidAt: new Date(now - 366 * DAY_MS).toISOString() });
    const message = await rejectionOf(
      requestRefund(env, taskQueue, stale, { outRefundNo: newRefundNo(), amountFen: 100 }),
    );
    expect(message).toMatch(/refunds are only possible until .* \(payment \+ 365 days, M5\)$/);

    const almost = ledgerInput(now, { paidAt: new Date(now - 364 * DAY_MS).toISOString() });
    const accepted = await requestRefund(env, taskQueue, almost, { outRefundNo: newRefundNo(), amountFen: 100 });
    await env.sleep(2 * DAY_MS);
    const late = await rejectionOf(
      requestRefund(env, taskQueue, almost, { outRefundNo: newRefundNo(), amountFen: 100 }),
    );
    expect(late).toMatch(/M5/);
    // A repeat of the request accepted in time still gets its original answer.
    const repeat = await requestRefund(env, taskQueue, almost, { outRefundNo: accepted.outRefundNo, amountFen: 100 });
    expect(receiptIdentity(repeat)).toEqual(receiptIdentity(accepted));
  });
});

test('the same request twice gets the same answer; the same number with another amount is refused (M8)', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs());
    const request = { outRefundNo: newRefundNo(), amountFen: 700, reason: 'damaged' };
    const first = await requestRefund(env, taskQueue, order, request);
    const again = await requestRefund(env, taskQueue, order, request);
    expect(receiptIdentity(again)).toEqual(receiptIdentity(first));
    const [a, b] = await Promise.all([
      requestRefund(env, taskQueue, order, request),
      requestRefund(env, taskQueue, order, request),
    ]);
    expect(receiptIdentity(a)).toEqual(receiptIdentity(first));
    expect(receiptIdentity(b)).toEqual(receiptIdentity(first));

    const changed = await rejectionOf(requestRefund(env, taskQueue, order, { ...request, amountFen: 800 }));
    expect(changed).toBe(
      `out_refund_no ${request.outRefundNo} was already requested for 700 fen; ` +
        'the same number with a different amount (800 fen) is refused (M8)',
    );
    const ledger = ledgerHandle(env, order);
    expect(await ledger.query(refundCountQuery)).toBe(1);
    await env.sleep(MINUTE_MS);
    expect(gateway.callsOf('createRefund')).toHaveLength(1);
  });
});

test('at most 50 refunds per order, closed ones included (M6)', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 100_000 });
    const closedOnes = [newRefundNo(), newRefundNo()];
    for (const no of closedOnes) await requestRefund(env, taskQueue, order, { outRefundNo: no, amountFen: 10 });
    await env.sleep(3 * MINUTE_MS);
    for (const no of closedOnes) {
      await notify(env.client.workflow.getHandle(`refund-${no}`), gateway.settle(no, 'CLOSED'));
    }
    const ledger = ledgerHandle(env, order);
    await env.sleep(MINUTE_MS);
    expect((await ledger.query(refundListQuery)).map((r) => r.status)).toEqual(['CLOSED', 'CLOSED']);

    for (let i = 0; i < 48; i++)
      await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 10 });
    expect(await ledger.query(refundCountQuery)).toBe(50);
    const fiftyFirst = await rejectionOf(
      requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 10 }),
    );
    expect(fiftyFirst).toBe(
      `order ${order.outTradeNo} already has 50 refunds (closed ones count); WeChat allows at most 50 per order (M6)`,
    );
    expect(await ledger.query(refundableAmountQuery)).toBe(100_000 - 48 * 10);
  });
});
