/**
 * What WeChat accepts on the v3 request side (docs/wechatpay-protocol.md §3.6–§3.8, §11.1): bodies, path parameters
 * and query strings, with WeChat's field names. A request that fails here is answered 400 PARAM_ERROR with a
 * `detail` naming the field (§3.9). Business rules (refund ≤ total, the order's total, …) are not format rules and
 * live in refund-service.ts.
 */
import { z } from 'zod';
import {
  cny,
  fen,
  mchid,
  notifyUrl,
  outRefundNo,
  outTradeNo,
  positiveCount,
  reason,
  refundId,
  sized,
  transactionId,
} from './field-rules';

const ONE_ORDER_ID = 'one of transaction_id or out_trade_no is required';

// ---------------------------------------------------------------------------------------------------------------
// POST /v3/refund/domestic/refunds (§3.6, §2.3)
// ---------------------------------------------------------------------------------------------------------------

const amountFrom = z.object({
  account: z.enum(['AVAILABLE', 'UNAVAILABLE'], { error: 'must be AVAILABLE or UNAVAILABLE' }),
  amount: fen,
});

const goodsItem = z.object({
  merchant_goods_id: sized(1, 32),
  wechatpay_goods_id: sized(1, 32).optional(),
  goods_name: sized(1, 256).optional(),
  unit_price: fen,
  refund_amount: fen,
  refund_quantity: positiveCount,
});

export const createRefundBody = z
  .object({
    /** Partner mode only (§1.1). */
    sub_mchid: mchid.optional(),
    transaction_id: transactionId.optional(),
    out_trade_no: outTradeNo.optional(),
    out_refund_no: outRefundNo,
    reason: reason.optional(),
    notify_url: notifyUrl.optional(),
    /** Request side of §2.3: AVAILABLE, or UNSETTLED for travel deposits. */
    funds_account: z.enum(['AVAILABLE', 'UNSETTLED'], { error: 'must be AVAILABLE or UNSETTLED' }).optional(),
    amount: z.object({
      refund: fen,
      total: fen,
      currency: cny,
      from: z.array(amountFrom).min(1, { error: 'must list at least one account when present' }).optional(),
    }),
    goods_detail: z.array(goodsItem).min(1, { error: 'must list at least one item when present' }).optional(),
  })
  .refine((r) => r.transaction_id !== undefined || r.out_trade_no !== undefined, {
    error: ONE_ORDER_ID,
    path: ['out_trade_no'],
  });
export type CreateRefundBody = z.output<typeof createRefundBody>;

// ---------------------------------------------------------------------------------------------------------------
// GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=] (§3.7)
// ---------------------------------------------------------------------------------------------------------------

/** The path parameter and the query string together. */
export const queryRefundInput = z.object({ out_refund_no: outRefundNo, sub_mchid: mchid.optional() });

// ---------------------------------------------------------------------------------------------------------------
// POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund (§3.8)
// ---------------------------------------------------------------------------------------------------------------

/** §3.8: debit cards of these 15 banks only. */
export const ABNORMAL_REFUND_BANK_TYPES = [
  'CMB_DEBIT',
  'COMM_DEBIT',
  'ABC_DEBIT',
  'CCB_DEBIT',
  'ICBC_DEBIT',
  'BOC_DEBIT',
  'PAB_DEBIT',
  'SPDB_DEBIT',
  'CITIC_DEBIT',
  'CEB_DEBIT',
  'CMBC_DEBIT',
  'CIB_DEBIT',
  'GDB_DEBIT',
  'PSBC_DEBIT',
  'NBCB_DEBIT',
] as const;

export const abnormalRefundPath = z.object({ refund_id: refundId });

/** bank_account and real_name arrive as RSA-OAEP ciphertext (base64, §3.5); the route decrypts them. */
export const abnormalRefundBody = z
  .object({
    sub_mchid: mchid.optional(),
    out_refund_no: outRefundNo,
    type: z.enum(['USER_BANK_CARD', 'MERCHANT_BANK_CARD'], { error: 'must be USER_BANK_CARD or MERCHANT_BANK_CARD' }),
    bank_type: z
      .enum(ABNORMAL_REFUND_BANK_TYPES, { error: `must be one of ${ABNORMAL_REFUND_BANK_TYPES.join(', ')}` })
      .optional(),
    bank_account: sized(1, 1024).optional(),
    real_name: sized(1, 1024).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.type !== 'USER_BANK_CARD') return;
    for (const f of ['bank_type', 'bank_account', 'real_name'] as const) {
      if (r[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'is required for USER_BANK_CARD' });
    }
  });

// ---------------------------------------------------------------------------------------------------------------
// Order query (§11.1): GET /v3/pay/transactions/{out-trade-no|id}/{id}?mchid=
//                      GET /v3/pay/partner/transactions/{out-trade-no|id}/{id}?sp_mchid=&sub_mchid=
// ---------------------------------------------------------------------------------------------------------------

/** The path parameter, by how the order is named. */
export const orderQueryPath = {
  out_trade_no: z.object({ out_trade_no: outTradeNo }),
  transaction_id: z.object({ transaction_id: transactionId }),
} as const;

/** Direct mode query string: `?mchid=` (required; must be the signing merchant). */
export const orderQueryDirect = z.object({ mchid });

/** Partner mode query string: `?sp_mchid=&sub_mchid=` (both required; sp_mchid must be the signing provider). */
export const orderQueryPartner = z.object({ sp_mchid: mchid, sub_mchid: mchid });

// ---------------------------------------------------------------------------------------------------------------
// GET /v3/bill/tradebill?bill_date=&bill_type=&tar_type=[&sub_mchid=] (§12.1)
// ---------------------------------------------------------------------------------------------------------------

/** A real calendar day written YYYY-MM-DD. */
export const billDate = z.iso.date({ error: 'must be a date written YYYY-MM-DD' });

export const tradeBillQuery = z.object({
  bill_date: billDate,
  /** ALL (WeChat's default), SUCCESS, REFUND: the simulator publishes refund bills only. */
  bill_type: z.literal('REFUND', { error: 'must be REFUND (the simulator serves refund bills only)' }),
  tar_type: z.literal('GZIP', { error: "must be 'GZIP' when present" }).optional(),
  /** Partner mode: the sub-merchant whose bill is wanted. */
  sub_mchid: mchid.optional(),
});
export type TradeBillQuery = z.output<typeof tradeBillQuery>;

/** GET /v3/billdownload/file?token= : the token of a download_url. */
export const billDownloadQuery = z.object({ token: sized(1, 128) });
