/**
 * WeChat's money rules for one order (reference §2.1), checked by the order ledger BEFORE anything is submitted:
 *  M1  amounts are positive integer fen
 *  M4  refund ≤ total, and succeeded + in-flight (reserved) + this refund ≤ paid total
 *  M5  only within one year of payment: paid time + 365 days
 *  M6  at most 50 refunds per order, closed ones included
 *  M8  the same out_refund_no always carries the same amount
 * Pure: used by the ledger workflow's update validator and handler.
 */
import { countsTowardsRefundLimit, moneyEffect, type LedgerEntryStatus } from './status';
import { DAY_MS } from './poll-schedule';

export const MAX_REFUNDS_PER_ORDER = 50;
export const REFUND_WINDOW_DAYS = 365;

export interface OrderPayment {
  outTradeNo: string;
  paidTotalFen: number;
  paidAtMs: number;
}

export interface LedgerEntryMoney {
  outRefundNo: string;
  amountFen: number;
  status: LedgerEntryStatus;
}

export interface OrderMoneySummary {
  paidTotalFen: number;
  succeededFen: number;
  /** Promised but not settled: queued, pending, processing, abnormal, manual review. */
  reservedFen: number;
  releasedFen: number;
  /** paid − succeeded − reserved: what a new refund may ask for. */
  refundableFen: number;
  /** Refunds counting towards the limit of 50 (everything except REJECTED). */
  refundCount: number;
}

export function refundDeadlineMs(paidAtMs: number): number {
  return paidAtMs + REFUND_WINDOW_DAYS * DAY_MS;
}

export function summarizeOrder(payment: OrderPayment, entries: readonly LedgerEntryMoney[]): OrderMoneySummary {
  let succeededFen = 0;
  let reservedFen = 0;
  let releasedFen = 0;
  let refundCount = 0;
  for (const entry of entries) {
    const effect = moneyEffect(entry.status);
    if (effect === 'consumed') succeededFen += entry.amountFen;
    else if (effect === 'reserved') reservedFen += entry.amountFen;
    else releasedFen += entry.amountFen;
    if (countsTowardsRefundLimit(entry.status)) refundCount += 1;
  }
  return {
    paidTotalFen: payment.paidTotalFen,
    succeededFen,
    reservedFen,
    releasedFen,
    refundableFen: Math.max(0, payment.paidTotalFen - succeededFen - reservedFen),
    refundCount,
  };
}

export type RefundRule = 'M1' | 'M4' | 'M5' | 'M6' | 'M8';

export type RefundCheck<E extends LedgerEntryMoney> =
  | { ok: true; kind: 'new' }
  /** the same out_refund_no with the same amount: answer as the first time (idempotent). */
  | { ok: true; kind: 'duplicate'; entry: E }
  | { ok: false; rule: RefundRule; message: string };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function checkRefundRequest<E extends LedgerEntryMoney>(
  payment: OrderPayment,
  entries: readonly E[],
  request: { outRefundNo: string; amountFen: number },
  nowMs: number,
): RefundCheck<E> {
  const { outRefundNo, amountFen } = request;
  if (!Number.isSafeInteger(amountFen) || amountFen <= 0) {
    return { ok: false, rule: 'M1', message: `amountFen must be a positive integer number of fen, got ${amountFen}` };
  }

  // Idempotency comes before the caps: a repeat of an accepted request must get the same answer even when the
  // order has since reached a cap or the year has run out.
  const existing = entries.find((e) => e.outRefundNo === outRefundNo);
  if (existing) {
    if (existing.amountFen === amountFen) return { ok: true, kind: 'duplicate', entry: existing };
    return {
      ok: false,
      rule: 'M8',
      message:
        `out_refund_no ${outRefundNo} was already requested for ${existing.amountFen} fen; ` +
        `the same number with a different amount (${amountFen} fen) is refused (M8)`,
    };
  }

  const deadline = refundDeadlineMs(payment.paidAtMs);
  if (nowMs > deadline) {
    return {
      ok: false,
      rule: 'M5',
      message:
        `order ${payment.outTradeNo} was paid at ${iso(payment.paidAtMs)}; refunds are only possible until ` +
        `${iso(deadline)} (payment + ${REFUND_WINDOW_DAYS} days, M5)`,
    };
  }

  const summary = summarizeOrder(payment, entries);
  if (summary.refundCount >= MAX_REFUNDS_PER_ORDER) {
    return {
      ok: false,
      rule: 'M6',
      message:
        `order ${payment.outTradeNo} already has ${summary.refundCount} refunds (closed ones count); ` +
        `WeChat allows at most ${MAX_REFUNDS_PER_ORDER} per order (M6)`,
    };
  }

  if (amountFen > summary.refundableFen) {
    return {
      ok: false,
      rule: 'M4',
      message:
        `amountFen ${amountFen} exceeds the refundable amount of order ${payment.outTradeNo}: ` +
        `${summary.refundableFen} fen (paid ${summary.paidTotalFen}, refunded ${summary.succeededFen}, ` +
        `in flight ${summary.reservedFen}) (M4)`,
    };
  }

  return { ok: true, kind: 'new' };
}
