/**
 * The API's wire shapes: request bodies and path/query parameters (zod, strict: an unknown field is an error, not
 * ignored) and the JSON resources it answers with. snake_case, money in integer fen (2500 = ¥25.00). The field rules
 * are the refund core's own (domain/schemas.ts), so the API refuses exactly what the ledger would.
 */
import { z } from 'zod';
import {
  fenSchema,
  outRefundNoSchema,
  outTradeNoSchema,
  reasonSchema,
  subMchidSchema,
  transactionIdSchema,
} from '../domain/schemas';

export const createRefundBodySchema = z
  .strictObject(
    {
      out_trade_no: outTradeNoSchema.optional(),
      /** A claim about the order: must agree with WeChat's record (else 422 ORDER_FACTS_MISMATCH). */
      transaction_id: transactionIdSchema.optional(),
      out_refund_no: outRefundNoSchema,
      amount_fen: fenSchema.max(Number.MAX_SAFE_INTEGER, 'must be a safe integer number of fen'),
      reason: reasonSchema.optional(),
      sub_mchid: subMchidSchema.optional(),
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
/** Partner mode: out_refund_no and out_trade_no are unique per sub-merchant. */
export const subMchidQuerySchema = z.strictObject({ sub_mchid: subMchidSchema.optional() });

/** WeChat's refund states, plus PENDING for a refund not yet answered by WeChat (queued for its turn included). */
export type RefundStateName =
  'PENDING' | 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL' | 'REJECTED' | 'MANUAL_REVIEW' | 'CANCELLED';

export interface RefundResource {
  object: 'refund';
  out_refund_no: string;
  out_trade_no: string;
  sub_mchid?: string;
  amount_fen: number;
  reason?: string;
  state: RefundStateName;
  /** Where the money goes: ORIGINAL, BALANCE, OTHER_BALANCE, OTHER_BANKCARD, or UNKNOWN until WeChat says. */
  channel?: string;
  /** WeChat's refund_id, once WeChat accepted the refund. */
  refund_id?: string;
  /** As WeChat reported them (GET only). */
  amounts?: {
    refund_fen: number;
    total_fen: number;
    payer_refund_fen?: number;
    payer_total_fen?: number;
    settlement_refund_fen?: number;
    discount_refund_fen?: number;
  };
  user_received_account?: string;
  /** Why WeChat refused it (REJECTED). */
  failure?: { code: string; message: string };
  /** When the order service's request was accepted. */
  created_at: string;
  /** When the refund reached SUCCESS (WeChat's success_time), CLOSED or REJECTED. */
  settled_at?: string;
}

export interface OrderRefundSummary {
  out_refund_no: string;
  amount_fen: number;
  state: RefundStateName;
  channel?: string;
  refund_id?: string;
  reason?: string;
  created_at: string;
}

export interface OrderResource {
  object: 'order';
  out_trade_no: string;
  transaction_id?: string;
  sub_mchid?: string;
  /** WeChat's record of the payment. */
  paid_fen: number;
  paid_at: string;
  /** Refunds are possible until then (payment + 365 days). */
  refund_deadline: string;
  succeeded_fen: number;
  /** Requested and not yet settled. */
  reserved_fen: number;
  /** paid − succeeded − reserved: what a new refund may ask for. */
  refundable_fen: number;
  /** Refunds counting towards WeChat's limit of 50 (all but REJECTED). */
  refund_count: number;
  refunds: OrderRefundSummary[];
}
