/**
 * A refund as each API generation shows it: the v3 Refund object (§3.6) and the v2 create reply / query `$n` fields
 * (§5.3, §5.6). Field names are WeChat's, including v2's misspelled `refund_recv_accout`.
 */
import { buildIndexedFields } from '../wechatpay/v2/indexed-fields';
import type { SimOrder, SimRefund } from './model';
import { rfc3339, v2Time } from './time-format';

export function v3RefundObject(r: SimRefund): Record<string, unknown> {
  return {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    channel: r.channel,
    user_received_account: r.userReceivedAccount,
    ...(r.status === 'SUCCESS' && r.successAt !== undefined ? { success_time: rfc3339(r.successAt) } : {}),
    create_time: rfc3339(r.createdAt),
    status: r.status,
    funds_account: r.fundsAccount,
    amount: {
      total: r.amount.total,
      refund: r.amount.refund,
      ...(r.amount.from ? { from: r.amount.from } : {}),
      payer_total: r.amount.payerTotal,
      payer_refund: r.amount.payerRefund,
      settlement_refund: r.amount.settlementRefund,
      settlement_total: r.amount.settlementTotal,
      discount_refund: r.amount.discountRefund,
      currency: 'CNY',
      refund_fee: r.amount.refundFee,
    },
    promotion_detail: r.coupons.map((c) => ({
      promotion_id: c.couponId,
      scope: c.scope,
      type: c.type,
      amount: c.amountFen,
      refund_amount: c.refundFen,
    })),
  };
}

const V2_COUPON_TYPE = { COUPON: 'CASH', DISCOUNT: 'NO_CASH' } as const;

/** Stable id of the i-th coupon part of a refund (the same in the create reply and every query). */
function couponRefundId(r: SimRefund, i: number): string {
  return `${r.refundId.slice(0, 24)}${String(i).padStart(2, '0')}`;
}

/** Data fields of an accepted /secapi/pay/refund(v2) reply. */
export function v2CreateFields(r: SimRefund): Record<string, string | number> {
  return {
    transaction_id: r.transactionId,
    out_trade_no: r.outTradeNo,
    out_refund_no: r.outRefundNo,
    refund_id: r.refundId,
    refund_fee: r.amount.refund,
    settlement_refund_fee: r.amount.settlementRefund,
    total_fee: r.amount.total,
    settlement_total_fee: r.amount.settlementTotal,
    fee_type: 'CNY',
    cash_fee: r.amount.payerTotal,
    cash_fee_type: 'CNY',
    cash_refund_fee: r.amount.payerRefund,
    coupon_refund_fee: r.amount.discountRefund,
    coupon_refund_count: r.coupons.length,
    ...buildIndexedFields(
      r.coupons.map((c, i) => ({
        fields: {
          coupon_type: V2_COUPON_TYPE[c.type],
          coupon_refund_fee: c.refundFen,
          coupon_refund_id: couponRefundId(r, i),
        },
      })),
    ),
  };
}

/** refundv2 `promotion_detail` (a JSON string in the XML, §5.4). */
export function v2PromotionDetail(r: SimRefund): string {
  return JSON.stringify({
    promotion_detail: r.coupons.map((c) => ({
      promotion_id: c.couponId,
      scope: c.scope,
      type: c.type,
      amount: c.amountFen,
      refund_amount: c.refundFen,
      goods_detail: Array.isArray(r.goodsDetail) ? r.goodsDetail : [],
    })),
  });
}

const V2_STATUS = { PROCESSING: 'PROCESSING', SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', ABNORMAL: 'CHANGE' } as const;

/** /pay/refundquery reply fields for `refunds` (already paged) of `order`. */
export function v2QueryFields(
  order: SimOrder,
  refunds: SimRefund[],
  totalRefundCount: number | undefined,
): Record<string, string | number> {
  const counted = refunds.filter((r) => r.status !== 'CLOSED');
  const settlementTotal =
    order.totalFen - order.coupons.filter((c) => c.type === 'DISCOUNT').reduce((s, c) => s + c.amountFen, 0);
  return {
    ...(totalRefundCount !== undefined ? { total_refund_count: totalRefundCount } : {}),
    transaction_id: order.transactionId,
    out_trade_no: order.outTradeNo,
    total_fee: order.totalFen,
    settlement_total_fee: settlementTotal,
    fee_type: 'CNY',
    cash_fee: order.totalFen - order.coupons.reduce((s, c) => s + c.amountFen, 0),
    cash_fee_type: 'CNY',
    refund_fee: counted.reduce((s, r) => s + r.amount.refund, 0),
    coupon_refund_fee: counted.reduce((s, r) => s + r.amount.discountRefund, 0),
    refund_count: refunds.length,
    ...buildIndexedFields(
      refunds.map((r) => ({
        fields: {
          out_refund_no: r.outRefundNo,
          refund_id: r.refundId,
          refund_channel: r.channel === 'OTHER_BALANCE' || r.channel === 'BALANCE' ? 'BALANCE' : 'ORIGINAL',
          refund_fee: r.amount.refund,
          settlement_refund_fee: r.amount.settlementRefund,
          fee_type: 'CNY',
          coupon_refund_fee: r.amount.discountRefund,
          coupon_refund_count: r.coupons.length,
          refund_status: V2_STATUS[r.status],
          refund_account: r.apiVersion === 'v2' ? r.fundsAccount : 'REFUND_SOURCE_UNSETTLED_FUNDS',
          refund_recv_accout: r.userReceivedAccount,
          refund_success_time: r.status === 'SUCCESS' && r.successAt !== undefined ? v2Time(r.successAt) : undefined,
        },
        children: r.coupons.map((c, i) => ({
          coupon_type: V2_COUPON_TYPE[c.type],
          coupon_refund_id: couponRefundId(r, i),
          coupon_refund_fee: c.refundFen,
        })),
      })),
    ),
  };
}
