/** POST /secapi/pay/refund (§5.3) and /secapi/pay/refundv2 (§5.4, with the single-item `detail`). */
import type { SimulatorCore } from '../core';
import { outTradeNoOf } from '../fault-selection';
import { refundDetail, type RefundV2Request } from '../wire/v2-requests';
import { v2CreateFields, v2PromotionDetail } from '../wire/replies';
import { resultFail, type Fields, type Outcome, type V2Handler } from './outcome';

/** `detail` was checked by the schema; decoded here into the items refund-service.ts understands. */
function goodsOf(detail: string | undefined) {
  if (!detail) return undefined;
  return refundDetail.parse(JSON.parse(detail)).goods_detail.map((g) => ({
    goodsId: g.goods_id,
    refundAmount: g.refund_amount,
    refundQuantity: g.refund_quantity,
    price: g.price,
  }));
}

/** Both create endpoints; /secapi/pay/refund's schema has no `detail`, so its requests carry none. */
export function createRefund(core: SimulatorCore, endpoint: 'v2.refund' | 'v2.refundv2'): V2Handler<RefundV2Request> {
  return (d, caller) => {
    const goods = goodsOf(d.detail);
    return {
      outRefundNo: d.out_refund_no,
      outTradeNo: d.transaction_id !== undefined ? outTradeNoOf(core, d.transaction_id) : d.out_trade_no,
      run: (): Outcome => {
        const owner = core.service.resolveOwner(caller, d.sub_mch_id);
        const order = core.service.findOrder('v2', owner, d.transaction_id, d.out_trade_no);
        if (core.service.isOldOrder(order)) {
          const old = core.limiter.checkOldOrder(caller.mchid);
          if (!old.ok) return resultFail('FREQUENCY_LIMITED', old.message);
        }
        const result = core.service.create({
          api: 'v2',
          endpoint,
          caller,
          subMchid: d.sub_mch_id,
          transactionId: d.transaction_id,
          outTradeNo: d.out_trade_no,
          outRefundNo: d.out_refund_no,
          refundFen: d.refund_fee,
          totalFen: d.total_fee,
          reason: d.refund_desc,
          notifyUrl: d.notify_url,
          fundsAccount: d.refund_account,
          goods,
        });
        const fields: Fields = v2CreateFields(result.refund);
        if (endpoint === 'v2.refundv2') fields.promotion_detail = v2PromotionDetail(result.refund);
        return {
          kind: 'ok',
          fields,
          release: result.release,
          holdMs: result.created ? core.config.rules.createProcessingMs : 0,
        };
      },
    };
  };
}
