/**
 * Activities are factories over injected dependencies (design.md): production passes the v3/v2 gateway, tests pass
 * a scriptable fake or the simulator-backed gateway. No module mocks, no Temporal mocks.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { FailureClass } from '../domain/failure-classes';
import type { SealedSecret } from '../domain/sealed-secret';
import type {
  ApplyAbnormalRefundInput,
  CreateRefundInput,
  OrderRecord,
  QueryOrderInput,
  QueryRefundInput,
  RefundGateway,
  RefundRecord,
} from '../wechatpay/gateway';
import { toApplicationFailure } from './failures';
import { refundEventBody } from '../api/refund-resource';
import { postRefundEvent, type DeliveryAttemptResult } from '../events/delivery';
import type { EventRetrySchedule, RefundEventDeliveryInput } from '../workflows/types';

export { toApplicationFailure } from './failures';
export type { GatewayFailureDetails } from './failures';

/** Where this deployment's refund events go (events settings); absent: no events are sent. */
export interface EventsTarget {
  url: string;
  /** HMAC key of the signatures: never logged, never in history. */
  secret: string;
  timeoutMs: number;
  retry: EventRetrySchedule;
}

export interface ActivityDeps {
  gateway: RefundGateway;
  /** Opens bank details sealed by the operator CLI (WXREFUND_SEAL_KEYS); without it sealed details are refused. */
  unseal?: (sealed: SealedSecret) => string;
  events?: EventsTarget;
  /** How an event is POSTed (tests pass a fake); default src/events/delivery.ts. */
  postEvent?: typeof postRefundEvent;
}

/** eventsPolicy's answer: whether refunds of this worker announce events, and how long deliveries are retried. */
export type EventsPolicy = { enabled: false } | { enabled: true; retry: EventRetrySchedule };

/** apply-abnormal-refund's input as the workflow sends it: bank details in clear (legacy) or sealed. */
export type ApplyAbnormalActivityInput = ApplyAbnormalRefundInput & {
  sealedBankAccount?: SealedSecret;
  sealedRealName?: SealedSecret;
};

export interface SubmitRefundInput {
  request: CreateRefundInput;
  /**
   * An earlier create with this out_refund_no had an unknown outcome (§3.9 RETRY_SAME): look the refund up first and
   * adopt it if WeChat has it, instead of sending the create again.
   */
  queryFirst: boolean;
}

export interface SubmitRefundResult {
  record: RefundRecord;
  /** true when the refund was found by the preceding query, i.e. an earlier create had in fact been accepted. */
  adopted: boolean;
}

const QUERY_THROTTLED_RETRY_MS = 60_000;

export function createActivities({ gateway, unseal, events, postEvent = postRefundEvent }: ActivityDeps) {
  return {
    /** Local activity: the worker's events configuration as the refund workflow needs it (never the secret). */
    async eventsPolicy(): Promise<EventsPolicy> {
      return events ? { enabled: true, retry: events.retry } : { enabled: false };
    },

    /**
     * One delivery attempt of a refund event (event-delivery.ts retries). The body is built from the event alone, so
     * every attempt sends the same bytes; the signature is made now, with this attempt's timestamp.
     */
    async deliverRefundEvent({
      event,
      attempt,
    }: {
      event: RefundEventDeliveryInput;
      attempt: number;
    }): Promise<DeliveryAttemptResult> {
      if (!events) {
        throw ApplicationFailure.nonRetryable(
          'this worker has no events target configured (events: in the stack file, WXREFUND_EVENTS_URL in production)',
          'EventsNotConfigured',
        );
      }
      const body = refundEventBody(event);
      const result = await postEvent(events, { id: event.id, body }, Math.floor(Date.now() / 1000));
      Context.current().log.info('refund event delivery attempt', {
        id: event.id,
        type: event.type,
        attempt,
        ok: result.ok,
        statusCode: result.statusCode,
        error: result.error,
      });
      return result;
    },

    /**
     * One create round. Temporal never retries it (the refund workflow's proxy sets maximumAttempts: 1): every resend
     * is a round of the workflow, which alone decides when to send and whether to look first (`queryFirst`).
     */
    async submitRefund({ request, queryFirst }: SubmitRefundInput): Promise<SubmitRefundResult> {
      const log = Context.current().log;
      try {
        if (queryFirst) {
          const found = await gateway.queryRefund({ outRefundNo: request.outRefundNo, subMchid: request.subMchid });
          // NOTSURE (legacy v2) means "resend the identical create"; anything else is the refund itself.
          if (found && found.status !== 'NOTSURE') {
            log.info('adopting refund found before resend', { outRefundNo: request.outRefundNo, status: found.status });
            return { record: found, adopted: true };
          }
        }
        const record = await gateway.createRefund(request);
        return { record, adopted: false };
      } catch (err) {
        throw toApplicationFailure(err);
      }
    },

    async queryRefund(input: QueryRefundInput): Promise<RefundRecord | null> {
      try {
        return await gateway.queryRefund(input);
      } catch (err) {
        throw toApplicationFailure(err, { throttledRetryDelayMs: QUERY_THROTTLED_RETRY_MS });
      }
    },

    /** The payment's own record for a new ledger (docs §11); null when WeChat does not know the order. */
    async lookUpOrder(input: QueryOrderInput): Promise<OrderRecord | null> {
      try {
        return await gateway.queryOrder(input);
      } catch (err) {
        // A caller is waiting for this answer (seconds, not minutes): a throttled lookup retries soon.
        throw toApplicationFailure(err, { throttledRetryDelayMs: 2_000 });
      }
    },

    async applyAbnormalRefund(input: ApplyAbnormalActivityInput): Promise<RefundRecord> {
      const { sealedBankAccount, sealedRealName, ...request } = input;
      if (sealedBankAccount || sealedRealName) {
        if (!unseal) {
          throw ApplicationFailure.nonRetryable(
            'bank details are sealed but this worker has no sealing key (set WXREFUND_SEAL_KEYS as for the operator CLI)',
            'NeedsOperator' satisfies FailureClass,
          );
        }
        try {
          if (sealedBankAccount) request.bankAccount = unseal(sealedBankAccount);
          if (sealedRealName) request.realName = unseal(sealedRealName);
        } catch (err) {
          throw ApplicationFailure.nonRetryable(
            `cannot open sealed bank details: ${(err as Error).message}`,
            'NeedsOperator' satisfies FailureClass,
          );
        }
      }
      try {
        return await gateway.applyAbnormalRefund(request);
      } catch (err) {
        throw toApplicationFailure(err);
      }
    },
  };
}

export type RefundActivities = ReturnType<typeof createActivities>;
