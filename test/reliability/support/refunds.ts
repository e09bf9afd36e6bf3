/**
 * Refunds for reliability scenarios: seeding paid orders at the simulator, asking for refunds through the real
 * starter, waiting for their ends, and the checks every scenario closes with:
 *  - money (the simulator's ledger of record): per order refunded ≤ paid, each out_refund_no paid at most once, no
 *    refund number WeChat saw that the order service never asked for;
 *  - progress (Temporal): every requested refund is final (SUCCESS, CLOSED, REJECTED) or visibly waiting for a human
 *    (ABNORMAL, MANUAL_REVIEW), never silently stuck.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { PollingConfig, SubmitRetryConfig } from '../../../src/domain/schemas';
import { MINUTE_MS } from '../../../src/domain/poll-schedule';
import type { InvariantReport } from '../../../src/simulator/admin-schemas';
import {
  requestRefund,
  RefundRejected,
  refundHandle,
  type RefundOutcome,
  type RefundReceipt,
} from '../../../src/starter';
import { statusQuery } from '../../../src/workflows/definitions';
import { MCHID, type ReliabilityStack } from './stack';

/**
 * Polls compressed from minutes to seconds, so a refund whose notification is lost is found by a query within the
 * scenario's time; same shape as the production schedules (fast first queries, then a steady cadence, a horizon).
 */
export const FAST_POLLING: PollingConfig = {
  balance: {
    initialOffsetsMs: [2_000, 4_000, 8_000],
    thenEveryMs: 5_000,
    horizon: { calendarDays: 1, businessDays: 0 },
  },
  bankCard: {
    initialOffsetsMs: [2_000, 5_000, 10_000],
    thenEveryMs: 10_000,
    horizon: { calendarDays: 1, businessDays: 0 },
  },
  waitingEveryMs: 10 * MINUTE_MS,
};

/** Retries after an uncertain create, compressed the same way (the production defaults start at seconds anyway). */
export const FAST_SUBMIT_RETRY: SubmitRetryConfig = {
  retrySame: { initialMs: 500, maxMs: 4_000, coefficient: 2 },
  throttled: { initialMs: 1_000, maxMs: 8_000, coefficient: 2 },
  maxUnknownRounds: 30,
};

export interface PlannedRefund {
  outTradeNo: string;
  outRefundNo: string;
  amountFen: number;
  paidTotalFen: number;
  /** `OTHERS` = paid from the WeChat balance (settles in simulated minutes); a card type otherwise. */
  payerBankType?: string;
}

/** One refund per order, `count` orders: the shape of a day's refunds, none waiting on another's 60 s spacing. */
export function plannedRefunds(
  prefix: string,
  count: number,
  { amountFen = 1_000, paidTotalFen = 5_000, payerBankType = 'OTHERS' } = {},
): PlannedRefund[] {
  return Array.from({ length: count }, (_, i) => ({
    outTradeNo: `ORD-${prefix}-${String(i).padStart(5, '0')}`,
    outRefundNo: `RF-${prefix}-${String(i).padStart(5, '0')}`,
    amountFen,
    paidTotalFen,
    payerBankType,
  }));
}

/** Tells the simulator about each order's payment (once per order), with the same paid time the ledger gets. */
export async function seedOrders(stack: ReliabilityStack, refunds: PlannedRefund[]): Promise<Map<string, string>> {
  const paidAt = new Map<string, string>();
  for (const r of refunds) {
    if (paidAt.has(r.outTradeNo)) continue;
    const order = await stack.sim.admin.seedOrder({
      mchid: MCHID,
      outTradeNo: r.outTradeNo,
      totalFen: r.paidTotalFen,
      payer: { bankType: r.payerBankType ?? 'OTHERS' },
    });
    paidAt.set(r.outTradeNo, new Date(order.paidAt).toISOString());
  }
  return paidAt;
}

export interface RequestOptions {
  polling?: PollingConfig;
  submitRetry?: SubmitRetryConfig;
  /** Requests in flight at once. */
  concurrency?: number;
}

/** Seeds the orders and asks for every refund through the real starter (update-with-start on the order's ledger). */
export async function requestAll(
  stack: ReliabilityStack,
  refunds: PlannedRefund[],
  { polling = FAST_POLLING, submitRetry = FAST_SUBMIT_RETRY, concurrency = 10 }: RequestOptions = {},
): Promise<Array<RefundReceipt | RefundRejected>> {
  const paidAt = await seedOrders(stack, refunds);
  const results: Array<RefundReceipt | RefundRejected> = new Array(refunds.length);
  let next = 0;
  const lane = async () => {
    while (next < refunds.length) {
      const i = next++;
      const r = refunds[i];
      try {
        results[i] = await requestRefund(
          { client: stack.client, taskQueue: stack.taskQueue, decisionTimeoutMs: 120_000 },
          {
            order: {
              outTradeNo: r.outTradeNo,
              paidTotalFen: r.paidTotalFen,
              paidAt: paidAt.get(r.outTradeNo)!,
              payerBankType: r.payerBankType,
              polling,
              submitRetry,
            },
            refund: { outRefundNo: r.outRefundNo, amountFen: r.amountFen, requestedBy: 'reliability' },
          },
        );
      } catch (err) {
        if (!(err instanceof RefundRejected)) throw err;
        results[i] = err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, refunds.length) }, lane));
  return results;
}

/**
 * Waits for each receipt's refund to end; `timeoutMs` bounds the whole wait. Transient failures to reach Temporal
 * (a restarting server) are retried: the scenario is about the refunds, not about this observer.
 */
export async function awaitAll(
  stack: ReliabilityStack,
  receipts: RefundReceipt[],
  timeoutMs: number,
): Promise<Map<string, RefundOutcome>> {
  const deadline = Date.now() + timeoutMs;
  const outcomes = new Map<string, RefundOutcome>();
  await Promise.all(
    receipts.map(async (receipt) => {
      for (;;) {
        try {
          const handle = refundHandle(stack.client, receipt);
          outcomes.set(receipt.outRefundNo, await handle.result());
          return;
        } catch (err) {
          if (Date.now() > deadline) {
            throw new Error(`${receipt.outRefundNo} not settled after ${timeoutMs} ms: ${String(err)}`, { cause: err });
          }
          // Not started yet (queued on its ledger), or the server is down for a moment.
          await new Promise((r) => setTimeout(r, err instanceof WorkflowNotFoundError ? 500 : 1_000));
        }
      }
    }),
  );
  return outcomes;
}

export interface MoneyCheck {
  ok: boolean;
  problems: string[];
  report: InvariantReport;
}

/**
 * The money invariants at WeChat (the simulator's records are the bank statement here): nothing refunded beyond an
 * order's paid total, no refund number paid out twice, and no refund under a number the order service never chose
 * (which is what "retrying with a new number" would look like).
 */
export async function checkMoney(stack: ReliabilityStack, planned: PlannedRefund[]): Promise<MoneyCheck> {
  const report = await stack.sim.admin.invariants();
  const problems: string[] = [];
  for (const o of report.orders) if (!o.ok) problems.push(`${o.outTradeNo}: ${o.problems.join('; ')}`);
  for (const d of report.duplicatePayouts) problems.push(`${d.outRefundNo} paid out ${d.payouts} times`);
  for (const n of report.negativeBalances) problems.push(`account ${n.owner} below zero: ${n.balanceFen}`);
  const requested = new Set(planned.map((p) => p.outRefundNo));
  const known = await stack.sim.admin.refunds({ owner: MCHID });
  for (const r of known) {
    if (!requested.has(r.outRefundNo)) problems.push(`WeChat saw refund ${r.outRefundNo}, which nobody requested`);
  }
  return { ok: problems.length === 0, problems, report };
}

export type RefundEnd = RefundOutcome['state'] | 'ABNORMAL' | 'MANUAL_REVIEW';

/**
 * Every accepted refund's state on the Temporal side: final (the workflow's result) or waiting for a human (the
 * `status` query of a running workflow). Anything else is reported as a problem: a refund nobody will ever finish.
 */
export async function checkProgress(
  stack: ReliabilityStack,
  receipts: RefundReceipt[],
): Promise<{ ok: boolean; problems: string[]; ends: Map<string, RefundEnd> }> {
  const problems: string[] = [];
  const ends = new Map<string, RefundEnd>();
  for (const receipt of receipts) {
    const handle = refundHandle(stack.client, receipt);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      problems.push(`${receipt.outRefundNo}: no refund workflow (${String(err)})`);
      continue;
    }
    if (description.status.name === 'COMPLETED') {
      ends.set(receipt.outRefundNo, (await handle.result()).state);
    } else if (description.status.name === 'RUNNING') {
      const view = await handle.query(statusQuery);
      if (view.state === 'ABNORMAL' || view.state === 'MANUAL_REVIEW') ends.set(receipt.outRefundNo, view.state);
      else problems.push(`${receipt.outRefundNo}: still ${view.state}, not waiting for anyone`);
    } else {
      problems.push(`${receipt.outRefundNo}: workflow ${description.status.name}`);
    }
  }
  return { ok: problems.length === 0, problems, ends };
}

export function isReceipt(r: RefundReceipt | RefundRejected): r is RefundReceipt {
  return !(r instanceof RefundRejected);
}
