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
import type { Client } from '@temporalio/client';
import { reconcileDay, type ReconcileDayInput, type ReconcileDayResult } from '../reconciliation/reconcile-day';
import { reconciliationEventId } from '../reconciliation/schedules';
import { RECONCILIATION_EVENT_TYPE, type ReconciliationEventEnvelope } from '../events/types';
import { DEFAULT_EVENTS_RETRY } from '../config/merchant-events';
import { MerchantCredentialError, UnknownMerchantError, type MerchantGateways } from '../merchants/types';
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
  /**
   * The gateway of each merchant (src/merchants/gateway-pool.ts): calls carry their merchant's mchid (absent: the
   * default merchant). A single `gateway` instead serves every call (tests, one-merchant tools).
   */
  gateways?: Pick<MerchantGateways, 'forMerchant'>;
  gateway?: RefundGateway;
  /** The worker also polls every merchant's budgeted task queues (src/worker.ts): refunds may call through them. */
  merchantQueues?: boolean;
  /** A merchant's own events target (the registry's `events:`); absent: `events`. */
  eventsFor?: (mchid: string | undefined) => EventsTarget | undefined;
  /** Opens bank details sealed by the operator CLI (WXREFUND_SEAL_KEYS); without it sealed details are refused. */
  unseal?: (sealed: SealedSecret) => string;
  events?: EventsTarget;
  /** Daily reconciliation (docs/reconciliation.md): visibility, where reports go, which merchant is the default. */
  reconciliation?: ReconciliationDeps;
  /** How an event is POSTed (tests pass a fake); default src/events/delivery.ts. */
  postEvent?: typeof postRefundEvent;
}

export interface ReconciliationDeps {
  client: Client;
  /** Reports are written here (`<dir>/<mchid>/<date>/`), outside workflow history. */
  reportsDir: string;
  /** Is this the deployment's default merchant (its refunds' workflow IDs name no merchant)? */
  isDefault: (mchid: string) => boolean;
  /** WeChat queries per second a reconciliation may spend settling findings. */
  queriesPerSecond?: number;
  /** The webhook's orphan records, when this worker can read them (the local stack; a shared volume). */
  orphanLogPath?: string;
}

/** eventsPolicy's answer: whether refunds of this worker announce events, and how long deliveries are retried. */
export type EventsPolicy = { enabled: false } | { enabled: true; retry: EventRetrySchedule };

/** refundPolicy's answer: what a refund workflow asks its worker once, at its start (one local activity). */
export interface RefundPolicy {
  events: EventsPolicy;
  /**
   * Send WeChat calls to the merchant's budgeted task queues (domain/merchant-queues.ts), which this deployment's
   * workers poll; false: on the workflow's own queue (workers that serve no per-merchant queues, e.g. tests).
   */
  merchantQueues: boolean;
}

/** apply-abnormal-refund's input as the workflow sends it: bank details in clear (legacy) or sealed. */
export type ApplyAbnormalActivityInput = ApplyAbnormalRefundInput &
  OfMerchant & {
    sealedBankAccount?: SealedSecret;
    sealedRealName?: SealedSecret;
  };

/** Whose call: the merchant (the service provider in partner mode); absent: the deployment's default merchant. */
export interface OfMerchant {
  mchid?: string;
}

export interface SubmitRefundInput extends OfMerchant {
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

export function createActivities({
  gateways,
  gateway,
  unseal,
  events,
  eventsFor,
  merchantQueues = false,
  reconciliation,
  postEvent = postRefundEvent,
}: ActivityDeps) {
  const targetFor = (mchid: string | undefined) => (eventsFor ? eventsFor(mchid) : events);

  /**
   * The merchant's gateway. A merchant the registry no longer has, or whose credentials cannot be read, is a matter
   * for an operator (the refund waits in MANUAL_REVIEW, retried on a slow cadence and on "retry now"), and the message
   * names the merchant and the setting; every other merchant's refunds go on.
   */
  const gatewayOf = (mchid: string | undefined): RefundGateway => {
    if (!gateways) {
      if (!gateway) throw new Error('createActivities: give gateways or gateway');
      return gateway;
    }
    try {
      return gateways.forMerchant(mchid);
    } catch (err) {
      if (err instanceof MerchantCredentialError || err instanceof UnknownMerchantError) {
        throw ApplicationFailure.nonRetryable(err.message, 'NeedsOperator' satisfies FailureClass, {
          mchid: mchid ?? 'default',
          setting: err instanceof MerchantCredentialError ? err.setting : 'mchid',
        });
      }
      throw err;
    }
  };

  return {
    /** Local activity (histories from before refundPolicy): the worker's events configuration, never the secret. */
    async eventsPolicy(): Promise<EventsPolicy> {
      return events ? { enabled: true, retry: events.retry } : { enabled: false };
    },

    /** Local activity: how a refund of this merchant runs on this deployment (never a secret). */
    async refundPolicy({ mchid }: OfMerchant): Promise<RefundPolicy> {
      let retry: EventRetrySchedule | undefined;
      try {
        retry = targetFor(mchid)?.retry;
      } catch (err) {
        // The merchant has its own target but its secret cannot be read: events are on, and each delivery attempt
        // records why it failed (deliverRefundEvent), where an operator sees it, until the setting is fixed.
        Context.current().log.warn('merchant events target unreadable', { mchid, error: (err as Error).message });
        retry = events?.retry ?? DEFAULT_EVENTS_RETRY;
      }
      return {
        events: retry ? { enabled: true, retry } : { enabled: false },
        merchantQueues: merchantQueues && mchid !== undefined,
      };
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
      let target: EventsTarget | undefined;
      try {
        target = targetFor(event.refund.mchid);
      } catch (err) {
        return { ok: false, error: (err as Error).message, durationMs: 0 };
      }
      if (!target) {
        throw ApplicationFailure.nonRetryable(
          'this worker has no events target configured (events: in the stack file, WXREFUND_EVENTS_URL in production)',
          'EventsNotConfigured',
        );
      }
      const body = refundEventBody(event);
      const result = await postEvent(target, { id: event.id, body }, Math.floor(Date.now() / 1000));
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
    async submitRefund({ request, queryFirst, mchid }: SubmitRefundInput): Promise<SubmitRefundResult> {
      const log = Context.current().log;
      const gateway = gatewayOf(mchid);
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

    async queryRefund({ mchid, ...input }: QueryRefundInput & OfMerchant): Promise<RefundRecord | null> {
      const gateway = gatewayOf(mchid);
      try {
        return await gateway.queryRefund(input);
      } catch (err) {
        throw toApplicationFailure(err, { throttledRetryDelayMs: QUERY_THROTTLED_RETRY_MS });
      }
    },

    /** The payment's own record for a new ledger (docs §11); null when WeChat does not know the order. */
    async lookUpOrder({ mchid, ...input }: QueryOrderInput & OfMerchant): Promise<OrderRecord | null> {
      const gateway = gatewayOf(mchid);
      try {
        return await gateway.queryOrder(input);
      } catch (err) {
        // A caller is waiting for this answer (seconds, not minutes): a throttled lookup retries soon.
        throw toApplicationFailure(err, { throttledRetryDelayMs: 2_000 });
      }
    },

    /**
     * One merchant's refund bill of one day against the engine's records (src/reconciliation/reconcile-day.ts). A bill
     * not published yet or failing its SHA1 check is a RetrySame failure: the workflow's retry policy waits and asks
     * again (with a fresh download URL). Discrepancies are logged and counted in the
     * `wxrefund_reconciliation_open_discrepancies` metric (the alert), the report written outside history.
     */
    async reconcileRefundBill(input: ReconcileDayInput): Promise<ReconcileDayResult> {
      if (!reconciliation) {
        throw ApplicationFailure.nonRetryable(
          'this worker does not reconcile (no reports directory)',
          'ReconciliationOff',
        );
      }
      const ctx = Context.current();
      const gateway = gatewayOf(input.mchid);
      let result: ReconcileDayResult;
      try {
        result = await reconcileDay(
          {
            gateway,
            client: reconciliation.client,
            isDefault: reconciliation.isDefault(input.mchid),
            reportsDir: reconciliation.reportsDir,
            queriesPerSecond: reconciliation.queriesPerSecond,
            orphanLogPath: reconciliation.orphanLogPath,
            progress: (what) => ctx.heartbeat(what),
          },
          input,
        );
      } catch (err) {
        if ((err as Error).name === 'BillFormatError') {
          throw ApplicationFailure.nonRetryable((err as Error).message, 'BillFormatError');
        }
        throw toApplicationFailure(err);
      }
      const open = result.counts.unresolved;
      ctx.metricMeter
        .createCounter(
          'wxrefund_reconciliation_open_discrepancies',
          'findings',
          'open findings of daily reconciliations',
        )
        .add(open, { mchid: input.mchid });
      const log = open > 0 ? ctx.log.warn.bind(ctx.log) : ctx.log.info.bind(ctx.log);
      log(open > 0 ? 'reconciliation: discrepancies found' : 'reconciliation: every row matched', {
        mchid: input.mchid,
        billDate: input.billDate,
        open,
        counts: result.counts,
        report: result.report.report,
      });
      return result;
    },

    /**
     * The alert of a reconciliation with open findings, as a signed event to the merchant's (or the deployment's)
     * events target. The body is built from its input alone, so every attempt sends the same bytes; a refused
     * delivery fails the attempt and Temporal retries it. No target: nothing to send.
     */
    async announceReconciliation({
      result,
      created,
    }: {
      result: ReconcileDayResult;
      created: number;
    }): Promise<{ sent: boolean }> {
      const target = targetFor(result.mchid);
      if (!target) return { sent: false };
      const envelope: ReconciliationEventEnvelope = {
        id: reconciliationEventId(result, result.billDate),
        object: 'event',
        type: RECONCILIATION_EVENT_TYPE,
        created,
        data: {
          reconciliation: {
            mchid: result.mchid,
            ...(result.subMchid ? { sub_mchid: result.subMchid } : {}),
            bill_date: result.billDate,
            counts: result.counts,
            totals: {
              bill_rows: result.totals.billRows,
              bill_refund_fen: result.totals.billSumFen,
              engine_refund_fen: result.totals.engineSumFen,
            },
            open: result.open.map((f) => ({ kind: f.kind, out_refund_no: f.outRefundNo, detail: f.detail })),
            report: { path: result.report.report, sha256: result.report.sha256 },
          },
        },
      };
      const delivery = await postEvent(
        target,
        { id: envelope.id, body: JSON.stringify(envelope) },
        Math.floor(Date.now() / 1000),
      );
      if (!delivery.ok) {
        throw ApplicationFailure.retryable(
          `the order service did not accept ${envelope.id}: ${delivery.statusCode ?? ''} ${delivery.error ?? ''}`.trim(),
          'EventNotAccepted',
        );
      }
      return { sent: true };
    },

    async applyAbnormalRefund(input: ApplyAbnormalActivityInput): Promise<RefundRecord> {
      const { sealedBankAccount, sealedRealName, mchid, ...request } = input;
      const gateway = gatewayOf(mchid);
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
