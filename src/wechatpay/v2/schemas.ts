/**
 * zod schemas for every API v2 refund request, reply and notification (reference §5.3–§5.8), and for the order
 * query (§11.2).
 *
 * v2 travels as flat XML, so these schemas take the parsed `Record<string, string>` (numbers arrive as digit strings
 * and come out as numbers) and also accept numbers, so the client can validate what it is about to send. Field names
 * are exactly WeChat's, including the misspelled `refund_recv_accout`. Request schemas check format only (what WeChat
 * answers with PARAM_ERROR); business rules (refund ≤ total) live in the client's input schema (v2/gateway.ts).
 */
import { z } from 'zod';
import {
  appidSchema,
  FEN_RULE,
  lengthString,
  mchidSchema,
  notifyUrlSchema,
  outRefundNoSchema,
  outTradeNoSchema,
  refundIdSchema,
  replyCurrencySchema,
  requestCurrencySchema,
  tradeStateSchema,
  transactionIdSchema,
  v2CompactTimeSchema,
  v2CountSchema,
  v2FenOrZeroSchema,
  v2FenSchema,
  v2Number,
  v2TimeSchema,
} from '../schema-rules';
import { parseRefundQueryItems, parseRefundReplyCoupons } from './indexed-fields';

export const v2SignTypeSchema = z.enum(['MD5', 'HMAC-SHA256'], { error: 'must be MD5 or HMAC-SHA256' });
export const v2RefundAccountSchema = z.enum(['REFUND_SOURCE_UNSETTLED_FUNDS', 'REFUND_SOURCE_RECHARGE_FUNDS'], {
  error: 'must be REFUND_SOURCE_UNSETTLED_FUNDS or REFUND_SOURCE_RECHARGE_FUNDS',
});
/** Query `refund_status_$n`: current values plus the legacy FAIL / NOTSURE (§5.6, §6.2). */
export const v2QueryRefundStatusSchema = z.enum(['SUCCESS', 'REFUNDCLOSE', 'PROCESSING', 'CHANGE', 'FAIL', 'NOTSURE'], {
  error: 'must be one of SUCCESS, REFUNDCLOSE, PROCESSING, CHANGE (legacy FAIL, NOTSURE)',
});
export const v2NotifyRefundStatusSchema = z.enum(['SUCCESS', 'CHANGE', 'REFUNDCLOSE'], {
  error: 'must be one of SUCCESS, CHANGE, REFUNDCLOSE',
});
export const v2ReturnCodeSchema = z.enum(['SUCCESS', 'FAIL'], { error: 'must be SUCCESS or FAIL' });

/**
 * An optional reply field. v2 writes an absent value as an empty element (`<device_info></device_info>`), so `''`
 * counts as absent; anything else must satisfy `inner`.
 */
function v2Optional<T extends z.ZodType>(inner: T) {
  return z.preprocess((v) => (v === '' ? undefined : v), inner.optional()).optional();
}
/** fee_type / cash_fee_type / refund_fee_type of a reply: as WeChat wrote it (the gateway defaults to CNY). */
const v2ReplyCurrency = v2Optional(replyCurrencySchema);

/** Fields present in every signed v2 request. */
const v2SignedRequestBase = {
  appid: appidSchema,
  mch_id: mchidSchema,
  sub_appid: appidSchema.optional(),
  sub_mch_id: mchidSchema.optional(),
  nonce_str: lengthString(1, 32),
  sign: lengthString(32, 64),
  sign_type: v2SignTypeSchema.optional(),
};

const oneOrderId = (r: { transaction_id?: string; out_trade_no?: string }) =>
  r.transaction_id !== undefined || r.out_trade_no !== undefined;

// ---------------------------------------------------------------------------------------------------------------
// POST /secapi/pay/refund
// ---------------------------------------------------------------------------------------------------------------

const v2RefundRequestShape = {
  ...v2SignedRequestBase,
  transaction_id: transactionIdSchema.optional(),
  out_trade_no: outTradeNoSchema.optional(),
  out_refund_no: outRefundNoSchema,
  total_fee: v2FenSchema,
  refund_fee: v2FenSchema,
  /** Requests always say CNY (M2). */
  refund_fee_type: requestCurrencySchema.optional(),
  refund_desc: z.string().max(80, { error: 'must be at most 80 characters' }).optional(),
  refund_account: v2RefundAccountSchema.optional(),
  notify_url: notifyUrlSchema.optional(),
  /** Legacy (§5.2), signed like any other field when sent. */
  op_user_id: z.string().max(32).optional(),
};

export const v2RefundRequestSchema = z.object(v2RefundRequestShape).refine(oneOrderId, {
  error: 'one of transaction_id or out_trade_no is required',
  path: ['out_trade_no'],
});
export type V2RefundRequest = z.infer<typeof v2RefundRequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// POST /secapi/pay/refundv2 (single-item refund; `detail` is a JSON string inside the XML)
// ---------------------------------------------------------------------------------------------------------------

export const v2RefundGoodsDetailSchema = z.object({
  goods_id: lengthString(1, 32),
  wxpay_goods_id: lengthString(1, 32).optional(),
  goods_name: lengthString(1, 256).optional(),
  refund_amount: z.int({ error: 'must be a positive integer number of fen' }).positive({
    error: 'must be a positive integer number of fen',
  }),
  refund_quantity: z.int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }),
  price: z.int({ error: 'must be a positive integer number of fen' }).positive({
    error: 'must be a positive integer number of fen',
  }),
});
export const v2RefundDetailSchema = z.object({
  goods_detail: z.array(v2RefundGoodsDetailSchema).min(1, { error: 'must list at least one item' }),
});
export type V2RefundDetail = z.infer<typeof v2RefundDetailSchema>;

/** `detail`: ≤6000 characters of JSON matching v2RefundDetailSchema; issues are reported under detail.<path>. */
export const v2RefundDetailStringSchema = z
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
    const r = v2RefundDetailSchema.safeParse(parsed);
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
  });

export const v2RefundV2RequestSchema = z
  .object({ ...v2RefundRequestShape, detail: v2RefundDetailStringSchema.optional() })
  .refine(oneOrderId, { error: 'one of transaction_id or out_trade_no is required', path: ['out_trade_no'] });
export type V2RefundV2Request = z.infer<typeof v2RefundV2RequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// POST /pay/refundquery
// ---------------------------------------------------------------------------------------------------------------

export const v2RefundQueryRequestSchema = z
  .object({
    ...v2SignedRequestBase,
    device_info: z.string().max(32).optional(),
    offset: v2CountSchema.optional(),
    refund_id: refundIdSchema.optional(),
    out_refund_no: outRefundNoSchema.optional(),
    transaction_id: transactionIdSchema.optional(),
    out_trade_no: outTradeNoSchema.optional(),
  })
  .refine((r) => [r.refund_id, r.out_refund_no, r.transaction_id, r.out_trade_no].some((v) => v !== undefined), {
    error: 'one of refund_id, out_refund_no, transaction_id or out_trade_no is required',
    path: ['out_refund_no'],
  });
export type V2RefundQueryRequest = z.infer<typeof v2RefundQueryRequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Replies. Layer 1: return_code (protocol). Layer 2: result_code (business). Layer 3: data fields.
// ---------------------------------------------------------------------------------------------------------------

/** Protocol layer of every v2 reply (§5.1). */
export const v2ReturnSchema = z.object({ return_code: v2ReturnCodeSchema, return_msg: z.string().optional() });

/** Business layer once return_code = SUCCESS. */
export const v2ResultSchema = z.object({
  return_code: z.literal('SUCCESS'),
  result_code: z.enum(['SUCCESS', 'FAIL'], { error: 'must be SUCCESS or FAIL' }),
  err_code: z.string().optional(),
  err_code_des: z.string().optional(),
  appid: z.string().optional(),
  mch_id: z.string().optional(),
  sub_appid: z.string().optional(),
  sub_mch_id: z.string().optional(),
  nonce_str: z.string().optional(),
  sign: z.string().optional(),
});

const v2CouponSchema = z.object({
  coupon_type: z.string().optional(),
  coupon_refund_id: z.string().optional(),
  coupon_refund_fee: v2FenOrZeroSchema.optional(),
  coupon_refund_batch_id: z.string().optional(),
});

/** Data of an accepted /secapi/pay/refund (and refundv2) reply; `coupons` is built from the `$n` fields. */
const v2RefundResponseFlatSchema = z.object({
  return_code: z.literal('SUCCESS'),
  result_code: z.literal('SUCCESS'),
  appid: z.string(),
  mch_id: z.string(),
  sub_appid: z.string().optional(),
  sub_mch_id: z.string().optional(),
  nonce_str: z.string().optional(),
  sign: z.string().optional(),
  transaction_id: z.string().min(1),
  out_trade_no: z.string().min(1),
  out_refund_no: outRefundNoSchema,
  refund_id: z.string().min(1),
  refund_fee: v2FenSchema,
  settlement_refund_fee: v2FenOrZeroSchema.optional(),
  total_fee: v2FenSchema,
  settlement_total_fee: v2FenOrZeroSchema.optional(),
  fee_type: v2ReplyCurrency,
  cash_fee: v2FenOrZeroSchema,
  cash_fee_type: v2ReplyCurrency,
  cash_refund_fee: v2FenOrZeroSchema.optional(),
  /** Not in the documented reply; read if present (the refund's currency, before fee_type). */
  refund_fee_type: v2ReplyCurrency,
  coupon_refund_fee: v2FenOrZeroSchema.optional(),
  coupon_refund_count: v2CountSchema.optional(),
  /** refundv2 only: JSON string, parsed leniently by the client. */
  promotion_detail: z.string().optional(),
});

/**
 * Validate `flat` with `schema` and the list built from its `$n` fields with `listSchema`, as one zod result
 * (issues keep their field paths; list issues are prefixed with `listKey`).
 */
function flatWithList<F extends z.ZodType, L extends z.ZodType, K extends string>(
  schema: F,
  listKey: K,
  listSchema: L,
  extract: (flat: Record<string, string>) => unknown,
) {
  return z.record(z.string(), z.string()).transform((flat, ctx) => {
    const head = schema.safeParse(flat);
    let list: unknown;
    try {
      list = extract(flat);
    } catch (e) {
      ctx.issues.push({ code: 'custom', message: (e as Error).message, input: flat, path: [listKey] });
      return z.NEVER;
    }
    const tail = listSchema.safeParse(list);
    for (const i of head.error?.issues ?? []) ctx.issues.push({ ...i, input: flat } as never);
    for (const i of tail.error?.issues ?? [])
      ctx.issues.push({ ...i, path: [listKey, ...i.path], input: flat } as never);
    if (!head.success || !tail.success) return z.NEVER;
    return Object.assign({}, head.data as object, { [listKey]: tail.data }) as z.output<F> & {
      [P in K]: z.output<L>;
    };
  });
}

export const v2RefundResponseSchema = flatWithList(
  v2RefundResponseFlatSchema,
  'coupons',
  z.array(v2CouponSchema),
  parseRefundReplyCoupons,
);
export type V2RefundResponse = z.infer<typeof v2RefundResponseSchema>;
export const v2RefundV2ResponseSchema = v2RefundResponseSchema;

export const v2RefundQueryItemSchema = z.object({
  out_refund_no: outRefundNoSchema,
  refund_id: z.string().min(1),
  refund_channel: z.string().optional(),
  refund_fee: v2FenSchema,
  settlement_refund_fee: v2FenOrZeroSchema.optional(),
  fee_type: v2ReplyCurrency,
  coupon_refund_fee: v2FenOrZeroSchema.optional(),
  coupon_refund_count: v2CountSchema.optional(),
  refund_status: v2QueryRefundStatusSchema,
  refund_account: z.string().optional(),
  refund_recv_accout: z.string().optional(),
  refund_success_time: v2TimeSchema.optional(),
  coupons: z.array(v2CouponSchema),
});
export type V2RefundQueryItem = z.infer<typeof v2RefundQueryItemSchema>;

/** Accepted /pay/refundquery reply: order-level fields plus `refunds`, one entry per `$n` (checked against refund_count). */
const v2RefundQueryFlatSchema = z.object({
  return_code: z.literal('SUCCESS'),
  result_code: z.literal('SUCCESS'),
  appid: z.string().optional(),
  mch_id: z.string().optional(),
  sub_appid: z.string().optional(),
  sub_mch_id: z.string().optional(),
  nonce_str: z.string().optional(),
  sign: z.string().optional(),
  total_refund_count: v2CountSchema.optional(),
  transaction_id: z.string().min(1),
  out_trade_no: z.string().min(1),
  total_fee: v2FenSchema,
  settlement_total_fee: v2FenOrZeroSchema.optional(),
  fee_type: v2ReplyCurrency,
  cash_fee: v2FenOrZeroSchema,
  cash_fee_type: v2ReplyCurrency,
  refund_fee: v2FenOrZeroSchema.optional(),
  coupon_refund_fee: v2FenOrZeroSchema.optional(),
  refund_count: v2CountSchema,
});

/** Accepted /pay/refundquery reply: order-level fields plus `refunds`, one entry per `$n` (checked against refund_count). */
export const v2RefundQueryResponseSchema = flatWithList(
  v2RefundQueryFlatSchema,
  'refunds',
  z.array(v2RefundQueryItemSchema),
  (flat) => parseRefundQueryItems(flat).items.map((i) => ({ ...i.fields, coupons: i.coupons })),
);
export type V2RefundQueryResponse = z.infer<typeof v2RefundQueryResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------
// POST /pay/orderquery (§11.2)
// ---------------------------------------------------------------------------------------------------------------

export const v2OrderQueryRequestSchema = z
  .object({
    ...v2SignedRequestBase,
    transaction_id: transactionIdSchema.optional(),
    out_trade_no: outTradeNoSchema.optional(),
  })
  .refine(oneOrderId, { error: 'one of transaction_id or out_trade_no is required', path: ['out_trade_no'] });
export type V2OrderQueryRequest = z.infer<typeof v2OrderQueryRequestSchema>;

/** trade_state values of a paid order (refundable, §11.1): the reply then carries the payment's fields. */
export const V2_PAID_TRADE_STATES: readonly string[] = ['SUCCESS', 'REFUND'];

/**
 * Accepted /pay/orderquery reply (return_code and result_code SUCCESS). trade_state is kept as text (an unknown word is
 * passed on, not refundable). The payment's fields are documented for trade_state SUCCESS only: otherwise WeChat may
 * return just out_trade_no (and attach), so transaction_id, total_fee, cash_fee, bank_type and time_end are optional;
 * total_fee is still required for a paid order (SUCCESS or REFUND), whose total the ledger takes from it.
 */
export const v2OrderQueryResponseSchema = z
  .object({
    return_code: z.literal('SUCCESS'),
    result_code: z.literal('SUCCESS'),
    appid: z.string().optional(),
    mch_id: z.string().min(1),
    sub_appid: z.string().optional(),
    sub_mch_id: v2Optional(z.string()),
    nonce_str: z.string().optional(),
    sign: z.string().optional(),
    device_info: z.string().optional(),
    openid: z.string().optional(),
    is_subscribe: z.string().optional(),
    trade_type: z.string().optional(),
    trade_state: tradeStateSchema,
    trade_state_desc: z.string().optional(),
    bank_type: v2Optional(z.string()),
    total_fee: v2Optional(v2FenSchema),
    settlement_total_fee: v2Optional(v2FenOrZeroSchema),
    fee_type: v2ReplyCurrency,
    cash_fee: v2Optional(v2FenOrZeroSchema),
    cash_fee_type: v2ReplyCurrency,
    coupon_fee: v2Optional(v2FenOrZeroSchema),
    coupon_count: v2Optional(v2CountSchema),
    transaction_id: v2Optional(z.string().min(1)),
    out_trade_no: z.string().min(1),
    attach: z.string().optional(),
    time_end: v2Optional(v2CompactTimeSchema),
  })
  .superRefine((r, ctx) => {
    if (V2_PAID_TRADE_STATES.includes(r.trade_state) && r.total_fee === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['total_fee'],
        message: `is required when trade_state is ${r.trade_state} (${FEN_RULE})`,
      });
    }
  });
export type V2OrderQueryResponse = z.infer<typeof v2OrderQueryResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Refund notification (§5.8)
// ---------------------------------------------------------------------------------------------------------------

/** Outer XML of the notification (not signed). */
export const v2NotificationEnvelopeSchema = z.discriminatedUnion('return_code', [
  z.object({
    return_code: z.literal('SUCCESS'),
    return_msg: z.string().optional(),
    appid: z.string().min(1),
    mch_id: z.string().min(1),
    sub_appid: z.string().optional(),
    sub_mch_id: z.string().optional(),
    nonce_str: z.string().optional(),
    req_info: z.string().min(1, { error: 'is required' }),
  }),
  z.object({ return_code: z.literal('FAIL'), return_msg: z.string().optional() }),
]);
export type V2NotificationEnvelope = z.infer<typeof v2NotificationEnvelopeSchema>;

/** Decrypted req_info (`<root>…</root>`). */
export const v2RefundNotificationInfoSchema = z.object({
  transaction_id: z.string().min(1),
  out_trade_no: z.string().min(1),
  refund_id: z.string().min(1),
  out_refund_no: outRefundNoSchema,
  total_fee: v2FenSchema,
  settlement_total_fee: v2FenOrZeroSchema.optional(),
  refund_fee: v2FenSchema,
  settlement_refund_fee: v2FenOrZeroSchema.optional(),
  cash_refund_fee: v2FenOrZeroSchema.optional(),
  /** Not in the documented req_info; read when present (CNY otherwise). */
  refund_fee_type: v2ReplyCurrency,
  fee_type: v2ReplyCurrency,
  refund_status: v2NotifyRefundStatusSchema,
  success_time: v2TimeSchema.optional(),
  refund_recv_accout: z.string().optional(),
  refund_account: z.string().optional(),
  refund_request_source: z.string().optional(),
});
export type V2RefundNotificationInfo = z.infer<typeof v2RefundNotificationInfoSchema>;

/** The merchant's reply to a v2 notification. */
export const v2NotificationReplySchema = z.object({ return_code: v2ReturnCodeSchema, return_msg: z.string() });

/** Numbers in v2 replies that are not fen (counts, offsets). */
export const v2IntegerStringSchema = v2Number(z.int().nonnegative());
