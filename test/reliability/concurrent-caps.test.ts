/**
 * Reliability scenario 4 (issue 9): 1,000 refund requests fired at once at 20 orders' caps.
 *
 * Half of the orders are bound by their paid total (M4: floor(paid / amount) < 50 refunds fit), the other half by the
 * count cap (M6: 50 refunds of 10 fen on a ¥10.00 order). Every request of one order asks for the same amount, so
 * whatever order the ledger serialises them in, exactly min(50, floor(paid / amount)) are accepted and the rest are
 * refused with the rule that binds (M4 or M6) and a message naming it. Beside them, copies of the same out_refund_no
 * race each other (one wins; same amount → the same receipt, another amount → M8).
 *
 * The server's limit of updates in flight per workflow is lowered to 5 (CI size), so most requests are first turned away as
 * "busy": the starter must repeat them (safe: the same number and amount get the same receipt) until the ledger decides.
 *
 * Accepted refunds then go to WeChat one per order per minute (M9), so the scenario does not wait for all of them: it
 * checks the first submission of every order reached the simulator and settled, that every other accepted refund is
 * "clearly waiting" (listed QUEUED in its ledger's queue, or a refund workflow that exists), the simulator's money
 * invariants, and then terminates the workflows.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { requestRefund, RefundRejected, refundHandle, type RefundReceipt } from '../../src/starter';
import { orderWorkflowId } from '../../src/domain/ids';
import { ledgerQuery, refundableAmountQuery, refundCountQuery, statusQuery } from '../../src/workflows/definitions';
import type { LedgerView } from '../../src/workflows/types';
import { receiptIdentity } from '../workflows/helpers';
import { sized } from './support/profile';
import {
  checkMoney,
  checkProgress,
  FAST_POLLING,
  FAST_SUBMIT_RETRY,
  seedOrders,
  type PlannedRefund,
} from './support/refunds';
import { reportFigures } from './support/report';
import { startReliabilityStack, type ReliabilityStack } from './support/stack';

jest.setTimeout(sized(240_000, 900_000));

const MAX_REFUNDS = 50;
const TOTAL_REQUESTS = sized(1_000, 3_000);

interface OrderPlan {
  outTradeNo: string;
  paidTotalFen: number;
  amountFen: number;
  /** Which cap binds first. */
  binds: 'M4' | 'M6';
  requests: number;
  expectedAccepted: number;
}

/**
 * 10 orders bound by the amount (3 to 35 refunds fit) and 10 by the count (100 would fit by amount). Amounts
 * differ per order but are equal within one, so the expected number is exact whatever the arrival order.
 */
function planOrders(run: string): OrderPlan[] {
  const amountBound = [3, 6, 10, 14, 18, 22, 26, 29, 32, 35];
  const perAmountOrder = Math.floor((TOTAL_REQUESTS * 0.4) / amountBound.length);
  const perCountOrder = Math.floor((TOTAL_REQUESTS - perAmountOrder * amountBound.length) / 10);
  const plans: OrderPlan[] = amountBound.map((fits, i) => {
    const amountFen = 37 + i * 11;
    // Paid total: `fits` refunds and a remainder smaller than one more.
    const paidTotalFen = fits * amountFen + (i % 3) * 7;
    return {
      outTradeNo: `CAPA-${run}-${String(i).padStart(2, '0')}`,
      paidTotalFen,
      amountFen,
      binds: 'M4',
      requests: perAmountOrder,
      expectedAccepted: Math.min(MAX_REFUNDS, Math.floor(paidTotalFen / amountFen)),
    };
  });
  for (let i = 0; i < 10; i++) {
    const amountFen = 10 + i;
    const paidTotalFen = amountFen * 100;
    plans.push({
      outTradeNo: `CAPC-${run}-${String(i).padStart(2, '0')}`,
      paidTotalFen,
      amountFen,
      binds: 'M6',
      requests: i === 9 ? TOTAL_REQUESTS - perAmountOrder * 10 - perCountOrder * 9 : perCountOrder,
      expectedAccepted: MAX_REFUNDS,
    });
  }
  // Every order gets more requests than fit, so its cap really binds.
  for (const p of plans) if (p.requests <= p.expectedAccepted) throw new Error(`plan: ${p.outTradeNo} never binds`);
  return plans;
}

type Result = RefundReceipt | RefundRejected | { unexpected: unknown };

function isReceipt(r: Result): r is RefundReceipt {
  return !(r instanceof RefundRejected) && !('unexpected' in r);
}

/** Deterministic shuffle (seeded LCG) so the orders' requests interleave. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

let stack: ReliabilityStack;
const run = Date.now().toString(36);
const plans = planOrders(run);
const planOf = new Map(plans.map((p) => [p.outTradeNo, p]));
let paidAt: Map<string, string>;

/**
 * How long a request may keep being turned away as "ledger busy". 1,000 requests race for 5 update slots per order
 * on a loaded 2-core machine: some wait longer than the production default (60 s) for a slot. What this scenario
 * proves is that each gets its exact decision, however long the queue.
 */
const BUSY_RETRY_MS = 5 * 60_000;

function ask(p: PlannedRefund): Promise<Result> {
  return requestRefund(
    { client: stack.client, taskQueue: stack.taskQueue, busyRetryMs: BUSY_RETRY_MS, decisionTimeoutMs: BUSY_RETRY_MS },
    {
      order: {
        outTradeNo: p.outTradeNo,
        paidTotalFen: p.paidTotalFen,
        paidAt: paidAt.get(p.outTradeNo)!,
        payerBankType: 'OTHERS',
        polling: FAST_POLLING,
        submitRetry: FAST_SUBMIT_RETRY,
      },
      refund: { outRefundNo: p.outRefundNo, amountFen: p.amountFen, requestedBy: 'reliability-caps' },
    },
  ).catch((err: unknown) => (err instanceof RefundRejected ? err : { unexpected: err }));
}

// The duplicate race: DUP_NUMBERS out_refund_no on one roomy order, each asked COPIES times with one amount and
// ALT_COPIES times with another, all at once with the 1,000.
const DUP_ORDER = `CAPD-${run}`;
const DUP_PAID = 100_000;
const DUP_NUMBERS = 6;
const COPIES = 6;
const ALT_COPIES = 2;
const dupNo = (k: number) => `RD-${run}-${k}`;
const dupAmount = (k: number) => 500 + k;
const dupAltAmount = (k: number) => 700 + k;

const allLedgerIds = () => [...plans.map((p) => p.outTradeNo), DUP_ORDER].map((o) => orderWorkflowId(o));

let capRequests: PlannedRefund[] = [];
let capResults: Result[] = [];
let dupRequests: PlannedRefund[] = [];
let dupResults: Result[] = [];
let decisionMs = 0;
const latencies: number[] = [];
let accepted: RefundReceipt[] = [];

beforeAll(
  async () => {
    // Temporal turns away updates beyond a per-workflow limit of updates in flight (10 by default): the soak size
    // (150 requests per order) hit it and the order service saw raw server errors. Lowered for the CI size so it
    // meets the limit too; the starter must repeat those requests until the ledger decides.
    stack = await startReliabilityStack('concurrent-caps', {
      temporalDynamicConfig: { 'history.maxInFlightUpdates': sized(5, 10) },
    });
    capRequests = plans.flatMap((p) =>
      Array.from({ length: p.requests }, (_, i) => ({
        outTradeNo: p.outTradeNo,
        outRefundNo: `R${p.binds === 'M4' ? 'A' : 'C'}-${run}-${p.outTradeNo.slice(-2)}-${String(i).padStart(3, '0')}`,
        amountFen: p.amountFen,
        paidTotalFen: p.paidTotalFen,
      })),
    );
    dupRequests = Array.from({ length: DUP_NUMBERS }, (_, k) => [
      ...Array.from({ length: COPIES }, () => ({
        outTradeNo: DUP_ORDER,
        outRefundNo: dupNo(k),
        amountFen: dupAmount(k),
        paidTotalFen: DUP_PAID,
      })),
      ...Array.from({ length: ALT_COPIES }, () => ({
        outTradeNo: DUP_ORDER,
        outRefundNo: dupNo(k),
        amountFen: dupAltAmount(k),
        paidTotalFen: DUP_PAID,
      })),
    ]).flat();
    paidAt = await seedOrders(stack, [...capRequests, dupRequests[0]]);

    // Everything at once: one promise per request, interleaved across orders.
    const tagged = shuffled(
      [
        ...capRequests.map((r, i) => ({ r, i, kind: 'cap' as const })),
        ...dupRequests.map((r, i) => ({ r, i, kind: 'dup' as const })),
      ],
      20_261_123,
    );
    capResults = new Array(capRequests.length);
    dupResults = new Array(dupRequests.length);
    const started = Date.now();
    await Promise.all(
      tagged.map(async ({ r, i, kind }) => {
        const t0 = Date.now();
        const result = await ask(r);
        latencies.push(Date.now() - t0);
        if (kind === 'cap') capResults[i] = result;
        else dupResults[i] = result;
      }),
    );
    decisionMs = Date.now() - started;
    accepted = capResults.filter(isReceipt);
  },
  sized(240_000, 900_000),
);

afterAll(async () => {
  if (!stack) return;
  // Accepted refunds would go on for up to 50 minutes (one per order per minute): stop the ledgers and their refunds.
  const ids = [
    ...allLedgerIds(),
    ...[...capResults, ...dupResults]
      .filter((r): r is RefundReceipt => !!r && isReceipt(r))
      .map((r) => r.refundWorkflowId),
  ];
  await Promise.all(
    [...new Set(ids)].map((id) =>
      stack.client.workflow
        .getHandle(id)
        .terminate('reliability scenario 4 finished')
        .catch(() => undefined),
    ),
  );
  await stack.close();
}, 120_000);

describe('scenario 4: 1,000 concurrent refund requests against 20 orders’ caps', () => {
  it('every request got a decision: a receipt or a RefundRejected, nothing else', () => {
    const unexpected = [...capResults, ...dupResults].filter((r) => r === undefined || 'unexpected' in r);
    expect(unexpected.map((u) => String((u as { unexpected?: unknown } | undefined)?.unexpected))).toEqual([]);
    expect(capResults).toHaveLength(TOTAL_REQUESTS);
    expect(capRequests).toHaveLength(TOTAL_REQUESTS);
  });

  it('per order exactly min(50, floor(paid / amount)) accepted, the rest refused with the binding rule', () => {
    const byOrder = new Map<string, { accepted: RefundReceipt[]; rejected: RefundRejected[] }>();
    capRequests.forEach((req, i) => {
      const slot = byOrder.get(req.outTradeNo) ?? { accepted: [], rejected: [] };
      byOrder.set(req.outTradeNo, slot);
      const r = capResults[i];
      if (r instanceof RefundRejected) slot.rejected.push(r);
      else if (isReceipt(r)) {
        // The receipt is for this very request, not a neighbour's.
        expect(r).toMatchObject({ outTradeNo: req.outTradeNo, outRefundNo: req.outRefundNo, amountFen: req.amountFen });
        expect(r.refundWorkflowId).toBe(`refund-${req.outRefundNo}`);
        slot.accepted.push(r);
      }
    });
    const summary = plans.map((p) => {
      const slot = byOrder.get(p.outTradeNo)!;
      const acceptedFen = slot.accepted.reduce((s, r) => s + r.amountFen, 0);
      return {
        order: p.outTradeNo,
        binds: p.binds,
        accepted: slot.accepted.length,
        rejected: slot.rejected.length,
        sumOk: acceptedFen <= p.paidTotalFen,
        rules: [...new Set(slot.rejected.map((r) => r.rule))],
      };
    });
    expect(summary).toEqual(
      plans.map((p) => ({
        order: p.outTradeNo,
        binds: p.binds,
        accepted: p.expectedAccepted,
        rejected: p.requests - p.expectedAccepted,
        sumOk: true,
        rules: [p.binds],
      })),
    );
    // Readable messages naming the rule, the order and the numbers that bind.
    for (const p of plans) {
      for (const r of byOrder.get(p.outTradeNo)!.rejected) {
        if (p.binds === 'M4') {
          expect(r.message).toMatch(
            new RegExp(
              `^amountFen ${p.amountFen} exceeds the refundable amount of order ${p.outTradeNo}: ` +
                `${p.paidTotalFen - p.expectedAccepted * p.amountFen} fen \\(paid ${p.paidTotalFen}, .*\\(M4\\)$`,
            ),
          );
        } else {
          expect(r.message).toBe(
            `order ${p.outTradeNo} already has 50 refunds (closed ones count); WeChat allows at most 50 per order (M6)`,
          );
        }
      }
    }
  });

  it('the ledgers agree: the accepted set, the count, the refundable amount; the rest are clearly waiting', async () => {
    for (const p of plans) {
      const handle = stack.client.workflow.getHandle(orderWorkflowId(p.outTradeNo));
      const mine = accepted.filter((r) => r.outTradeNo === p.outTradeNo);
      const view: LedgerView = await handle.query(ledgerQuery);
      expect(view.refunds.map((e) => e.outRefundNo).sort()).toEqual(mine.map((r) => r.outRefundNo).sort());
      expect(await handle.query(refundCountQuery)).toBe(p.expectedAccepted);
      expect(await handle.query(refundableAmountQuery)).toBe(p.paidTotalFen - p.expectedAccepted * p.amountFen);
      expect(view.money.reservedFen + view.money.succeededFen).toBe(p.expectedAccepted * p.amountFen);
      // Clearly waiting: every entry is either in the queue (status QUEUED, in request order) or has left it, in
      // which case it is the one submitting or its refund workflow exists.
      const queued = new Set(view.queue);
      expect(view.refunds.filter((e) => e.status === 'QUEUED').map((e) => e.outRefundNo)).toEqual(view.queue);
      const started = view.refunds.filter((e) => !queued.has(e.outRefundNo));
      expect(started.length).toBeGreaterThanOrEqual(1);
      // M9: creates of one order at least a minute apart, so only the first few have left the queue.
      const startTimes = started.map((e) => Date.parse(e.startedAt!)).sort((a, b) => a - b);
      for (let i = 1; i < startTimes.length; i++) {
        expect(startTimes[i] - startTimes[i - 1]).toBeGreaterThanOrEqual(60_000);
      }
      expect(started.length).toBeLessThanOrEqual(1 + Math.floor((Date.now() - startTimes[0]) / 60_000));
      // The queued ones hold their refund number (their workflow exists) but wait for their turn: nothing was sent to
      // WeChat for them (checked for the next three).
      for (const no of view.queue.slice(0, 3)) {
        const receipt = mine.find((r) => r.outRefundNo === no)!;
        const waiting = await refundHandle(stack.client, receipt).query(statusQuery);
        expect(waiting).toMatchObject({ state: 'PENDING', held: true, submitAttempts: [] });
      }
      for (const e of started) {
        expect(e.startedAt).toBeDefined();
        const d = await refundHandle(stack.client, {
          ...mine.find((r) => r.outRefundNo === e.outRefundNo)!,
        }).describe();
        expect(['RUNNING', 'COMPLETED']).toContain(d.status.name);
      }
    }
  });

  it('the first submission of every order reached WeChat with the right amount and settled; money invariants hold', async () => {
    const firsts = new Map<string, RefundReceipt>();
    for (const p of plans) {
      const view: LedgerView = await stack.client.workflow.getHandle(orderWorkflowId(p.outTradeNo)).query(ledgerQuery);
      const first = view.refunds.find((e) => e.startedAt !== undefined)!;
      firsts.set(
        p.outTradeNo,
        accepted.find((r) => r.outRefundNo === first.outRefundNo)!,
      );
    }
    // Each first refund settles (balance: simulated seconds) and its workflow ends SUCCESS.
    const deadline = Date.now() + 90_000;
    for (const receipt of firsts.values()) {
      for (;;) {
        try {
          const outcome = await refundHandle(stack.client, receipt).result();
          expect(outcome).toMatchObject({ outRefundNo: receipt.outRefundNo, state: 'SUCCESS' });
          break;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    const progress = await checkProgress(stack, [...firsts.values()]);
    expect(progress.problems).toEqual([]);
    expect([...progress.ends.values()].every((s) => s === 'SUCCESS')).toBe(true);

    // WeChat's side: only refunds the ledger started (accepted ones, out of the queue), with their amounts.
    const acceptedByNo = new Map(accepted.map((r) => [r.outRefundNo, r]));
    for (const p of plans) {
      const view: LedgerView = await stack.client.workflow.getHandle(orderWorkflowId(p.outTradeNo)).query(ledgerQuery);
      const startedNos = view.refunds.filter((e) => e.startedAt !== undefined).map((e) => e.outRefundNo);
      const atWechat = await stack.sim.admin.refunds({ outTradeNo: p.outTradeNo });
      expect(atWechat.map((r) => r.outRefundNo)).toContain(firsts.get(p.outTradeNo)!.outRefundNo);
      for (const r of atWechat) {
        expect(startedNos).toContain(r.outRefundNo);
        expect(acceptedByNo.get(r.outRefundNo)?.amountFen).toBe(r.amount.refund);
      }
    }
    const dupReceipts = dupResults.filter(isReceipt);
    const money = await checkMoney(stack, [
      ...accepted.map((r) => ({ ...r, paidTotalFen: planOf.get(r.outTradeNo)!.paidTotalFen })),
      ...dupReceipts.map((r) => ({ ...r, paidTotalFen: DUP_PAID })),
    ]);
    expect(money.problems).toEqual([]);
    expect(money.report.duplicatePayouts).toEqual([]);
    expect(money.report.orders.length).toBeGreaterThanOrEqual(plans.length);
  });

  it('racing copies of one out_refund_no: one amount wins, its copies share one receipt, the other amount gets M8', async () => {
    const ledger = stack.client.workflow.getHandle(orderWorkflowId(DUP_ORDER));
    const view: LedgerView = await ledger.query(ledgerQuery);
    expect(view.refunds.map((e) => e.outRefundNo).sort()).toEqual(
      Array.from({ length: DUP_NUMBERS }, (_, k) => dupNo(k)).sort(),
    );
    for (let k = 0; k < DUP_NUMBERS; k++) {
      const results = dupResults.filter((_, i) => dupRequests[i].outRefundNo === dupNo(k));
      const amounts = dupRequests.filter((r) => r.outRefundNo === dupNo(k)).map((r) => r.amountFen);
      const entry = view.refunds.find((e) => e.outRefundNo === dupNo(k))!;
      expect([dupAmount(k), dupAltAmount(k)]).toContain(entry.amountFen);
      const receipts = results.filter(isReceipt);
      // Every copy with the winning amount got the very same receipt; every copy with the other got M8.
      expect(receipts.length).toBe(amounts.filter((a) => a === entry.amountFen).length);
      expect(new Set(receipts.map((r) => JSON.stringify(receiptIdentity(r)))).size).toBe(1);
      expect(receipts[0]).toMatchObject({ outRefundNo: dupNo(k), amountFen: entry.amountFen });
      const refused = results.filter((r): r is RefundRejected => r instanceof RefundRejected);
      expect(refused.length).toBe(amounts.length - receipts.length);
      for (const r of refused) {
        expect(r.rule).toBe('M8');
        expect(r.message).toContain(`out_refund_no ${dupNo(k)} was already requested for ${entry.amountFen} fen`);
      }
    }
  });

  it('afterwards: repeating accepted requests returns the same receipts; refused ones stay refused; new amount → M8', async () => {
    const repeats = plans.map((p) => accepted.find((r) => r.outTradeNo === p.outTradeNo)!);
    const again = await Promise.all(
      repeats.map((r) => ask({ ...r, paidTotalFen: planOf.get(r.outTradeNo)!.paidTotalFen })),
    );
    expect(again.map((r) => (isReceipt(r) ? receiptIdentity(r) : r))).toEqual(repeats.map(receiptIdentity));

    const refusedIdx = plans.map((p) =>
      capRequests.findIndex((req, i) => req.outTradeNo === p.outTradeNo && capResults[i] instanceof RefundRejected),
    );
    const refusedAgain = await Promise.all(refusedIdx.map((i) => ask(capRequests[i])));
    expect(refusedAgain.map((r) => (r instanceof RefundRejected ? r.rule : 'accepted'))).toEqual(
      plans.map((p) => p.binds),
    );

    const m8 = await ask({ ...repeats[0], amountFen: repeats[0].amountFen + 1, paidTotalFen: plans[0].paidTotalFen });
    expect(m8).toBeInstanceOf(RefundRejected);
    expect((m8 as RefundRejected).rule).toBe('M8');
    expect((m8 as RefundRejected).message).toMatch(/the same number with a different amount .* is refused \(M8\)/);

    // Still nothing more in the ledgers than the first time.
    for (const p of plans) {
      expect(await stack.client.workflow.getHandle(orderWorkflowId(p.outTradeNo)).query(refundCountQuery)).toBe(
        p.expectedAccepted,
      );
    }

    const rejectedByRule: Record<string, number> = {};
    for (const r of capResults)
      if (r instanceof RefundRejected) rejectedByRule[r.rule] = (rejectedByRule[r.rule] ?? 0) + 1;
    reportFigures('4-concurrent-caps', {
      orders: plans.length,
      requests: capRequests.length,
      accepted: accepted.length,
      expectedAccepted: plans.reduce((s, p) => s + p.expectedAccepted, 0),
      rejectedByRule,
      duplicateRace: {
        numbers: DUP_NUMBERS,
        requests: dupRequests.length,
        receipts: dupResults.filter(isReceipt).length,
        m8: dupResults.filter((r) => r instanceof RefundRejected && r.rule === 'M8').length,
      },
      concurrency: capRequests.length + dupRequests.length,
      msFor1000Decisions: Math.round((decisionMs * 1_000) / (capRequests.length + dupRequests.length)),
      msAllDecisions: decisionMs,
      latencyMs: (() => {
        const sorted = [...latencies].sort((a, b) => a - b);
        const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
        return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] };
      })(),
    });
  });
});
