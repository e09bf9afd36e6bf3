/**
 * A refund as each API generation shows it: the v3 Refund object (§3.6) and the v2 create reply / query `$n` fields
 * (§5.3, §5.6). Field names are WeChat's, including v2's misspelled `refund_recv_accout`.
 */
import type { SimOrder, SimRefund } from '../model';
import { derivedOpenid } from '../orders';
import { rfc3339, v2Time } from '../time-format';
import { indexedFields } from './v2-indexed-fields';

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
    ...indexedFields(
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
    ...indexedFields(
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

// ---------------------------------------------------------------------------------------------------------------
// Order query (§11): the payment's own record.
// ---------------------------------------------------------------------------------------------------------------

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND';

const TRADE_STATE_DESC: Record<TradeState, string> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '订单未支付',
};

/** The payer's openid under the sub-merchant's own appid (partner mode with sub_appid). */
function subOpenid(order: SimOrder): string | undefined {
  return order.subAppid ? derivedOpenid(order.subAppid, order.owner, order.outTradeNo) : undefined;
}

const couponsFen = (order: SimOrder) => order.coupons.reduce((s, c) => s + c.amountFen, 0);

/**
 * v3 order query body (§11.1), direct (`appid`, `mchid`, `payer.openid`) or partner (`sp_appid`, `sp_mchid`,
 * `sub_appid`, `sub_mchid`, `payer.sp_openid` / `sub_openid`). Unpaid orders have no transaction_id, bank_type,
 * success_time, payer or payer_total yet.
 */
export function v3OrderObject(order: SimOrder, state: TradeState, partner: boolean): Record<string, unknown> {
  const paid = state !== 'NOTPAY';
  const ids = partner
    ? {
        sp_appid: order.appid,
        sp_mchid: order.mchid,
        ...(order.subAppid ? { sub_appid: order.subAppid } : {}),
        sub_mchid: order.owner,
      }
    : { appid: order.appid, mchid: order.mchid };
  const sub = subOpenid(order);
  const payer = partner
    ? { sp_openid: order.payer.openid, ...(sub ? { sub_openid: sub } : {}) }
    : { openid: order.payer.openid };
  return {
    ...ids,
    out_trade_no: order.outTradeNo,
    ...(paid ? { transaction_id: order.transactionId } : {}),
    trade_type: 'JSAPI',
    trade_state: state,
    trade_state_desc: TRADE_STATE_DESC[state],
    ...(paid ? { bank_type: order.payer.bankType, success_time: rfc3339(order.paidAt) } : {}),
    attach: '',
    ...(paid ? { payer } : {}),
    amount: {
      total: order.totalFen,
      ...(paid ? { payer_total: order.totalFen - couponsFen(order) } : {}),
      currency: 'CNY',
      payer_currency: 'CNY',
    },
    promotion_detail: paid
      ? order.coupons.map((c) => ({
          coupon_id: c.couponId,
          scope: c.scope,
          type: c.type === 'COUPON' ? 'CASH' : 'NOCASH',
          amount: c.amountFen,
          wechatpay_contribute: 0,
          merchant_contribute: c.amountFen,
          other_contribute: 0,
          currency: 'CNY',
        }))
      : [],
  };
}

/** v2 `yyyyMMddHHmmss`, Beijing time (order query `time_end`). */
function v2CompactTime(ms: number): string {
  return v2Time(ms).replace(/[- :]/g, '');
}

/** /pay/orderquery data fields (§11.2); only trade_state, its description and out_trade_no for an unpaid order. */
export function v2OrderQueryFields(order: SimOrder, state: TradeState): Record<string, string | number> {
  const base = { out_trade_no: order.outTradeNo, trade_state: state, trade_state_desc: TRADE_STATE_DESC[state] };
  if (state === 'NOTPAY') return base;
  const settlementTotal =
    order.totalFen - order.coupons.filter((c) => c.type === 'DISCOUNT').reduce((s, c) => s + c.amountFen, 0);
  const sub = subOpenid(order);
  return {
    ...base,
    transaction_id: order.transactionId,
    trade_type: 'JSAPI',
    bank_type: order.payer.bankType,
    total_fee: order.totalFen,
    settlement_total_fee: settlementTotal,
    fee_type: 'CNY',
    cash_fee: order.totalFen - couponsFen(order),
    cash_fee_type: 'CNY',
    coupon_fee: couponsFen(order),
    ...(order.coupons.length > 0 ? { coupon_count: order.coupons.length } : {}),
    ...indexedFields(
      order.coupons.map((c) => ({
        fields: { coupon_type: V2_COUPON_TYPE[c.type], coupon_id: c.couponId, coupon_fee: c.amountFen },
      })),
    ),
    time_end: v2CompactTime(order.paidAt),
    openid: order.payer.openid ?? '',
    is_subscribe: 'N',
    ...(sub ? { sub_openid: sub, sub_is_subscribe: 'N' } : {}),
  };
}
