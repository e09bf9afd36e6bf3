/**
 * A refund is bound to its order and its money, on the real stack: the order service's library (src/starter.ts) →
 * Temporal dev server → worker (ledger reads the order from WeChat, binds the refund number) → the simulator.
 *
 * Each test is one observation of the identity issue: an out_refund_no reused on another order, a refused first
 * request deciding an order's facts, facts never checked against WeChat, a caller left hanging with no worker.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { orderWorkflowId, refundWorkflowId } from '../../src/domain/ids';
import type { SimulatorHandle } from '../../src/simulator/server';
import {
  awaitRefundOutcome,
  RefundIdentityMismatch,
  RefundRejected,
  RefundUndecided,
  requestRefund,
  type OrderParams,
} from '../../src/starter';
import { ledgerQuery, refundNotifiedSignal, statusQuery } from '../../src/workflows/definitions';
import type { RefundStatusView } from '../../src/workflows/types';
import { createDevServerEnv, startBundledWorker, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { newRefundNo } from '../workflows/helpers';

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
const taskQueue = uniqueTaskQueue('identity');
const DAY_MS = 24 * 60 * 60 * 1000;

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim) }));
});

afterAll(async () => {
  await worker?.stop();
  await closeGateways();
  await sim?.close();
  await env?.teardown();
});

const starter = () => ({ client: env.client, taskQueue, decisionTimeoutMs: 20_000 });

async function simNow(): Promise<number> {
  return Date.parse((await sim.admin.clock()).now);
}

/** Queries every second in real time (the simulator's clock is moved by the tests; no notification URL here). */
const fastSchedule = { initialOffsetsMs: [1_000], thenEveryMs: 1_000, horizon: { calendarDays: 30, businessDays: 0 } };

/** A paid order at the simulated WeChat; the order service names it by out_trade_no only. */
async function order(totalFen = 1_000, opts: Parameters<typeof paidOrder>[1] = {}): Promise<OrderParams> {
  const o = await paidOrder(sim, { mchid: DIRECT, totalFen, ...opts });
  return { outTradeNo: o.outTradeNo, polling: { balance: fastSchedule, bankCard: fastSchedule } };
}

/** Lets WeChat settle a refund once its create has reached WeChat (the simulator's clock stands still otherwise). */
async function settle(outRefundNo: string): Promise<void> {
  await reachedWechat(outRefundNo);
  await sim.admin.advance({ minutes: 10 });
}

/** Waits until the refund's create has been answered by WeChat; returns its status then. */
async function reachedWechat(outRefundNo: string): Promise<RefundStatusView> {
  const handle = env.client.workflow.getHandle(refundWorkflowId(outRefundNo));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = await handle.query(statusQuery).catch(() => undefined);
    if (view && view.state !== 'PENDING') return view;
    if (Date.now() > deadline) throw new Error(`refund ${outRefundNo} never reached WeChat`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function rejection(p: Promise<unknown>): Promise<RefundRejected> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RefundRejected) return err;
    throw err;
  }
  throw new Error('request was accepted');
}

async function ledgerOf(o: OrderParams) {
  return env.client.workflow.getHandle(orderWorkflowId(o.outTradeNo)).query(ledgerQuery);
}

describe('an out_refund_no belongs to one refund of one order', () => {
  test('reusing a refund number on another order is refused at once, and nothing stays reserved there', async () => {
    const a = await order();
    const c = await order();
    const no = newRefundNo('RX');
    const receipt = await requestRefund(starter(), { order: a, refund: { outRefundNo: no, amountFen: 400 } });
    expect(receipt.outTradeNo).toBe(a.outTradeNo);

    const refused = await rejection(
      requestRefund(starter(), { order: c, refund: { outRefundNo: no, amountFen: 400 } }),
    );
    expect(refused.rule).toBe('M7');
    expect(refused.message).toContain(`out_refund_no ${no} already belongs to another refund`);
    const ledger = await ledgerOf(c);
    expect(ledger.refunds).toEqual([]);
    expect(ledger.money).toMatchObject({ reservedFen: 0, refundableFen: 1_000 });

    // The receipt's refund is A's, and stays A's to the end.
    await settle(no);
    const outcome = await awaitRefundOutcome(env.client, receipt, { pollMs: 100 });
    expect(outcome).toMatchObject({ state: 'SUCCESS', outTradeNo: a.outTradeNo, requestedFen: 400 });
  });

  test('a refund number whose refund has ended is never run again, for any order', async () => {
    const a = await order();
    const no = newRefundNo('RY');
    const receipt = await requestRefund(starter(), { order: a, refund: { outRefundNo: no, amountFen: 300 } });
    await settle(no);
    await awaitRefundOutcome(env.client, receipt, { pollMs: 100 });

    const other = await order();
    const refused = await rejection(
      requestRefund(starter(), { order: other, refund: { outRefundNo: no, amountFen: 300 } }),
    );
    expect(refused.rule).toBe('M7');
    const runs = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${refundWorkflowId(no)}'` })) runs.push(w);
    expect(runs).toHaveLength(1);
  });

  test('two orders racing for one refund number: exactly one wins, 50 rounds', async () => {
    const rounds = 50;
    const results = [];
    for (let batch = 0; batch < rounds; batch += 10) {
      results.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, rounds - batch) }, async () => {
            const [a, b] = [await order(), await order()];
            const no = newRefundNo('RACE');
            const answers = await Promise.allSettled(
              [a, b].map((o) => requestRefund(starter(), { order: o, refund: { outRefundNo: no, amountFen: 100 } })),
            );
            const won = answers.filter((x) => x.status === 'fulfilled');
            const lost = answers.filter(
              (x): x is PromiseRejectedResult =>
                x.status === 'rejected' && x.reason instanceof RefundRejected && x.reason.rule === 'M7',
            );
            return { won: won.length, lost: lost.length };
          }),
        )),
      );
    }
    expect(results).toHaveLength(rounds);
    expect(results.filter((r) => r.won === 1 && r.lost === 1)).toHaveLength(rounds);
  }, 240_000);

  test("awaitRefundOutcome never returns another order's outcome for a receipt", async () => {
    const a = await order();
    const no = newRefundNo('RZ');
    const receipt = await requestRefund(starter(), { order: a, refund: { outRefundNo: no, amountFen: 200 } });
    await settle(no);
    await awaitRefundOutcome(env.client, receipt, { pollMs: 100 });
    const forged = { ...receipt, outTradeNo: 'TSOMEOTHERORDER' };
    await expect(awaitRefundOutcome(env.client, forged, { pollMs: 100 })).rejects.toBeInstanceOf(
      RefundIdentityMismatch,
    );
  });
});

describe("an order's facts come from WeChat", () => {
  test('a refused first request with a wrong paid total decides nothing; the correct request is then accepted', async () => {
    const o = await order(1_000);
    const no = newRefundNo('RF');
    const refused = await rejection(
      requestRefund(starter(), { order: { ...o, paidTotalFen: 100 }, refund: { outRefundNo: no, amountFen: 500 } }),
    );
    expect(refused.rule).toBe('ORDER_FACTS_MISMATCH');
    expect(refused.message).toBe("ORDER_FACTS_MISMATCH: paidTotalFen 100 ≠ WeChat's 1000");

    const receipt = await requestRefund(starter(), {
      order: { ...o, paidTotalFen: 1_000 },
      refund: { outRefundNo: no, amountFen: 500 },
    });
    expect(receipt.amountFen).toBe(500);
    const ledger = await ledgerOf(o);
    expect(ledger.facts).toMatchObject({ source: 'WECHAT', paidTotalFen: 1_000, tradeState: 'SUCCESS' });
    // Judged against WeChat's total, never a caller's: 600 more would exceed it.
    const over = await rejection(
      requestRefund(starter(), { order: o, refund: { outRefundNo: newRefundNo('RF'), amountFen: 600 } }),
    );
    expect(over.rule).toBe('M4');
  });

  test('a payment time a day off WeChat’s is refused; one within the tolerance is accepted', async () => {
    const paidAtMs = (await simNow()) - 364 * DAY_MS;
    const o = await order(2_000, { paidAt: new Date(paidAtMs).toISOString() });
    const dayOff = await rejection(
      requestRefund(starter(), {
        order: { ...o, paidAt: new Date(paidAtMs - DAY_MS).toISOString() },
        refund: { outRefundNo: newRefundNo('RT'), amountFen: 100 },
      }),
    );
    expect(dayOff.rule).toBe('ORDER_FACTS_MISMATCH');
    expect(dayOff.message).toMatch(/^ORDER_FACTS_MISMATCH: paidAt .* ≠ WeChat's .*\(more than 10 minutes apart\)$/);
    const receipt = await requestRefund(starter(), {
      order: { ...o, paidAt: new Date(paidAtMs + 2 * 60_000).toISOString() },
      refund: { outRefundNo: newRefundNo('RT'), amountFen: 100 },
    });
    expect(receipt.amountFen).toBe(100);
  });

  test("the one-year limit is judged against WeChat's payment time, whatever the caller says", async () => {
    const o = await order(2_000, { paidAt: new Date((await simNow()) - 366 * DAY_MS).toISOString() });
    const refused = await rejection(
      requestRefund(starter(), { order: o, refund: { outRefundNo: newRefundNo('RO'), amountFen: 100 } }),
    );
    expect(refused.rule).toBe('M5');
  });

  test('an order WeChat does not know, or that is not paid, is refused at once and leaves no ledger running', async () => {
    const unknown = { outTradeNo: `TUNKNOWN${Date.now().toString(36)}` };
    const notFound = await rejection(
      requestRefund(starter(), { order: unknown, refund: { outRefundNo: newRefundNo('RU'), amountFen: 100 } }),
    );
    expect(notFound.rule).toBe('M10');
    expect(notFound.message).toContain('ORDER_NOT_FOUND');

    const unpaid = await order(1_000, { state: 'NOTPAY' });
    const notPaid = await rejection(
      requestRefund(starter(), { order: unpaid, refund: { outRefundNo: newRefundNo('RU'), amountFen: 100 } }),
    );
    expect(notPaid.rule).toBe('M10');
    expect(notPaid.message).toContain('is NOTPAY');
    const ledger = env.client.workflow.getHandle(orderWorkflowId(unpaid.outTradeNo));
    await ledger.result();
    expect((await ledger.describe()).status.name).toBe('COMPLETED');
  });
});

describe('evidence is checked before it moves state', () => {
  test('a signed-looking notification for 399 fen of a 400 fen refund is not applied; WeChat’s record decides', async () => {
    const o = await order(1_000);
    const no = newRefundNo('RE');
    const receipt = await requestRefund(starter(), { order: o, refund: { outRefundNo: no, amountFen: 400 } });
    const handle = env.client.workflow.getHandle(refundWorkflowId(no));
    const view = await reachedWechat(no);
    expect(view.state).toBe('PROCESSING');
    const deadline = Date.now() + 30_000;
    const facts = (await ledgerOf(o)).facts!;
    await handle.signal(refundNotifiedSignal, {
      notificationId: `EV-${no}`,
      apiVersion: 'v3',
      mchid: DIRECT,
      outTradeNo: o.outTradeNo,
      transactionId: facts.transactionId!,
      outRefundNo: no,
      refundId: view.refundId!,
      status: 'SUCCESS',
      successTime: new Date().toISOString(),
      amounts: { totalFen: 1_000, refundFen: 399, currency: 'CNY' },
      receivedAt: new Date().toISOString(),
    });
    let after = await handle.query(statusQuery);
    while (after.polls.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await handle.query(statusQuery);
    }
    // Not applied: WeChat's own record (still PROCESSING, 400 fen) was asked instead.
    expect(after.state).toBe('PROCESSING');
    expect(after.notifications).toEqual([
      expect.objectContaining({ decision: 'mismatch', note: 'amount.refund 399 ≠ requested 400' }),
    ]);
    expect(after.polls[0]).toMatchObject({ reason: 'VERIFY_EVIDENCE', result: 'PROCESSING' });
    expect(after.alerts).toEqual([expect.stringContaining('amount.refund 399 ≠ requested 400')]);

    await sim.admin.advance({ minutes: 10 });
    const outcome = await awaitRefundOutcome(env.client, receipt, { pollMs: 100 });
    expect(outcome).toMatchObject({ state: 'SUCCESS', amounts: { refundFen: 400 }, channel: 'ORIGINAL' });
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ RefundChannel: ['ORIGINAL'] });
  });
});

describe('the order service never hangs', () => {
  test('without a worker the request fails at its deadline, decides nothing, and is safe to repeat', async () => {
    const o = await order();
    const lonelyQueue = uniqueTaskQueue('no-worker');
    const refund = { outRefundNo: newRefundNo('RN'), amountFen: 100 };
    const t0 = Date.now();
    const err = await requestRefund(
      { client: env.client, taskQueue: lonelyQueue, decisionTimeoutMs: 2_000 },
      { order: o, refund },
    ).catch((e: unknown) => e);
    const waited = Date.now() - t0;
    expect(err).toBeInstanceOf(RefundUndecided);
    expect((err as Error).message).toMatch(/Nothing was decided.*safe to repeat/s);
    expect(waited).toBeLessThan(4_000);

    // A worker arrives later: the expired request is refused by the ledger, never accepted behind the caller's back.
    const late = await startBundledWorker(env, lonelyQueue, createActivities({ gateway: v3Gateway(sim) }));
    try {
      const deadline = Date.now() + 15_000;
      let ledger;
      while (Date.now() < deadline) {
        ledger = await env.client.workflow
          .getHandle(orderWorkflowId(o.outTradeNo))
          .query(ledgerQuery)
          .catch(() => undefined);
        if (ledger?.facts) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ledger?.refunds).toEqual([]);
      // Repeating the same request is safe: now it is decided.
      const receipt = await requestRefund(
        { client: env.client, taskQueue: lonelyQueue, decisionTimeoutMs: 10_000 },
        { order: o, refund },
      );
      expect(receipt.outRefundNo).toBe(refund.outRefundNo);
    } finally {
      await late.stop();
    }
  }, 60_000);
});
