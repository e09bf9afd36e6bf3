/**
 * The refund resource: how a refund looks to an order service, in the API's answers and in the events sent to it
 * (so both say the same thing the same way). Pure functions of what the refund workflow and its ledger report.
 */
import { isTerminal } from '../domain/status';
import type { RefundEventEnvelope } from '../events/types';
import type {
  EventDeliveryView,
  LedgerEntry,
  RefundEventType,
  RefundSnapshot,
  RefundStatusView,
} from '../workflows/types';
import type { RefundResource } from './schemas';

/** What the refund's ledger adds: the request as accepted (absent for refunds started outside a ledger). */
export interface RequestRecord {
  requestedAt?: string;
  reason?: string;
  metadata?: Record<string, string>;
  status?: LedgerEntry['status'];
  lastChangeAt?: string;
}

type RefundFields = RefundSnapshot | RefundStatusView;

/** The resource from the refund workflow's view (and, for GET, its ledger entry and its events' deliveries). */
export function refundResourceOf(
  refund: RefundFields,
  request: RequestRecord = {},
  deliveries?: readonly EventDeliveryView[],
): RefundResource {
  // The ledger decides a cancel before the refund's workflow has ended itself: the ledger's word wins.
  const cancelledByLedger = request.status === 'CANCELLED' && refund.state !== 'CANCELLED';
  const state = cancelledByLedger ? 'CANCELLED' : refund.state;
  const lastTransition = refund.transitions.at(-1);
  const createdAt = request.requestedAt ?? refund.startedAt ?? lastTransition?.at ?? new Date(0).toISOString();
  const updatedAt = cancelledByLedger
    ? (request.lastChangeAt ?? createdAt)
    : (lastTransition?.at ?? refund.acceptedAt ?? createdAt);
  const settledAt = isTerminal(state)
    ? state === 'SUCCESS'
      ? (refund.successTime ?? updatedAt)
      : updatedAt
    : undefined;
  const reason = request.reason ?? refund.reason;
  const metadata = request.metadata ?? refund.metadata;
  const a = refund.amounts;
  return {
    object: 'refund',
    out_refund_no: refund.outRefundNo,
    out_trade_no: refund.outTradeNo ?? '',
    ...(refund.transactionId !== undefined ? { transaction_id: refund.transactionId } : {}),
    ...(refund.mchid !== undefined ? { mchid: refund.mchid } : {}),
    ...(refund.subMchid !== undefined ? { sub_mchid: refund.subMchid } : {}),
    amount_fen: refund.requestedFen,
    ...(reason !== undefined ? { reason } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
    state,
    ...(state === 'MANUAL_REVIEW' && refund.reviewReason !== undefined ? { review_reason: refund.reviewReason } : {}),
    channel: refund.channel,
    ...(refund.refundId !== undefined ? { refund_id: refund.refundId } : {}),
    ...(a
      ? {
          amounts: {
            refund_fen: a.refundFen,
            total_fen: a.totalFen,
            ...(a.payerRefundFen !== undefined ? { payer_refund_fen: a.payerRefundFen } : {}),
            ...(a.payerTotalFen !== undefined ? { payer_total_fen: a.payerTotalFen } : {}),
            ...(a.settlementRefundFen !== undefined ? { settlement_refund_fen: a.settlementRefundFen } : {}),
            ...(a.discountRefundFen !== undefined ? { discount_refund_fen: a.discountRefundFen } : {}),
          },
        }
      : {}),
    ...(refund.userReceivedAccount !== undefined ? { user_received_account: refund.userReceivedAccount } : {}),
    ...(state === 'REJECTED' && refund.rejection
      ? { failure: { code: refund.rejection.code, message: refund.rejection.message } }
      : {}),
    created_at: createdAt,
    updated_at: updatedAt,
    ...(settledAt !== undefined ? { settled_at: settledAt } : {}),
    ...(lastTransition && !cancelledByLedger
      ? {
          last_evidence: {
            source: lastTransition.evidence,
            at: lastTransition.at,
            ...(lastTransition.note !== undefined ? { note: lastTransition.note } : {}),
          },
        }
      : {}),
    ...(deliveries !== undefined && deliveries.length > 0 ? { events: deliveries.map(eventSummaryOf) } : {}),
  };
}

function eventSummaryOf(d: EventDeliveryView): NonNullable<RefundResource['events']>[number] {
  return {
    id: d.id,
    type: d.type,
    created_at: d.createdAt,
    delivery: d.state,
    attempts: d.attempts.map((a) => ({
      at: a.at,
      ...(a.statusCode !== undefined ? { status_code: a.statusCode } : {}),
      ...(a.error !== undefined ? { error: a.error } : {}),
    })),
  };
}

/** The JSON body of an event (`created` in unix seconds, Stripe's convention); signed byte for byte as sent. */
export function refundEventBody(event: {
  id: string;
  type: RefundEventType;
  createdAt: string;
  refund: RefundSnapshot;
}): string {
  const envelope: RefundEventEnvelope<RefundResource> = {
    id: event.id,
    object: 'event',
    type: event.type,
    created: Math.floor(Date.parse(event.createdAt) / 1000),
    data: { refund: refundResourceOf(event.refund) },
  };
  return JSON.stringify(envelope);
}
