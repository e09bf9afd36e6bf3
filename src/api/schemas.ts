/**
 * The API's wire shapes, as zod schemas: what the routes validate (request bodies, path and query parameters: strict,
 * an unknown field is an error, not ignored) and what they answer (the resources and the error). The TypeScript types
 * are inferred from them and the OpenAPI document (openapi.ts) is generated from them, so the three cannot drift.
 *
 * snake_case, money in integer fen (2500 = ¥25.00). The request field rules are the refund core's own
 * (domain/schemas.ts), so the API refuses exactly what the ledger would.
 *
 * Resources are plain (stripping) objects and are documented without `additionalProperties: false` (openapi.ts):
 * fields may be added to an answer, never to what a request may carry.
 */
import { z } from 'zod';
import {
  fenSchema,
  mchidSchema,
  metadataSchema,
  outRefundNoSchema,
  outTradeNoSchema,
  reasonSchema,
  subMchidSchema,
  transactionIdSchema,
} from '../domain/schemas';
import { REFUND_STATES, type Evidence, type ReviewReason } from '../domain/status';
import type { RefundChannel } from '../wechatpay/gateway';
import { EVENT_TYPES } from '../events/types';

/** Compile-time check that a wire enum lists exactly the domain's values (a new domain value must be named here). */
type SameSet<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : never;
const sameSet = <A, B>(proof: SameSet<A, B>): SameSet<A, B> => proof;

// ---------------------------------------------------------------------------------------------------------------
// Requests

const MCHID_DESCRIPTION =
  "The merchant (the service provider in service-provider mode) whose order this is. Absent: the deployment's " +
  'default merchant; required when it serves several merchants and none is the default. Naming the default ' +
  'merchant is the same as naming none. A merchant the deployment does not serve: 422 unknown_merchant.';
const SUB_MCHID_DESCRIPTION =
  "The sub-merchant (service-provider mode only; one of the service provider's sub-merchants when the deployment " +
  'lists them, else 422 unknown_merchant).';

export const createRefundBodySchema = z
  .strictObject(
    {
      out_trade_no: outTradeNoSchema.optional().meta({ description: 'The order to refund (your order number).' }),
      /** A claim about the order: must agree with WeChat's record (else 422 ORDER_FACTS_MISMATCH). */
      transaction_id: transactionIdSchema.optional().meta({
        description:
          "WeChat's transaction id of the payment; when given it must agree with WeChat's record of out_trade_no " +
          '(else 422 ORDER_FACTS_MISMATCH). Not enough on its own yet: send out_trade_no too.',
      }),
      out_refund_no: outRefundNoSchema.meta({
        description:
          'Your number for this refund, unique per merchant: the idempotency key. Repeating a request with the same ' +
          'number and parameters answers 200 with the same refund; other parameters answer 409.',
      }),
      amount_fen: fenSchema
        .max(Number.MAX_SAFE_INTEGER, 'must be a safe integer number of fen')
        .meta({ description: 'The amount to refund in fen (integer, 2500 = ¥25.00).' }),
      reason: reasonSchema.optional().meta({ description: 'Shown to the payer (at most 80 characters).' }),
      mchid: mchidSchema.optional().meta({ description: MCHID_DESCRIPTION }),
      sub_mchid: subMchidSchema.optional().meta({ description: SUB_MCHID_DESCRIPTION }),
      metadata: metadataSchema.optional().meta({
        description:
          'Your labels for the refund (ticket id, who approved it): at most 20 keys of at most 40 characters, string ' +
          'values of at most 500 characters. Kept with the refund, returned by the API and in its events, never sent ' +
          'to WeChat. Part of the request: a repeat must carry the same metadata.',
      }),
    },
    { error: (issue) => (issue.input === undefined ? 'a JSON object body is required' : 'must be a JSON object') },
  )
  .superRefine((body, ctx) => {
    if (body.out_trade_no !== undefined) return;
    ctx.addIssue({
      code: 'custom',
      path: ['out_trade_no'],
      message:
        body.transaction_id === undefined
          ? 'is required (the order to refund)'
          : 'is required: refunds named by transaction_id alone are not supported yet (send out_trade_no too; ' +
            "transaction_id is then checked against WeChat's record)",
    });
  });
export type CreateRefundBody = z.infer<typeof createRefundBodySchema>;

export const refundParamsSchema = z.strictObject({ out_refund_no: outRefundNoSchema });
export const orderParamsSchema = z.strictObject({ out_trade_no: outTradeNoSchema });
/** out_refund_no and out_trade_no are unique per merchant (and per sub-merchant in service-provider mode). */
export const merchantQuerySchema = z.strictObject({
  mchid: mchidSchema.optional().meta({ description: MCHID_DESCRIPTION }),
  sub_mchid: subMchidSchema.optional().meta({ description: SUB_MCHID_DESCRIPTION }),
});

/** Cancel takes no fields: an empty body (or none) or `{}`. */
export const cancelRefundBodySchema = z
  .strictObject({}, { error: 'must be a JSON object (the cancel takes no fields: send {} or no body)' })
  .optional();
export const cancelRefundParamsSchema = refundParamsSchema;
export const cancelRefundQuerySchema = merchantQuerySchema;

/** A next_page_token of GET /v1/refunds, unchanged (list.ts checks it belongs to the same filters). */
export const pageTokenSchema = z
  .string()
  .min(1, 'page_token must not be empty')
  .max(4096, 'page_token is too long')
  .regex(/^[A-Za-z0-9_-]+$/, 'page_token must be a next_page_token from a previous page, unchanged');

export const listRefundsQuerySchema = z.strictObject({
  status: z
    .enum(REFUND_STATES, { error: `status must be one of ${REFUND_STATES.join(', ')}` })
    .optional()
    .meta({ description: 'Only refunds in this state.' }),
  out_trade_no: outTradeNoSchema.optional().meta({ description: "Only this order's refunds." }),
  limit: z.coerce
    .number({ error: 'limit must be a whole number from 1 to 100' })
    .int('limit must be a whole number from 1 to 100')
    .min(1, 'limit must be a whole number from 1 to 100')
    .max(100, 'limit must be a whole number from 1 to 100')
    .default(20)
    .meta({ description: 'At most this many refunds per page.' }),
  page_token: pageTokenSchema
    .optional()
    .meta({ description: "The previous page's next_page_token, to read the next page (with the same filters)." }),
});
export type ListRefundsQuery = z.infer<typeof listRefundsQuerySchema>;

// ---------------------------------------------------------------------------------------------------------------
// Resources

const timestamp = (description: string) =>
  z.iso.datetime({ offset: true }).meta({ description: `${description}, ISO-8601.` });
const fen = (description: string) =>
  z
    .number()
    .int()
    .min(0)
    .meta({ description: `${description}, fen.` });

/** WeChat's refund states, plus PENDING for a refund not yet answered by WeChat (queued for its turn included). */
export const refundStateSchema = z.enum(REFUND_STATES).meta({
  description:
    "PENDING: accepted, not yet answered by WeChat (or queued behind another refund of the order). WeChat's states " +
    'PROCESSING, SUCCESS, CLOSED, ABNORMAL (the account is unusable; an operator chooses where the money goes). ' +
    'REJECTED: WeChat refused it (see failure). MANUAL_REVIEW: waiting for an operator (see review_reason). ' +
    'CANCELLED: withdrawn while queued, nothing was sent to WeChat. SUCCESS, CLOSED, REJECTED and CANCELLED are final.',
});
export type RefundStateName = z.infer<typeof refundStateSchema>;

const REFUND_CHANNELS = ['ORIGINAL', 'BALANCE', 'OTHER_BALANCE', 'OTHER_BANKCARD', 'UNKNOWN'] as const;
sameSet<(typeof REFUND_CHANNELS)[number], RefundChannel>(true);
export const refundChannelSchema = z.enum(REFUND_CHANNELS).meta({
  description: 'Where the money goes: ORIGINAL, BALANCE, OTHER_BALANCE, OTHER_BANKCARD, or UNKNOWN until WeChat says.',
});

const REVIEW_REASONS = [
  'SUBMIT_NEEDS_OPERATOR',
  'SUBMIT_OUTCOME_UNKNOWN',
  'POLL_HORIZON_EXCEEDED',
  'UNRECOGNISED_STATUS',
  'REFUND_WORKFLOW_LOST',
  'EVIDENCE_MISMATCH',
] as const;
sameSet<(typeof REVIEW_REASONS)[number], ReviewReason>(true);

const EVIDENCE_SOURCES = [
  'create',
  'query',
  'notification',
  'apply-abnormal',
  'submit-error',
  'poll-horizon',
  'evidence-mismatch',
  'operator',
  'cancel',
] as const;
sameSet<(typeof EVIDENCE_SOURCES)[number], Evidence>(true);

/** The event types are the events module's (src/events/types.ts), not a copy. */
export const refundEventTypeSchema = z.enum(EVENT_TYPES);

export const eventDeliveryAttemptSchema = z.object({
  at: timestamp('When the attempt was made'),
  status_code: z.number().int().optional().meta({ description: "The receiver's HTTP status, when it answered." }),
  error: z.string().optional().meta({ description: 'Why the attempt failed (network error, timeout, non-2xx).' }),
});

export const refundEventSummarySchema = z.object({
  id: z.string().meta({ description: 'The event id (Refund-Event-Id): never changes across delivery attempts.' }),
  type: refundEventTypeSchema,
  created_at: timestamp('When the state change it announces happened'),
  delivery: z.enum(['PENDING', 'DELIVERED', 'FAILED']).meta({
    description: 'DELIVERED once the receiver answered 2xx; FAILED when retries stopped (after at least 3 days).',
  }),
  attempts: z.array(eventDeliveryAttemptSchema),
});

export const refundResourceSchema = z
  .object({
    object: z.literal('refund'),
    out_refund_no: z.string(),
    out_trade_no: z.string(),
    transaction_id: z.string().optional(),
    mchid: z
      .string()
      .optional()
      .meta({ description: 'The merchant (the service provider in service-provider mode) the refund is for.' }),
    sub_mchid: z.string().optional(),
    amount_fen: fen('The amount requested'),
    reason: z.string().optional(),
    metadata: metadataSchema.optional().meta({ description: 'Your labels, as requested.' }),
    state: refundStateSchema,
    review_reason: z
      .enum(REVIEW_REASONS)
      .optional()
      .meta({ description: 'Why it waits for an operator (MANUAL_REVIEW).' }),
    channel: refundChannelSchema.optional(),
    refund_id: z.string().optional().meta({ description: "WeChat's refund_id, once WeChat accepted the refund." }),
    amounts: z
      .object({
        refund_fen: fen('Refunded'),
        total_fen: fen('The order total'),
        payer_refund_fen: fen('Refunded to the payer').optional(),
        payer_total_fen: fen('Paid by the payer').optional(),
        settlement_refund_fen: fen('Refunded from settlement').optional(),
        discount_refund_fen: fen('Coupon refund').optional(),
      })
      .optional()
      .meta({ description: 'As WeChat reported them.' }),
    user_received_account: z.string().optional().meta({ description: 'Where the payer receives the money.' }),
    failure: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .meta({ description: 'Why WeChat refused it (REJECTED).' }),
    created_at: timestamp('When the refund was requested'),
    updated_at: timestamp('When its state last changed'),
    settled_at: timestamp('When it reached SUCCESS (WeChat success_time), CLOSED, REJECTED or CANCELLED').optional(),
    last_evidence: z
      .object({
        source: z.enum(EVIDENCE_SOURCES),
        at: timestamp('When'),
        wechat_status: z.string().optional(),
        note: z.string().optional(),
      })
      .optional()
      .meta({ description: 'What established the current state (a WeChat answer, an operator, a cancel).' }),
    events: z
      .array(refundEventSummarySchema)
      .optional()
      .meta({ description: 'Events sent to your events URL about this refund, with every delivery attempt (GET).' }),
  })
  .meta({ description: 'A refund, as GET /v1/refunds/{out_refund_no} and the POSTs answer and events carry it.' });
export type RefundResource = z.infer<typeof refundResourceSchema>;

/** The body of an event POSTed to the order service's events URL (signed byte for byte: Refund-Signature). */
export const refundEventSchema = z
  .object({
    id: z
      .string()
      .meta({ description: 'Never changes across retries (also the Refund-Event-Id header): dedupe by it.' }),
    object: z.literal('event'),
    type: refundEventTypeSchema,
    created: z.number().int().meta({ description: 'When the state change happened, unix seconds.' }),
    data: z.object({ refund: refundResourceSchema }),
  })
  .meta({ description: 'A refund reached a state an order service acts on.' });
export type RefundEventBody = z.infer<typeof refundEventSchema>;

export const orderRefundSummarySchema = z.object({
  out_refund_no: z.string(),
  amount_fen: fen('The amount requested'),
  state: refundStateSchema,
  channel: refundChannelSchema.optional(),
  refund_id: z.string().optional(),
  reason: z.string().optional(),
  created_at: timestamp('When the refund was requested'),
});
export type OrderRefundSummary = z.infer<typeof orderRefundSummarySchema>;

export const orderResourceSchema = z
  .object({
    object: z.literal('order'),
    out_trade_no: z.string(),
    transaction_id: z.string().optional(),
    mchid: z
      .string()
      .optional()
      .meta({ description: 'The merchant (the service provider in service-provider mode) the order was paid to.' }),
    sub_mchid: z.string().optional(),
    paid_fen: fen("WeChat's record of the payment"),
    paid_at: timestamp('When it was paid'),
    refund_deadline: timestamp('Refunds are possible until then (payment + 365 days)'),
    succeeded_fen: fen('Refunded'),
    reserved_fen: fen('Requested and not yet settled'),
    refundable_fen: fen('paid − succeeded − reserved: what a new refund may ask for'),
    refund_count: z.number().int().min(0).meta({ description: "Refunds counting towards WeChat's limit of 50." }),
    refunds: z.array(orderRefundSummarySchema),
  })
  .meta({ description: "An order's money and refunds, from its ledger." });
export type OrderResource = z.infer<typeof orderResourceSchema>;

/** One refund in a list, from Temporal visibility (search attributes): the GET gives the whole refund. */
export const refundListItemSchema = z.object({
  object: z.literal('refund'),
  out_refund_no: z.string(),
  out_trade_no: z.string().optional().meta({ description: 'Absent only for refunds started outside an order ledger.' }),
  amount_fen: fen('The amount requested'),
  state: refundStateSchema,
  channel: refundChannelSchema.optional(),
  created_at: timestamp('When the refund was requested (its workflow started)'),
  closed_at: timestamp('When its workflow ended (final state reached and its work done)').optional(),
});
export type RefundListItem = z.infer<typeof refundListItemSchema>;

export const refundListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(refundListItemSchema),
    next_page_token: z
      .string()
      .optional()
      .meta({ description: 'Present when there may be more: pass it as page_token (with the same filters).' }),
  })
  .meta({
    description:
      'Refunds, running ones first, then newest first. From Temporal visibility, which trails the refunds by a ' +
      'moment: a refund just requested or changed may show up, or show its new state, a second later.',
  });
export type RefundList = z.infer<typeof refundListSchema>;

export const API_ERROR_TYPES = [
  'invalid_request',
  'unauthorized',
  'not_found',
  'idempotency_conflict',
  'rule_violation',
  'unknown_merchant',
  'not_cancellable',
  'payload_too_large',
  'unsupported_media_type',
  'unavailable',
  'internal',
] as const;
export type ApiErrorType = (typeof API_ERROR_TYPES)[number];

export const errorSchema = z
  .object({
    error: z.object({
      type: z.enum(API_ERROR_TYPES),
      message: z.string(),
      param: z.string().optional().meta({
        description:
          'The field at fault, as sent (invalid_request, unknown_merchant), e.g. amount_fen, metadata.ticket, mchid.',
      }),
      rule: z.string().optional().meta({
        description: 'The WeChat or ledger rule refused (rule_violation), e.g. M4, M10, ORDER_FACTS_MISMATCH.',
      }),
    }),
  })
  .meta({ description: 'Every refusal.' });
export type ErrorBody = z.infer<typeof errorSchema>;

export const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  temporal: z.enum(['reachable', 'unreachable']),
});
export type Health = z.infer<typeof healthSchema>;
