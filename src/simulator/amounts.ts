/**
 * Amount fields of a refund (reference §2.2), in integer fen.
 *
 * Coupons are refunded in proportion to the order: after a refund, each coupon has returned
 * floor(cumulative refund × coupon / total), so the parts are integers, never exceed the coupon, and a refund that
 * completes the order returns every coupon exactly. `payer_refund = refund − discount_refund`; `settlement_refund`
 * leaves out non-recharge (DISCOUNT) coupons; the processing fee comes back pro rata:
 * refund_fee = round(refund × feeRate) (an assumption, §8.4).
 */
import type { CouponRefund, RefundAmounts, SimOrder, SimRefund } from './model';

export interface ComputedAmounts {
  amount: RefundAmounts;
  coupons: CouponRefund[];
  /** What the merchant's account pays: the settled part of the refund minus the returned fee. */
  merchantDebitFen: number;
}

/** `prior`: the order's refunds that still count (not CLOSED), before this one. */
export function computeRefundAmounts(
  order: SimOrder,
  prior: readonly SimRefund[],
  refundFen: number,
  feeRateBps: number,
  from?: RefundAmounts['from'],
): ComputedAmounts {
  const total = order.totalFen;
  const cumBefore = prior.reduce((s, r) => s + r.amount.refund, 0);
  const cumAfter = cumBefore + refundFen;
  const coupons: CouponRefund[] = order.coupons.map((c) => {
    const returnedBefore = prior.reduce(
      (s, r) => s + (r.coupons.find((x) => x.couponId === c.couponId)?.refundFen ?? 0),
      0,
    );
    const dueAfter = Math.floor((cumAfter * c.amountFen) / total);
    const part = Math.max(0, Math.min(c.amountFen - returnedBefore, dueAfter - returnedBefore));
    return { couponId: c.couponId, type: c.type, scope: c.scope, amountFen: c.amountFen, refundFen: part };
  });
  const discountRefund = coupons.reduce((s, c) => s + c.refundFen, 0);
  const nonRechargeRefund = coupons.filter((c) => c.type === 'DISCOUNT').reduce((s, c) => s + c.refundFen, 0);
  const couponTotal = order.coupons.reduce((s, c) => s + c.amountFen, 0);
  const nonRechargeTotal = order.coupons.filter((c) => c.type === 'DISCOUNT').reduce((s, c) => s + c.amountFen, 0);
  const settlementRefund = refundFen - nonRechargeRefund;
  const refundFee = Math.round((refundFen * feeRateBps) / 10_000);
  return {
    amount: {
      total,
      refund: refundFen,
      payerTotal: total - couponTotal,
      payerRefund: refundFen - discountRefund,
      settlementTotal: total - nonRechargeTotal,
      settlementRefund,
      discountRefund,
      refundFee,
      ...(from ? { from } : {}),
    },
    coupons: coupons.filter((c) => c.refundFen > 0),
    merchantDebitFen: Math.max(0, settlementRefund - refundFee),
  };
}
