/**
 * Workflow IDs are business keys (design.md): Temporal's ID uniqueness plus WeChat's out_refund_no give idempotency,
 * so there is no side table. Every part of the product builds IDs through these two functions.
 */
import { outRefundNoSchema, outTradeNoSchema, subMchidSchema } from './schemas';

const LEDGER_PREFIX = 'refund-order-';
const REFUND_PREFIX = 'refund-';

/**
 * `refund-<out_refund_no>`, or `refund-<sub_mchid>-<out_refund_no>` in service-provider (partner) mode, where
 * out_refund_no is only unique per sub-merchant.
 *
 * An out_refund_no starting with `order-` is refused: `refund-order-…` is the ledger's namespace and the two IDs
 * could collide (`refund-order-123456` would be both).
 */
export function refundWorkflowId(outRefundNo: string, subMchid?: string): string {
  const no = outRefundNoSchema.parse(outRefundNo);
  const mch = subMchid === undefined ? undefined : subMchidSchema.parse(subMchid);
  return mch === undefined ? `${REFUND_PREFIX}${no}` : `${REFUND_PREFIX}${mch}-${no}`;
}

/** `refund-order-<out_trade_no>`, or `refund-order-<sub_mchid>-<out_trade_no>` in partner mode. */
export function orderWorkflowId(outTradeNo: string, subMchid?: string): string {
  const no = outTradeNoSchema.parse(outTradeNo);
  const mch = subMchid === undefined ? undefined : subMchidSchema.parse(subMchid);
  return mch === undefined ? `${LEDGER_PREFIX}${no}` : `${LEDGER_PREFIX}${mch}-${no}`;
}
