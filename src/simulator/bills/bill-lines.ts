/**
 * One refund as a bill row, frozen when the bill is made (§12.3: the bill is a snapshot; a row saying PROCESSING
 * stays PROCESSING after the refund succeeds). Plain data, copied out of the live refund, so later transitions of
 * the refund cannot reach a bill that was already made.
 */
import type { RefundStatus, SimMerchant, SimOrder, SimRefund } from '../model';
import { v2Time } from '../time-format';

export interface BillLine {
  /** 交易时间: when the order was paid. */
  tradeTime: string;
  appid: string;
  mchid: string;
  subMchid?: string;
  transactionId: string;
  outTradeNo: string;
  openid: string;
  bankType: string;
  orderTotalFen: number;
  /** The order total less non-recharge coupons (应结订单金额). */
  settlementTotalFen: number;
  orderCouponFen: number;
  /** 退款申请时间: acceptance, the day the row belongs to. */
  requestedAt: string;
  /** 退款成功时间, only when the refund had succeeded when the bill was made. */
  succeededAt?: string;
  refundId: string;
  outRefundNo: string;
  /** 退款金额: what the refund settles (申请退款金额 less non-recharge coupons). */
  refundFen: number;
  /** 申请退款金额: the amount requested. */
  requestedRefundFen: number;
  /** Every coupon's share of the refund (v2 代金券或立减优惠退款金额). */
  couponRefundFen: number;
  /** Recharge coupons' share (v3 充值券退款金额). */
  rechargeCouponRefundFen: number;
  /** ORIGINAL or BALANCE. */
  refundType: string;
  status: RefundStatus;
  goodsName: string;
  /** The processing fee returned with the refund. */
  feeFen: number;
  feeRateBps: number;
}

export function billLineOf(refund: SimRefund, order: SimOrder, merchant: SimMerchant): BillLine {
  const sum = (xs: Array<{ refundFen: number }>) => xs.reduce((s, c) => s + c.refundFen, 0);
  return {
    tradeTime: v2Time(order.paidAt),
    appid: order.appid,
    mchid: refund.mchid,
    subMchid: refund.subMchid,
    transactionId: refund.transactionId,
    outTradeNo: refund.outTradeNo,
    openid: order.payer.openid ?? '',
    bankType: order.payer.bankType,
    orderTotalFen: refund.amount.total,
    settlementTotalFen: refund.amount.settlementTotal,
    orderCouponFen: order.coupons.reduce((s, c) => s + c.amountFen, 0),
    requestedAt: v2Time(refund.createdAt),
    succeededAt: refund.status === 'SUCCESS' && refund.successAt !== undefined ? v2Time(refund.successAt) : undefined,
    refundId: refund.refundId,
    outRefundNo: refund.outRefundNo,
    refundFen: refund.amount.settlementRefund,
    requestedRefundFen: refund.amount.refund,
    couponRefundFen: sum(refund.coupons),
    rechargeCouponRefundFen: sum(refund.coupons.filter((c) => c.type === 'COUPON')),
    refundType: refund.channel === 'BALANCE' || refund.channel === 'OTHER_BALANCE' ? 'BALANCE' : 'ORIGINAL',
    status: refund.status,
    goodsName: order.goods.length > 0 ? `商品${order.goods[0].goodsId}` : '商品',
    feeFen: refund.amount.refundFee,
    feeRateBps: merchant.feeRateBps,
  };
}
