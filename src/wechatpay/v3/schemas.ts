/**
 * zod schemas for every API v3 refund request, response and notification (reference §3.6–§3.9, §3.4, §4), and for
 * the order query (§11.1).
 * Field names are spelled exactly as on the wire. Request schemas describe format rules only (what WeChat answers with
 * 400 PARAM_ERROR); business rules such as refund ≤ total (400 INVALID_REQUEST) are checked by the client's input schema
 * (see v3/gateway.ts). The simulator does not use these: it has its own wire schemas (src/simulator/wire), so a mistake
 * here cannot hide on both sides. Response schemas ignore unknown fields.
 */
import { ABNORMAL_BANK_TYPES } from '../abnormal-bank-types';
import { z } from 'zod';
import {
  fenOrZeroSchema,
  fenSchema,
  lengthString,
  mchidSchema,
  notifyUrlSchema,
  outRefundNoSchema,
  outTradeNoSchema,
  reasonSchema,
  refundIdSchema,
  replyCurrencySchema,
  requestCurrencySchema,
  rfc3339Schema,
  tradeStateSchema,
  transactionIdSchema,
} from '../schema-rules';

// ---------------------------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------------------------

export const v3RefundStatusSchema = z.enum(['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'], {
  error: 'must be one of SUCCESS, CLOSED, PROCESSING, ABNORMAL',
});
export const v3RefundChannelSchema = z.enum(['ORIGINAL', 'BALANCE', 'OTHER_BALANCE', 'OTHER_BANKCARD'], {
  error: 'must be one of ORIGINAL, BALANCE, OTHER_BALANCE, OTHER_BANKCARD',
});
/** Request funds_account (§2.3): AVAILABLE, or UNSETTLED for travel-deposit refunds. */
export const v3RequestFundsAccountSchema = z.enum(['AVAILABLE', 'UNSETTLED'], {
  error: 'must be AVAILABLE or UNSETTLED',
});
/** Response funds_account: a wider enum; kept as a string so a new account type never fails a verified reply. */
export const v3ResponseFundsAccountSchema = z.string();
export const V3_RESPONSE_FUNDS_ACCOUNTS = ['UNSETTLED', 'AVAILABLE', 'UNAVAILABLE', 'OPERATION', 'BASIC', 'ECNY_BASIC'];
export const v3FromAccountSchema = z.enum(['AVAILABLE', 'UNAVAILABLE'], { error: 'must be AVAILABLE or UNAVAILABLE' });
export const V3_ABNORMAL_BANK_TYPES = ABNORMAL_BANK_TYPES;
export const v3AbnormalBankTypeSchema = z.enum(V3_ABNORMAL_BANK_TYPES, {
  error: `must be one of ${V3_ABNORMAL_BANK_TYPES.join(', ')}`,
});
export const v3AbnormalRefundTypeSchema = z.enum(['USER_BANK_CARD', 'MERCHANT_BANK_CARD'], {
  error: 'must be USER_BANK_CARD or MERCHANT_BANK_CARD',
});
export const v3RefundEventTypeSchema = z.enum(['REFUND.SUCCESS', 'REFUND.ABNORMAL', 'REFUND.CLOSED'], {
  error: 'must be one of REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED',
});
/** Notification refund_status; `CLOSE` is an alias seen in one source (§10). */
export const v3NotificationRefundStatusSchema = z.enum(['SUCCESS', 'CLOSED', 'CLOSE', 'ABNORMAL'], {
  error: 'must be one of SUCCESS, CLOSED, ABNORMAL',
});

// ---------------------------------------------------------------------------------------------------------------
// Create refund: POST /v3/refund/domestic/refunds
// ---------------------------------------------------------------------------------------------------------------

export const v3AmountFromSchema = z.object({ account: v3FromAccountSchema, amount: fenSchema });

export const v3GoodsDetailSchema = z.object({
  merchant_goods_id: lengthString(1, 32),
  wechatpay_goods_id: lengthString(1, 32).optional(),
  goods_name: lengthString(1, 256).optional(),
  unit_price: fenSchema,
  refund_amount: fenSchema,
  refund_quantity: z.int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }),
});

export const v3CreateRefundAmountSchema = z.object({
  refund: fenSchema,
  total: fenSchema,
  currency: requestCurrencySchema,
  from: z.array(v3AmountFromSchema).min(1, { error: 'must list at least one account when present' }).optional(),
});

export const v3CreateRefundRequestSchema = z
  .object({
    sub_mchid: mchidSchema.optional(),
    transaction_id: transactionIdSchema.optional(),
    out_trade_no: outTradeNoSchema.optional(),
    out_refund_no: outRefundNoSchema,
    reason: reasonSchema.optional(),
    notify_url: notifyUrlSchema.optional(),
    funds_account: v3RequestFundsAccountSchema.optional(),
    amount: v3CreateRefundAmountSchema,
    goods_detail: z.array(v3GoodsDetailSchema).min(1, { error: 'must list at least one item when present' }).optional(),
  })
  .refine((r) => r.transaction_id !== undefined || r.out_trade_no !== undefined, {
    error: 'one of transaction_id or out_trade_no is required',
    path: ['out_trade_no'],
  });
export type V3CreateRefundRequest = z.infer<typeof v3CreateRefundRequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Query refund: GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=]
// ---------------------------------------------------------------------------------------------------------------

/** Path parameter plus query string of the query endpoint. */
export const v3QueryRefundRequestSchema = z.object({
  out_refund_no: outRefundNoSchema,
  sub_mchid: mchidSchema.optional(),
});
export type V3QueryRefundRequest = z.infer<typeof v3QueryRefundRequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Apply abnormal refund: POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund
// ---------------------------------------------------------------------------------------------------------------

export const v3ApplyAbnormalRefundPathSchema = z.object({ refund_id: refundIdSchema });

/** Wire body: bank_account and real_name are already RSA-OAEP ciphertext (base64, ≤1024). */
export const v3ApplyAbnormalRefundRequestSchema = z
  .object({
    sub_mchid: mchidSchema.optional(),
    out_refund_no: outRefundNoSchema,
    type: v3AbnormalRefundTypeSchema,
    bank_type: v3AbnormalBankTypeSchema.optional(),
    bank_account: lengthString(1, 1024).optional(),
    real_name: lengthString(1, 1024).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.type !== 'USER_BANK_CARD') return;
    for (const f of ['bank_type', 'bank_account', 'real_name'] as const) {
      if (r[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'is required for USER_BANK_CARD' });
    }
  });
export type V3ApplyAbnormalRefundRequest = z.infer<typeof v3ApplyAbnormalRefundRequestSchema>;

// ---------------------------------------------------------------------------------------------------------------
// The Refund object (reply of create, query and apply-abnormal-refund)
// ---------------------------------------------------------------------------------------------------------------

export const v3RefundAmountSchema = z.object({
  total: fenSchema,
  refund: fenSchema,
  from: z.array(v3AmountFromSchema).optional(),
  payer_total: fenOrZeroSchema,
  payer_refund: fenOrZeroSchema,
  settlement_refund: fenOrZeroSchema,
  settlement_total: fenOrZeroSchema,
  discount_refund: fenOrZeroSchema,
  /** As WeChat wrote it (not pinned to CNY: the workflow compares it with the request). */
  currency: replyCurrencySchema,
  /** Newer field (§10): absent from older replies. */
  refund_fee: fenOrZeroSchema.optional(),
});

export const v3PromotionGoodsDetailSchema = z.object({
  merchant_goods_id: z.string(),
  wechatpay_goods_id: z.string().optional(),
  goods_name: z.string().optional(),
  unit_price: fenOrZeroSchema,
  refund_amount: fenOrZeroSchema,
  refund_quantity: z.int().nonnegative(),
});

export const v3PromotionDetailSchema = z.object({
  promotion_id: z.string(),
  scope: z.enum(['GLOBAL', 'SINGLE']),
  type: z.enum(['COUPON', 'DISCOUNT']),
  amount: fenOrZeroSchema,
  refund_amount: fenOrZeroSchema,
  goods_detail: z.array(v3PromotionGoodsDetailSchema).optional(),
});

export const v3RefundResponseSchema = z.object({
  /** Partner replies name the sub-merchant; direct replies name no merchant at all. */
  sub_mchid: z.string().min(1).optional(),
  /** Not documented in the Refund object; read if present so evidence can be compared. */
  sp_mchid: z.string().min(1).optional(),
  mchid: z.string().min(1).optional(),
  refund_id: z.string().min(1),
  out_refund_no: outRefundNoSchema,
  transaction_id: z.string().min(1),
  out_trade_no: z.string().min(1),
  channel: v3RefundChannelSchema,
  user_received_account: z.string(),
  success_time: rfc3339Schema.optional(),
  create_time: rfc3339Schema,
  status: v3RefundStatusSchema,
  funds_account: v3ResponseFundsAccountSchema.optional(),
  amount: v3RefundAmountSchema,
  promotion_detail: z.array(v3PromotionDetailSchema).optional(),
});
export type V3RefundResponse = z.infer<typeof v3RefundResponseSchema>;
/** The same object under the names of the three endpoints that return it. */
export const v3CreateRefundResponseSchema = v3RefundResponseSchema;
export const v3QueryRefundResponseSchema = v3RefundResponseSchema;
export const v3ApplyAbnormalRefundResponseSchema = v3RefundResponseSchema;

// ---------------------------------------------------------------------------------------------------------------
// Query order (§11.1): GET /v3/pay/transactions/{out-trade-no/{out_trade_no} | id/{transaction_id}}?mchid=
//                      GET /v3/pay/partner/transactions/…?sp_mchid=&sub_mchid=
// ---------------------------------------------------------------------------------------------------------------

/** Path parameter (one of the order ids) plus the query string: `mchid` (direct) or `sp_mchid` + `sub_mchid`. */
export const v3QueryOrderRequestSchema = z
  .object({
    out_trade_no: outTradeNoSchema.optional(),
    transaction_id: transactionIdSchema.optional(),
    mchid: mchidSchema.optional(),
    sp_mchid: mchidSchema.optional(),
    sub_mchid: mchidSchema.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.out_trade_no === undefined && r.transaction_id === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['out_trade_no'],
        message: 'one of transaction_id or out_trade_no is required',
      });
    }
    const direct = r.mchid !== undefined;
    const partner = r.sp_mchid !== undefined || r.sub_mchid !== undefined;
    if (direct === partner) {
      ctx.addIssue({
        code: 'custom',
        path: ['mchid'],
        message: 'exactly one of mchid (direct mode) or sp_mchid + sub_mchid (partner mode) is required',
      });
    } else if (partner && (r.sp_mchid === undefined || r.sub_mchid === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [r.sp_mchid === undefined ? 'sp_mchid' : 'sub_mchid'],
        message: 'is required in partner mode',
      });
    }
  });
export type V3QueryOrderRequest = z.infer<typeof v3QueryOrderRequestSchema>;

export const v3OrderAmountSchema = z.object({
  total: fenSchema,
  /** Absent while the order is not paid. */
  payer_total: fenOrZeroSchema.optional(),
  /** As WeChat wrote it; some unpaid-order replies carry only payer_currency (the mapping then assumes CNY). */
  currency: replyCurrencySchema.optional(),
  payer_currency: replyCurrencySchema.optional(),
});

export const v3OrderPromotionDetailSchema = z.object({
  coupon_id: z.string().optional(),
  name: z.string().optional(),
  scope: z.string().optional(),
  type: z.string().optional(),
  amount: fenOrZeroSchema.optional(),
  stock_id: z.string().optional(),
  wechatpay_contribute: fenOrZeroSchema.optional(),
  merchant_contribute: fenOrZeroSchema.optional(),
  other_contribute: fenOrZeroSchema.optional(),
  currency: replyCurrencySchema.optional(),
  goods_detail: z.array(z.unknown()).optional(),
});

/**
 * The payment's own record (direct and partner shapes in one schema). trade_state is kept as text: a word this code
 * does not know is passed on (it is not refundable) rather than failing a verified reply.
 */
export const v3OrderResponseSchema = z
  .object({
    appid: z.string().min(1).optional(),
    mchid: z.string().min(1).optional(),
    sp_appid: z.string().min(1).optional(),
    sp_mchid: z.string().min(1).optional(),
    sub_appid: z.string().min(1).optional(),
    sub_mchid: z.string().min(1).optional(),
    out_trade_no: z.string().min(1),
    /** Absent while the order is not paid. */
    transaction_id: z.string().min(1).optional(),
    trade_type: z.string().optional(),
    trade_state: tradeStateSchema,
    trade_state_desc: z.string().optional(),
    bank_type: z.string().optional(),
    attach: z.string().optional(),
    success_time: rfc3339Schema.optional(),
    payer: z
      .object({
        openid: z.string().optional(),
        sp_openid: z.string().optional(),
        sub_openid: z.string().optional(),
      })
      .optional(),
    amount: v3OrderAmountSchema,
    promotion_detail: z.array(v3OrderPromotionDetailSchema).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.mchid === undefined && r.sp_mchid === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['mchid'],
        message: 'one of mchid (direct mode) or sp_mchid (partner mode) is required',
      });
    }
    if (r.sp_mchid !== undefined && r.sub_mchid === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sub_mchid'], message: 'is required in partner mode' });
    }
  });
export type V3OrderResponse = z.infer<typeof v3OrderResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Errors (§3.9)
// ---------------------------------------------------------------------------------------------------------------

export const v3ErrorDetailSchema = z.object({
  field: z.string().optional(),
  value: z.unknown().optional(),
  issue: z.string().optional(),
  location: z.string().optional(),
});

export const v3ErrorResponseSchema = z.object({
  code: z.string().min(1),
  message: z.string().default(''),
  detail: v3ErrorDetailSchema.optional(),
});
export type V3ErrorResponse = z.infer<typeof v3ErrorResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Platform certificates: GET /v3/certificates (§3.4)
// ---------------------------------------------------------------------------------------------------------------

export const v3EncryptedResourceSchema = z.object({
  algorithm: z.literal('AEAD_AES_256_GCM', { error: "must be 'AEAD_AES_256_GCM'" }),
  nonce: z.string().min(1),
  associated_data: z.string().optional(),
  ciphertext: z.string().min(1),
});

export const v3CertificateEntrySchema = z.object({
  serial_no: z.string().min(1),
  effective_time: rfc3339Schema,
  expire_time: rfc3339Schema,
  encrypt_certificate: v3EncryptedResourceSchema,
});

export const v3CertificatesResponseSchema = z.object({ data: z.array(v3CertificateEntrySchema) });
export type V3CertificatesResponse = z.infer<typeof v3CertificatesResponseSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Refund notification (§4.2, §4.4, §4.5)
// ---------------------------------------------------------------------------------------------------------------

export const v3NotificationEnvelopeSchema = z.object({
  id: lengthString(1, 36),
  create_time: rfc3339Schema,
  event_type: v3RefundEventTypeSchema,
  summary: z.string().default(''),
  resource_type: z.literal('encrypt-resource', { error: "must be 'encrypt-resource'" }),
  resource: v3EncryptedResourceSchema.extend({ original_type: z.string().optional() }),
});
export type V3NotificationEnvelope = z.infer<typeof v3NotificationEnvelopeSchema>;

export const v3RefundNotificationResourceSchema = z
  .object({
    mchid: z.string().min(1).optional(),
    sp_mchid: z.string().min(1).optional(),
    sub_mchid: z.string().min(1).optional(),
    out_trade_no: z.string().min(1),
    transaction_id: z.string().min(1),
    out_refund_no: outRefundNoSchema,
    refund_id: z.string().min(1),
    refund_status: v3NotificationRefundStatusSchema,
    success_time: rfc3339Schema.optional(),
    user_received_account: z.string().optional(),
    amount: z.object({
      total: fenSchema,
      refund: fenSchema,
      payer_total: fenOrZeroSchema,
      payer_refund: fenOrZeroSchema,
      /** Not in the documented resource; read when present (CNY otherwise). */
      currency: replyCurrencySchema.optional(),
    }),
    // Present in SDK models only: parse if present, never require (§4.4).
    create_time: rfc3339Schema.optional(),
    channel: z.string().optional(),
    funds_account: z.string().optional(),
    promotion_detail: z.array(z.unknown()).optional(),
  })
  .refine((r) => r.mchid !== undefined || r.sp_mchid !== undefined, {
    error: 'one of mchid (direct mode) or sp_mchid (partner mode) is required',
    path: ['mchid'],
  });
export type V3RefundNotificationResource = z.infer<typeof v3RefundNotificationResourceSchema>;

/** The merchant's reply to a notification (§4.5); a body is optional on success. */
export const v3NotificationReplySchema = z.object({ code: z.enum(['SUCCESS', 'FAIL']), message: z.string() });
