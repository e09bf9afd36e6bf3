/**
 * POST /pay/refundquery (§5.6). Precedence refund_id > out_refund_no > transaction_id > out_trade_no; an order id
 * lists the order's refunds, 10 per page from `offset`. A certificate is accepted but not required.
 */
import type { SimulatorCore } from '../core';
import { hiddenByLag } from '../fault-selection';
import type { SimMerchant, SimOrder, SimRefund } from '../model';
import type { RefundQueryRequest } from '../wire/v2-requests';
import { v2QueryFields } from '../wire/replies';
import { resultFail, type Outcome, type V2Handler } from './outcome';

const PAGE_SIZE = 10;

const notFound = () => resultFail('REFUNDNOTEXIST', '退款订单查询失败 (no refund under these ids)');

export function refundQuery(core: SimulatorCore): V2Handler<RefundQueryRequest> {
  return (d, caller) => ({
    outRefundNo: d.out_refund_no,
    run: () => runQuery(core, caller, d),
  });
}

function runQuery(core: SimulatorCore, caller: SimMerchant, d: RefundQueryRequest): Outcome {
  const owner = core.service.resolveOwner(caller, d.sub_mch_id);
  const visible = (r: SimRefund) => !hiddenByLag(core, 'v2.refundquery', caller, r);
  let order: SimOrder | undefined;
  let refunds: SimRefund[];
  let byOrder = false;
  if (d.refund_id !== undefined || d.out_refund_no !== undefined) {
    const refund =
      d.refund_id !== undefined
        ? core.store.refundById(d.refund_id)
        : core.service.find(owner, d.out_refund_no as string);
    if (!refund || refund.owner !== owner || !visible(refund)) return notFound();
    order = core.store.orderByTransactionId(refund.transactionId);
    refunds = [refund];
  } else {
    byOrder = true;
    order =
      d.transaction_id !== undefined
        ? core.store.orderByTransactionId(d.transaction_id)
        : core.store.orderByOutTradeNo(owner, d.out_trade_no as string);
    if (!order || order.owner !== owner) return notFound();
    refunds = core.store.refundsOfOrder(order).filter(visible);
    if (refunds.length === 0) return notFound();
  }
  if (!order) return notFound();
  const offset = d.offset ?? 0;
  if (offset > refunds.length) {
    return resultFail('PARAM_ERROR', `offset ${offset} is beyond total_refund_count ${refunds.length}`);
  }
  const page = byOrder ? refunds.slice(offset, offset + PAGE_SIZE) : refunds;
  return {
    kind: 'ok',
    fields: v2QueryFields(order, page, byOrder && refunds.length > PAGE_SIZE ? refunds.length : undefined),
  };
}
