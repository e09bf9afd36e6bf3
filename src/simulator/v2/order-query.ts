/** POST /pay/orderquery (§11.2): the payment's own record; like the refund query, no client certificate needed. */
import type { SimulatorCore } from '../core';
import { outTradeNoOf } from '../fault-selection';
import type { OrderQueryRequest } from '../wire/v2-requests';
import { v2OrderQueryFields } from '../wire/replies';
import type { Outcome, V2Handler } from './outcome';

export function orderQuery(core: SimulatorCore): V2Handler<OrderQueryRequest> {
  return (d, caller) => ({
    outTradeNo: d.transaction_id !== undefined ? outTradeNoOf(core, d.transaction_id) : d.out_trade_no,
    run: (): Outcome => {
      const owner = core.service.resolveQueryOwner(caller, d.sub_mch_id);
      // transaction_id wins when both are sent (§11.2, as on every v2 call).
      const order = core.service.findTrade(
        owner,
        d.transaction_id !== undefined ? { transactionId: d.transaction_id } : { outTradeNo: d.out_trade_no },
      );
      return { kind: 'ok', fields: v2OrderQueryFields(order, core.service.tradeState(order)) };
    },
  });
}
