/** GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=] (§3.7). */
import type { SimulatorCore } from '../core';
import { hiddenByLag } from '../fault-selection';
import { queryRefundInput } from '../wire/v3-requests';
import { v3RefundObject } from '../wire/replies';
import { failure, paramError, type Handler } from './outcome';

export function queryRefund(core: SimulatorCore): Handler {
  return (req, caller) => {
    const params = req.params as { outRefundNo: string };
    const query = req.query as Record<string, unknown>;
    const input = { out_refund_no: params.outRefundNo, sub_mchid: query.sub_mchid };
    const r = queryRefundInput.safeParse(input);
    if (!r.success) return paramError(r.error, input, r.error.issues[0].path[0] === 'sub_mchid' ? 'query' : 'url');
    const { out_refund_no: outRefundNo, sub_mchid: subMchid } = r.data;
    return {
      outRefundNo,
      run: () => {
        const owner = core.service.resolveOwner(caller, subMchid, 'query');
        const refund = core.service.find(owner, outRefundNo);
        if (!refund || hiddenByLag(core, 'v3.query', caller, refund)) {
          return failure(404, 'RESOURCE_NOT_EXISTS', `no refund with out_refund_no ${outRefundNo}`);
        }
        return { ok: true, body: v3RefundObject(refund) };
      },
    };
  };
}
