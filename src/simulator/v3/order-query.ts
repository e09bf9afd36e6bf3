/**
 * Order query (§11.1): GET /v3/pay/transactions/{out-trade-no|id}/{id}?mchid= (direct) and
 * /v3/pay/partner/transactions/…?sp_mchid=&sub_mchid= (partner). The merchant named in the query string must be the
 * one that signed the request; a provider sees only its bound sub-merchants' orders.
 */
import { BizError } from '../biz-errors';
import type { SimulatorCore } from '../core';
import { outTradeNoOf } from '../fault-selection';
import { orderQueryDirect, orderQueryPartner, orderQueryPath } from '../wire/v3-requests';
import { v3OrderObject } from '../wire/replies';
import { paramError, type Handler } from './outcome';

export type OrderQueryMode = 'direct' | 'partner';
export type OrderNamedBy = 'out_trade_no' | 'transaction_id';

export function orderQuery(core: SimulatorCore, mode: OrderQueryMode, by: OrderNamedBy): Handler {
  return (req, caller) => {
    const params = req.params as { id: string };
    const pathInput = { [by]: params.id };
    const path = orderQueryPath[by].safeParse(pathInput);
    if (!path.success) return paramError(path.error, pathInput, 'url');
    const query = req.query as Record<string, unknown>;
    const queryInput =
      mode === 'direct' ? { mchid: query.mchid } : { sp_mchid: query.sp_mchid, sub_mchid: query.sub_mchid };
    const q = mode === 'direct' ? orderQueryDirect.safeParse(queryInput) : orderQueryPartner.safeParse(queryInput);
    if (!q.success) return paramError(q.error, queryInput, 'query');
    const [field, named] = 'mchid' in q.data ? ['mchid', q.data.mchid] : ['sp_mchid', q.data.sp_mchid];
    const subMchid = 'sub_mchid' in q.data ? q.data.sub_mchid : undefined;
    const ids = by === 'out_trade_no' ? { outTradeNo: params.id } : { transactionId: params.id };
    return {
      // Faults select by out_trade_no also when the order is named by its transaction_id.
      outTradeNo: ids.outTradeNo ?? outTradeNoOf(core, params.id),
      run: () => {
        if (named !== caller.mchid) {
          throw new BizError(
            'NO_AUTH',
            `${field} ${named} is not the merchant that signed the request (${caller.mchid})`,
          );
        }
        const owner = core.service.resolveQueryOwner(caller, subMchid);
        const order = core.service.findTrade(owner, ids);
        return { ok: true, body: v3OrderObject(order, core.service.tradeState(order), mode === 'partner') };
      },
    };
  };
}
