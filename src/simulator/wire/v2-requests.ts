/**
 * What WeChat accepts on the v2 request side (docs/wechatpay-protocol.md §5.3, §5.4, §5.6, §11.2), applied to the
 * parsed XML (every value a string). A request that fails here is answered result_code=FAIL / PARAM_ERROR, with
 * err_code_des listing the fields (describeIssues). sign and appid are checked by the v2 pipeline before these.
 */
import { z } from 'zod';
import {
  appid,
  cny,
  FEN_RULE,
  fen,
  mchid,
  notifyUrl,
  outRefundNo,
  outTradeNo,
  positiveCount,
  refundId,
  ruled,
  sized,
  transactionId,
} from './field-rules';

/** XML carries numbers as text: a digit string becomes a number before the rule is checked. */
function numberText<T extends z.ZodType>(inner: T) {
  return z.preprocess((v) => (typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : v), inner);
}
const fenText = numberText(fen);
const countText = numberText(
  z.int({ error: 'must be a non-negative integer' }).nonnegative({ error: 'must be a non-negative integer' }),
);
const signType = z.enum(['MD5', 'HMAC-SHA256'], { error: 'must be MD5 or HMAC-SHA256' });

/** sign_type as sent (§5.2): absent or empty means MD5; an unknown value is undefined (the sign cannot be checked). */
export function signTypeOf(value: string | undefined): 'MD5' | 'HMAC-SHA256' | undefined {
  if (value === undefined || value === '') return 'MD5';
  return value === 'MD5' || value === 'HMAC-SHA256' ? value : undefined;
}

/** §5.3: the fields every signed v2 request carries. */
const signedRequest = {
  appid,
  mch_id: mchid,
  sub_appid: appid.optional(),
  sub_mch_id: mchid.optional(),
  nonce_str: sized(1, 32),
  sign: sized(32, 64),
  sign_type: signType.optional(),
};

const ONE_ORDER_ID = 'one of transaction_id or out_trade_no is required';
const namesAnOrder = (r: { transaction_id?: string; out_trade_no?: string }) =>
  r.transaction_id !== undefined || r.out_trade_no !== undefined;

// ---------------------------------------------------------------------------------------------------------------
// POST /secapi/pay/refund (§5.3)
// ---------------------------------------------------------------------------------------------------------------

const refundFields = {
  ...signedRequest,
  transaction_id: transactionId.optional(),
  out_trade_no: outTradeNo.optional(),
  out_refund_no: outRefundNo,
  total_fee: fenText,
  refund_fee: fenText,
  refund_fee_type: cny.optional(),
  refund_desc: z.string().max(80, { error: 'must be at most 80 characters' }).optional(),
  refund_account: z
    .enum(['REFUND_SOURCE_UNSETTLED_FUNDS', 'REFUND_SOURCE_RECHARGE_FUNDS'], {
      error: 'must be REFUND_SOURCE_UNSETTLED_FUNDS or REFUND_SOURCE_RECHARGE_FUNDS',
    })
    .optional(),
  notify_url: notifyUrl.optional(),
  /** Legacy (§5.2), signed like any other field when sent. */
  op_user_id: z.string().max(32).optional(),
};

export const refundRequest = z
  .object(refundFields)
  .refine(namesAnOrder, { error: ONE_ORDER_ID, path: ['out_trade_no'] });

// ---------------------------------------------------------------------------------------------------------------
// POST /secapi/pay/refundv2 (§5.4): `detail` is a JSON string inside the XML
// ---------------------------------------------------------------------------------------------------------------

const refundDetailItem = z.object({
  goods_id: sized(1, 32),
  wxpay_goods_id: sized(1, 32).optional(),
  goods_name: sized(1, 256).optional(),
  refund_amount: z.int({ error: FEN_RULE }).positive({ error: FEN_RULE }),
  refund_quantity: positiveCount,
  price: z.int({ error: FEN_RULE }).positive({ error: FEN_RULE }),
});

/** The decoded `detail`. */
export const refundDetail = z.object({
  goods_detail: z.array(refundDetailItem).min(1, { error: 'must list at least one item' }),
});

/** `detail` as sent: at most 6000 characters of JSON matching refundDetail; issues are reported under detail.<path>. */
const refundDetailText = z
  .string()
  .max(6000, { error: 'must be at most 6000 characters' })
  .superRefine((s, ctx) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON string' });
      return;
    }
    const r = refundDetail.safeParse(parsed);
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
  });

export const refundV2Request = z
  .object({ ...refundFields, detail: refundDetailText.optional() })
  .refine(namesAnOrder, { error: ONE_ORDER_ID, path: ['out_trade_no'] });
export type RefundV2Request = z.output<typeof refundV2Request>;

// ---------------------------------------------------------------------------------------------------------------
// POST /pay/refundquery (§5.6)
// ---------------------------------------------------------------------------------------------------------------

export const refundQueryRequest = z
  .object({
    ...signedRequest,
    device_info: z.string().max(32).optional(),
    offset: countText.optional(),
    refund_id: refundId.optional(),
    out_refund_no: outRefundNo.optional(),
    transaction_id: transactionId.optional(),
    out_trade_no: outTradeNo.optional(),
  })
  .refine((r) => [r.refund_id, r.out_refund_no, r.transaction_id, r.out_trade_no].some((v) => v !== undefined), {
    error: 'one of refund_id, out_refund_no, transaction_id or out_trade_no is required',
    path: ['out_refund_no'],
  });
export type RefundQueryRequest = z.output<typeof refundQueryRequest>;

// ---------------------------------------------------------------------------------------------------------------
// POST /pay/orderquery (§11.2): nonce_str and sign are held to their exact shapes here
// ---------------------------------------------------------------------------------------------------------------

export const orderQueryRequest = z
  .object({
    appid,
    mch_id: mchid,
    sub_appid: appid.optional(),
    sub_mch_id: mchid.optional(),
    transaction_id: transactionId.optional(),
    out_trade_no: outTradeNo.optional(),
    nonce_str: ruled(/^[0-9A-Za-z]{1,32}$/, 'must be 1-32 letters or digits'),
    sign: ruled(/^[0-9A-Fa-f]{32}$|^[0-9A-Fa-f]{64}$/, 'must be an MD5 or HMAC-SHA256 hex digest'),
    sign_type: signType.optional(),
  })
  .refine(namesAnOrder, { error: ONE_ORDER_ID, path: ['out_trade_no'] });
export type OrderQueryRequest = z.output<typeof orderQueryRequest>;

// ---------------------------------------------------------------------------------------------------------------
// POST /pay/downloadbill (§12.2)
// ---------------------------------------------------------------------------------------------------------------

const BILL_DATE_RULE = 'must be a date written YYYYMMDD';

/** A real calendar day (no 20260230). */
function isCalendarDay(yyyymmdd: string): boolean {
  const iso = `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6)}`;
  const t = Date.parse(`${iso}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === iso;
}

export const downloadBillRequest = z.object({
  ...signedRequest,
  device_info: z.string().max(32).optional(),
  bill_date: ruled(/^\d{8}$/, BILL_DATE_RULE).refine(isCalendarDay, { error: BILL_DATE_RULE }),
  /** ALL, SUCCESS, REFUND, RECHARGE_REFUND at WeChat: the simulator publishes refund bills only. */
  bill_type: z.literal('REFUND', { error: 'must be REFUND (the simulator serves refund bills only)' }),
  tar_type: z.literal('GZIP', { error: "must be 'GZIP' when present" }).optional(),
});
export type DownloadBillRequest = z.output<typeof downloadBillRequest>;
