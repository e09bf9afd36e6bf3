/**
 * zod schemas for everything that enters the refund core from outside: workflow inputs (from the starter, the
 * order service, the ledger), operator updates (bank details) and notification signals (from the webhook).
 * Messages name the field and the rule so a rejected update is self-explaining.
 *
 * Pure: imported by workflow code (bundled into the sandbox) as well as by starters and the CLI.
 */
import { z } from 'zod';
import { ABNORMAL_BANK_TYPES } from '../wechatpay/abnormal-bank-types';
import { sealedSecretSchema } from './sealed-secret';

/** A positive, safe integer number of fen (M1). */
export const fenSchema = z
  .number({ error: 'must be a number of fen' })
  .int('must be an integer number of fen (no decimals, M1)')
  .positive('must be greater than 0 fen');

/** §1.1: 1–64 of [0-9A-Za-z_-|*@]. The `order-` prefix is reserved: it would collide with the ledger's workflow ID. */
export const outRefundNoSchema = z
  .string({ error: 'out_refund_no must be a string' })
  .min(1, 'out_refund_no must have 1–64 characters')
  .max(64, 'out_refund_no must have 1–64 characters')
  .regex(/^[0-9A-Za-z_\-|*@]+$/, 'out_refund_no may only contain 0-9 A-Z a-z _ - | * @')
  .refine((s) => !s.startsWith('order-'), {
    error: "out_refund_no must not start with 'order-' (reserved for the order ledger's workflow ID)",
  });

/** §1.1: 6–32 of [0-9A-Za-z_-|*]. */
export const outTradeNoSchema = z
  .string({ error: 'out_trade_no must be a string' })
  .min(6, 'out_trade_no must have 6–32 characters')
  .max(32, 'out_trade_no must have 6–32 characters')
  .regex(/^[0-9A-Za-z_\-|*]+$/, 'out_trade_no may only contain 0-9 A-Z a-z _ - | *');

export const mchidSchema = z
  .string({ error: 'mchid must be a string' })
  .regex(/^[0-9]{1,32}$/, 'mchid must be 1–32 digits');

export const subMchidSchema = z
  .string({ error: 'sub_mchid must be a string' })
  .regex(/^[0-9]{1,32}$/, 'sub_mchid must be 1–32 digits');

export const transactionIdSchema = z
  .string({ error: 'transaction_id must be a string' })
  .regex(/^[0-9A-Za-z]{1,32}$/, 'transaction_id must be 1–32 letters or digits');

/** M12: shown to the payer, at most 80 characters. */
export const reasonSchema = z.string().max(80, 'reason must be at most 80 characters (M12)');

/**
 * The order service's own labels for a refund (its ticket id, who approved it): kept with the refund, returned by
 * the API and in its events, never sent to WeChat. Stripe's limits, so callers know them already.
 */
export const METADATA_LIMITS = { keys: 20, keyChars: 40, valueChars: 500 } as const;
export const metadataSchema = z
  .record(
    z
      .string()
      .min(1, 'metadata keys must not be empty')
      .max(METADATA_LIMITS.keyChars, `metadata keys must be at most ${METADATA_LIMITS.keyChars} characters`),
    z
      .string({ error: 'metadata values must be strings' })
      .max(METADATA_LIMITS.valueChars, `metadata values must be at most ${METADATA_LIMITS.valueChars} characters`),
  )
  .refine((m) => Object.keys(m).length <= METADATA_LIMITS.keys, {
    error: `metadata must have at most ${METADATA_LIMITS.keys} keys`,
  });
export type RefundMetadata = z.infer<typeof metadataSchema>;

/** §3.6: https, 8–256 characters, no query string. */
export const notifyUrlSchema = z
  .string()
  .min(8, 'notify_url must have 8–256 characters')
  .max(256, 'notify_url must have 8–256 characters')
  .regex(/^https:\/\/[^?#\s]+$/, 'notify_url must be an https:// URL without query string or fragment');

export const isoDateTimeSchema = z.iso.datetime({
  offset: true,
  error: 'must be an ISO-8601 date-time with offset, e.g. 2024-05-01T10:00:00+08:00',
});

/** The payment's `bank_type` (e.g. OTHERS for WeChat balance, ICBC_DEBIT, CMB_CREDIT): hints the poll schedule (§7). */
export const payerBankTypeSchema = z
  .string()
  .regex(/^[A-Z0-9_]{1,32}$/, 'payerBankType must be a WeChat bank_type code');

// ---------------------------------------------------------------------------------------------------------------
// Poll and retry configuration (defaults live in poll-schedule.ts / submit-retry.ts)

const durationMsSchema = z.number().int('durations are whole milliseconds').positive('durations must be > 0 ms');

export const pollScheduleConfigSchema = z.object({
  /** Offsets from acceptance of the first queries, strictly increasing. */
  initialOffsetsMs: z
    .array(durationMsSchema)
    .min(1, 'initialOffsetsMs needs at least one offset')
    .refine((a) => a.every((v, i) => i === 0 || v > a[i - 1]), {
      error: 'initialOffsetsMs must be strictly increasing',
    }),
  /** After the initial offsets, query this often. */
  thenEveryMs: durationMsSchema,
  /** Escalate to MANUAL_REVIEW when still PROCESSING this long after acceptance (§7). */
  horizon: z.object({
    calendarDays: z.number().int().min(0, 'horizon.calendarDays must be ≥ 0'),
    businessDays: z.number().int().min(0, 'horizon.businessDays must be ≥ 0'),
  }),
});
export type PollScheduleConfig = z.infer<typeof pollScheduleConfigSchema>;

export const pollingConfigSchema = z.object({
  balance: pollScheduleConfigSchema.optional(),
  bankCard: pollScheduleConfigSchema.optional(),
  /** While ABNORMAL or in MANUAL_REVIEW after acceptance: one query this often ("one query per day", §7). */
  waitingEveryMs: durationMsSchema.optional(),
  /** Chinese public holidays (YYYY-MM-DD) that are not business days. */
  holidays: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'holidays must be YYYY-MM-DD')).optional(),
});
export type PollingConfig = z.infer<typeof pollingConfigSchema>;

const backoffSchema = z.object({
  initialMs: durationMsSchema,
  maxMs: durationMsSchema,
  coefficient: z.number().min(1, 'coefficient must be ≥ 1'),
});
export type BackoffConfig = z.infer<typeof backoffSchema>;

export const submitRetryConfigSchema = z.object({
  /** RetrySame / UnknownOutcome: wait, query by out_refund_no, resend if not found. */
  retrySame: backoffSchema.optional(),
  /** Throttled (429): slows down more than RetrySame. */
  throttled: backoffSchema.optional(),
  /** After this many unknown-outcome rounds in a row, MANUAL_REVIEW (§7 last row says 10). */
  maxUnknownRounds: z.number().int().positive().optional(),
  /** While waiting for an operator after an OPERATOR-class error: retry on this cadence anyway. */
  operatorRetry: backoffSchema.optional(),
});
export type SubmitRetryConfig = z.infer<typeof submitRetryConfigSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Refund workflow input

export const refundWorkflowInputSchema = z
  .object({
    outRefundNo: outRefundNoSchema,
    outTradeNo: outTradeNoSchema.optional(),
    transactionId: transactionIdSchema.optional(),
    subMchid: subMchidSchema.optional(),
    /** This refund, fen. */
    refundFen: fenSchema,
    /** The ORIGINAL order total, fen (M3), not what is left. */
    totalFen: fenSchema,
    /** The merchant WeChat named as the order's payee (from the ledger's verified order facts): evidence must agree. */
    mchid: mchidSchema.optional(),
    /**
     * Started by its ledger when the refund was requested, to bind its out_refund_no at once, while another refund
     * of the order still holds the submission slot: wait for the ledger's `submissionSlotGranted` before the create.
     */
    held: z.boolean().optional(),
    reason: reasonSchema.optional(),
    /** The order service's labels (metadataSchema): shown and sent with its events, never to WeChat. */
    metadata: metadataSchema.optional(),
    notifyUrl: notifyUrlSchema.optional(),
    fundsAccount: z.literal('AVAILABLE').optional(),
    payerBankType: payerBankTypeSchema.optional(),
    /** The order ledger to keep informed (its workflow ID, stable across continue-as-new). */
    ledgerWorkflowId: z.string().min(1).optional(),
    /**
     * Its ledger's run hears this refund's end as the child's completion (LEAN_LEDGER): report the end by signal only
     * once told the ledger continued-as-new. Absent: report every change by signal, as refunds always did.
     */
    ledgerHearsCompletion: z.boolean().optional(),
    polling: pollingConfigSchema.optional(),
    submitRetry: submitRetryConfigSchema.optional(),
  })
  .refine((v) => v.outTradeNo !== undefined || v.transactionId !== undefined, {
    error: 'one of outTradeNo / transactionId is required',
    path: ['outTradeNo'],
  })
  .refine((v) => v.refundFen <= v.totalFen, {
    error: 'refundFen must not exceed totalFen (M4)',
    path: ['refundFen'],
  });
export type RefundWorkflowInput = z.infer<typeof refundWorkflowInputSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Order ledger input and its requestRefund update

export const orderLedgerInputSchema = z.object({
  outTradeNo: outTradeNoSchema,
  transactionId: transactionIdSchema.optional(),
  /**
   * The merchant (the service provider in partner mode) whose order this is, when it is not the deployment's default
   * merchant (domain/ids.ts: merchantScope). Absent: the default merchant, as before merchants were named.
   */
  mchid: mchidSchema.optional(),
  subMchid: subMchidSchema.optional(),
  /**
   * Ledgers created before order facts were read from WeChat carried the caller's paid total and payment time here;
   * a ledger now reads them from WeChat (docs §11) and ignores these. Kept so that older histories still replay.
   */
  paidTotalFen: fenSchema.optional(),
  paidAt: isoDateTimeSchema.optional(),
  payerBankType: payerBankTypeSchema.optional(),
  notifyUrl: notifyUrlSchema.optional(),
  fundsAccount: z.literal('AVAILABLE').optional(),
  /** Minimum time between two creates on this order (M9), default 60 s. */
  minSpacingMs: z.number().int().min(60_000, 'minSpacingMs must be at least 60000 (M9)').optional(),
  /** Continue-as-new once history has this many events (the server's own suggestion also triggers it). */
  maxHistoryEvents: z.number().int().min(20, 'maxHistoryEvents must be ≥ 20').optional(),
  /** Passed to every refund workflow the ledger starts. */
  polling: pollingConfigSchema.optional(),
  submitRetry: submitRetryConfigSchema.optional(),
});
export type OrderLedgerInput = z.infer<typeof orderLedgerInputSchema>;

/** What a caller says about the order; each given fact must agree with WeChat's record (domain/order-facts.ts). */
export const orderClaimsSchema = z.strictObject({
  paidTotalFen: fenSchema.optional(),
  paidAt: isoDateTimeSchema.optional(),
  payerBankType: payerBankTypeSchema.optional(),
  transactionId: transactionIdSchema.optional(),
});

export const requestRefundSchema = z.object({
  outRefundNo: outRefundNoSchema,
  amountFen: fenSchema,
  reason: reasonSchema.optional(),
  /** The order service's labels: part of the request, so a repeat with other metadata is not the same request. */
  metadata: metadataSchema.optional(),
  /** Who asked (user id, service name): kept for the audit trail. */
  requestedBy: z.string().max(128, 'requestedBy must be at most 128 characters').optional(),
  /** The caller's view of the order, checked against WeChat's (refused with ORDER_FACTS_MISMATCH naming the field). */
  claims: orderClaimsSchema.optional(),
  /**
   * The caller stops waiting for a decision at this time: a ledger that has not decided by then refuses the request
   * as expired, so a caller that gave up can be sure nothing was decided (src/starter.ts).
   */
  decideBy: isoDateTimeSchema.optional(),
});
export type RefundRequest = z.infer<typeof requestRefundSchema>;

/** The ledger's cancelRefund update: withdraw a queued refund of this order. */
export const cancelRefundSchema = z.object({
  outRefundNo: outRefundNoSchema,
  /** Who asked: kept for the audit trail. */
  requestedBy: z.string().max(128, 'requestedBy must be at most 128 characters').optional(),
});
export type CancelRefundRequest = z.infer<typeof cancelRefundSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Operator updates

export { ABNORMAL_BANK_TYPES };

export const resolveAbnormalSchema = z.discriminatedUnion(
  'type',
  [
    z.object({
      /** Pay to another debit card of the user. */
      type: z.literal('USER_BANK_CARD'),
      bankType: z.enum(ABNORMAL_BANK_TYPES, {
        error: `bankType must be one of ${ABNORMAL_BANK_TYPES.join(', ')} (debit cards only, §3.8)`,
      }),
      bankAccount: z
        .string({ error: 'bankAccount is required for USER_BANK_CARD' })
        .regex(/^[0-9]{12,19}$/, 'bankAccount must be the card number: 12–19 digits, no spaces'),
      realName: z
        .string({ error: 'realName is required for USER_BANK_CARD' })
        .trim()
        .min(1, 'realName must not be empty')
        .max(64, 'realName must be at most 64 characters')
        .regex(/^[^\p{Cc}\d]+$/u, 'realName must be the card holder name (no digits or control characters)'),
      operator: z.string().min(1, 'operator must name who resolves the refund').max(128).optional(),
    }),
    z.object({
      /**
       * USER_BANK_CARD with the card number and name sealed by the operator CLI (src/secrets/seal.ts), so the
       * workflow history never holds them in clear; the worker unseals them just before calling WeChat.
       */
      type: z.literal('USER_BANK_CARD_SEALED'),
      bankType: z.enum(ABNORMAL_BANK_TYPES, {
        error: `bankType must be one of ${ABNORMAL_BANK_TYPES.join(', ')} (debit cards only, §3.8)`,
      }),
      /** For humans reading the history: the card's last four digits. */
      cardLast4: z.string({ error: 'cardLast4 is required' }).regex(/^[0-9]{4}$/, 'cardLast4 must be 4 digits'),
      sealedBankAccount: sealedSecretSchema,
      sealedRealName: sealedSecretSchema,
      operator: z.string().min(1, 'operator must name who resolves the refund').max(128).optional(),
    }),
    z.object({
      /** Return the money to the merchant's settlement account; the merchant then refunds offline. */
      type: z.literal('MERCHANT_BANK_CARD'),
      operator: z.string().min(1, 'operator must name who resolves the refund').max(128).optional(),
    }),
  ],
  { error: 'type must be USER_BANK_CARD, USER_BANK_CARD_SEALED or MERCHANT_BANK_CARD' },
);
export type ResolveAbnormalRequest = z.infer<typeof resolveAbnormalSchema>;

export const retryNowSchema = z.object({
  operator: z.string().max(128, 'operator must be at most 128 characters').optional(),
  note: z.string().max(500, 'note must be at most 500 characters').optional(),
});
export type RetryNowRequest = z.infer<typeof retryNowSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Notifications (already verified and decrypted by the webhook; validated again because signals are external input)

const amountsSchema = z.object({
  totalFen: fenSchema,
  refundFen: fenSchema,
  payerRefundFen: z.number().int().min(0).optional(),
  payerTotalFen: z.number().int().min(0).optional(),
  settlementRefundFen: z.number().int().min(0).optional(),
  settlementTotalFen: z.number().int().min(0).optional(),
  discountRefundFen: z.number().int().min(0).optional(),
  /** As WeChat wrote it; the workflow compares it with the request (domain/evidence.ts). */
  currency: z.string().min(1).max(16),
});

export const refundNotificationSchema = z.object({
  notificationId: z.string().min(1).max(128),
  apiVersion: z.enum(['v3', 'v2']),
  mchid: z.string().min(1),
  subMchid: z.string().optional(),
  outTradeNo: z.string().min(1),
  transactionId: z.string().min(1),
  outRefundNo: z.string().min(1),
  refundId: z.string().min(1),
  status: z.enum(['SUCCESS', 'CLOSED', 'ABNORMAL']),
  userReceivedAccount: z.string().optional(),
  successTime: z.string().optional(),
  amounts: amountsSchema,
  receivedAt: z.string(),
});

export { describeZodError } from './zod-errors';
