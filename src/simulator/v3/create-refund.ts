/** POST /v3/refund/domestic/refunds (§3.6): validate the body, then hand the refund to refund-service.ts. */
import type { SimulatorCore } from '../core';
import { outTradeNoOf } from '../fault-selection';
import type { SimMerchant } from '../model';
import { createRefundBody, type CreateRefundBody } from '../wire/v3-requests';
import { v3RefundObject } from '../wire/replies';
import { failure, parseJsonBody, type Handler, type Outcome } from './outcome';

export function createRefund(core: SimulatorCore): Handler {
  return (_req, caller, body) => {
    const p = parseJsonBody(createRefundBody, body);
    if (!('data' in p)) return p;
    const r = p.data;
    return {
      outRefundNo: r.out_refund_no,
      outTradeNo: r.out_trade_no ?? outTradeNoOf(core, r.transaction_id),
      run: () => runCreate(core, caller, r),
    };
  };
}

/** §2.3: the parts of amount.from add up to amount.refund, and no account appears twice. */
function fromPartsProblem(amount: CreateRefundBody['amount']): Outcome | undefined {
  if (!amount.from) return undefined;
  const sum = amount.from.reduce((s, f) => s + f.amount, 0);
  const accounts = new Set(amount.from.map((f) => f.account));
  if (sum === amount.refund && accounts.size === amount.from.length) return undefined;
  return failure(400, 'PARAM_ERROR', 'amount.from must add up to amount.refund, each account once', {
    field: '/amount/from',
    issue: 'parts must add up to amount.refund and accounts must not repeat',
    location: 'body',
  });
}

function runCreate(core: SimulatorCore, caller: SimMerchant, r: CreateRefundBody): Outcome {
  const owner = core.service.resolveOwner(caller, r.sub_mchid);
  const order = core.service.findOrder('v3', owner, r.transaction_id, r.out_trade_no);
  if (core.service.isOldOrder(order)) {
    const old = core.limiter.checkOldOrder(caller.mchid);
    if (!old.ok) return failure(429, 'FREQUENCY_LIMITED', old.message);
  }
  const fromProblem = fromPartsProblem(r.amount);
  if (fromProblem) return fromProblem;
  const result = core.service.create({
    api: 'v3',
    endpoint: 'v3.create',
    caller,
    subMchid: r.sub_mchid,
    transactionId: r.transaction_id,
    outTradeNo: r.out_trade_no,
    outRefundNo: r.out_refund_no,
    refundFen: r.amount.refund,
    totalFen: r.amount.total,
    reason: r.reason,
    notifyUrl: r.notify_url,
    fundsAccount: r.funds_account,
    from: r.amount.from,
    goods: r.goods_detail?.map((g) => ({
      goodsId: g.merchant_goods_id,
      refundAmount: g.refund_amount,
      refundQuantity: g.refund_quantity,
      price: g.unit_price,
    })),
  });
  return {
    ok: true,
    body: v3RefundObject(result.refund),
    release: result.release,
    holdMs: result.created ? core.config.rules.createProcessingMs : 0,
  };
}
