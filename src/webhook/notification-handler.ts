/**
 * The webhook's decision for one notification, independent of HTTP framing:
 * verify/decode (protocol layer) → remembered duplicate? → wait for a signal slot (signal-gate.ts) → signal the refund
 * workflow → answer. When no slot comes in time, or Temporal does not take the signal, the verified notification is
 * stored in the outbox (outbox.ts) and acknowledged; outbox-relay.ts signals it later. Without an outbox (or when it
 * cannot store), the answer is 503 and WeChat delivers again. Every path ends in an `Outcome` the route turns into the
 * reply, a metric and one log line.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Client } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';
import { merchantScope, refundWorkflowId } from '../domain/ids';
import type { RefundNotification } from '../wechatpay/gateway';
import { NotificationRejected, type NotificationRejectReason } from '../wechatpay/notifications';
import type { RouteDeadline } from './deadline';
import type { MerchantDirectoryView } from './merchant-directory';
import type { MerchantVerifier } from './merchant-verifier';
import type { NotificationResult } from './metrics';
import { orphanRecordOf, type OrphanSink } from './orphans';
import { RecentNotifications } from './recent-notifications';
import type { OutboxEntry } from './outbox';
import { ACCEPTED, fail, type Answer } from './replies';
import { NoTimeToSignal, type SignalGate } from './signal-gate';
import { signalRefundWorkflow, TemporalUnavailable, type SignalOutcome } from './signal-refund';

export type ApiVersion = 'v3' | 'v2';

class OrphanNotStored extends Error {
  override readonly name = 'OrphanNotStored';
}

export interface Outcome {
  result: NotificationResult;
  answer: Answer;
  /** Reason code for refusals (NotificationRejected.reason or a webhook-level code). */
  reason?: string;
  notification?: RefundNotification;
}

export interface NotificationRequest {
  apiVersion: ApiVersion;
  merchant: MerchantVerifier;
  /** The merchants as the request found them when it arrived (its default names the workflow IDs). */
  directory: MerchantDirectoryView;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  requestId: string;
  log: FastifyBaseLogger;
  /** The route's answer deadline (deadline.ts); none: only `signalTimeoutMs` bounds the signal. */
  deadline?: RouteDeadline;
}

/** What became of a notification handed on: the signal's outcome, or stored in the outbox for the relay. */
export type DeliveryOutcome = SignalOutcome | { kind: 'deferred' };

/** Where a notification goes when it cannot be signalled in time. */
export interface DeferredSignals {
  /** Resolves once the entry is durable and queued for the relay. */
  store(entry: OutboxEntry): Promise<void>;
  /** How long a notification may take to be signalled before it is stored and answered instead (ms). */
  deferAfterMs: number;
}

export interface NotificationHandlerDeps {
  temporal: Client;
  orphans: OrphanSink;
  recent: RecentNotifications<DeliveryOutcome>;
  /** The outbox; absent: a notification that cannot be signalled in time is answered 503. */
  deferred?: DeferredSignals;
  /** Bounds the signals in flight; a notification waits its turn only as long as its deadline allows. */
  signals: SignalGate;
  /** The longest one signal exchange may take, even when the route's deadline is further away. */
  signalTimeoutMs: number;
  clock: () => Date;
}

/** Fixed public texts per reason: the protocol layer's detailed message goes to the log only. */
const REFUSAL_TEXT: Record<NotificationRejectReason, string> = {
  SIGNTEST_PROBE: 'signature verification failed (SIGNTEST probe)',
  BAD_SIGNATURE: 'signature verification failed',
  UNKNOWN_SERIAL: 'unknown Wechatpay-Serial',
  STALE_TIMESTAMP: 'Wechatpay-Timestamp outside the allowed window',
  MISSING_HEADERS: 'Wechatpay signature headers missing',
  BAD_CIPHERTEXT: 'notification could not be decrypted',
  MALFORMED: 'malformed notification',
  MERCHANT_MISMATCH: 'notification is addressed to another merchant',
};

/**
 * Not authentic (forged, probe, stale, unknown key, garbage, and any v2 that does not validate: its ECB req_info can be
 * spliced) → 4xx: 401 for failed authentication, 400 for a body we cannot even read. Authentic but unusable (a
 * verified v3 that does not decrypt or validate, reference §4.5/F11) → 500, so WeChat retries and someone is alerted.
 */
function refusal(err: NotificationRejected): Outcome {
  const text = REFUSAL_TEXT[err.reason] ?? 'notification refused';
  if (err.authentic) return { result: 'undecryptable', reason: err.reason, answer: fail(500, text) };
  const status = err.reason === 'MALFORMED' || err.reason === 'MERCHANT_MISMATCH' ? 400 : 401;
  return { result: 'rejected', reason: err.reason, answer: fail(status, text) };
}

/** A configured merchant whose keys cannot be read now: 500 so WeChat retries later (the log names the setting). */
export function merchantUnavailable(): Outcome {
  return {
    result: 'error',
    reason: 'MERCHANT_UNAVAILABLE',
    answer: fail(500, 'merchant verification keys unavailable, retry later'),
  };
}

export function rejectedBeforeVerification(reason: string, httpStatus: number, message: string): Outcome {
  return { result: 'rejected', reason, answer: fail(httpStatus, message) };
}

async function verify(req: NotificationRequest, now: Date): Promise<RefundNotification> {
  const { merchant } = req;
  if (req.apiVersion === 'v3') {
    if (!merchant.verifyV3) throw new Error('unreachable: route checked v3 support');
    return merchant.verifyV3({ headers: req.headers, rawBody: req.rawBody, now });
  }
  if (!merchant.decodeV2) throw new Error('unreachable: route checked v2 support');
  return merchant.decodeV2({ rawBody: req.rawBody, now });
}

/**
 * A v3 notification signed by WeChat that does not decrypt with this merchant's APIv3 key is normally a key problem
 * (500 + alarm, §4.5). But merchants that share WeChat's verification keys (one company, several mchids) could have
 * one's genuine notification replayed to another's path: if another merchant's key opens it, it is misrouted (4xx).
 */
async function belongsToAnotherMerchant(deps: NotificationHandlerDeps, req: NotificationRequest): Promise<boolean> {
  if (req.apiVersion !== 'v3') return false;
  for (const other of req.directory.others(req.merchant.mchid)) {
    if (!other.verifyV3) continue;
    try {
      await other.verifyV3({ headers: req.headers, rawBody: req.rawBody, now: deps.clock() });
      return true;
    } catch {
      // not this one either
    }
  }
  return false;
}

/**
 * The refund's workflow ID: the notification names its merchant (the service provider in partner mode) and
 * sub-merchant, and only merchants other than the default have their mchid in the ID (src/domain/ids.ts).
 * Undefined when out_refund_no is one we could never have issued (still genuine: an orphan).
 */
function workflowIdOf(n: RefundNotification, defaultMchid: string | undefined): string | undefined {
  try {
    return refundWorkflowId(n.outRefundNo, merchantScope(n.mchid, n.subMchid, defaultMchid));
  } catch {
    return undefined;
  }
}

/** Time kept back from a notification's answer budget to store it in the outbox if the signal does not make it. */
const OUTBOX_STORE_RESERVE_MS = 250;

const RESULTS: Record<DeliveryOutcome['kind'], NotificationResult> = {
  signalled: 'accepted',
  orphaned: 'orphaned',
  workflow_closed: 'workflow_closed',
  deferred: 'deferred',
};

export async function handleNotification(deps: NotificationHandlerDeps, req: NotificationRequest): Promise<Outcome> {
  let notification: RefundNotification;
  try {
    notification = await verify(req, deps.clock());
  } catch (err) {
    if (err instanceof NotificationRejected) {
      if (err.authentic && (await belongsToAnotherMerchant(deps, req))) {
        req.log.info({ detail: err.message }, 'notification for another configured merchant refused');
        return { result: 'rejected', reason: 'MERCHANT_MISMATCH', answer: fail(400, REFUSAL_TEXT.MERCHANT_MISMATCH) };
      }
      // The protocol layer's message names the failed check; it is logged, never sent back.
      const level = err.reason === 'SIGNTEST_PROBE' ? 'debug' : 'info'; // probes are routine (§4.8)
      req.log[level]({ detail: err.message }, 'notification refused by verification');
      return refusal(err);
    }
    throw err;
  }
  // The keys were this merchant's, so a different addressee means a misrouted notify_url: refuse, do not signal.
  if (notification.mchid !== req.merchant.mchid) {
    return { result: 'rejected', reason: 'MERCHANT_MISMATCH', answer: fail(400, REFUSAL_TEXT.MERCHANT_MISMATCH) };
  }

  if (req.deadline?.signal.aborted) {
    // WeChat was already told "retry later": signalling now would act on a request we refused.
    return { result: 'temporal_unavailable', answer: fail(503, 'timed out, retry later'), notification };
  }

  const key = `${notification.mchid}:${notification.notificationId}`;
  if (deps.recent.seen(key)) return { result: 'duplicate', answer: ACCEPTED, notification };

  let signal: { result: DeliveryOutcome; shared: boolean };
  try {
    signal = await deps.recent.once(
      key,
      () => deliver(deps, req, notification, key),
      () => true, // deliver() only resolves once the outcome is durable (signalled, closed, stored, orphan recorded)
    );
  } catch (err) {
    if (err instanceof NoTimeToSignal) {
      // Nothing was signalled: a 503 now costs one more delivery, a signal cut off by the deadline would too.
      req.log.warn({ detail: err.message }, 'no time left to signal; answering 503 so WeChat retries');
      return {
        result: 'temporal_unavailable',
        reason: 'NO_TIME_TO_SIGNAL',
        answer: fail(503, 'busy, retry later'),
        notification,
      };
    }
    if (err instanceof TemporalUnavailable) {
      req.log.warn({ err: { message: err.message } }, 'Temporal unavailable; answering 503 so WeChat retries');
      return {
        result: 'temporal_unavailable',
        answer: fail(503, 'temporarily unavailable, retry later'),
        notification,
      };
    }
    if (err instanceof OrphanNotStored) {
      req.log.error({ err: { message: err.message } }, 'orphan notification could not be recorded; answering 500');
      return { result: 'error', answer: fail(500, 'could not record notification, retry later'), notification };
    }
    throw err;
  }
  if (signal.shared) return { result: 'duplicate', answer: ACCEPTED, notification };
  return { result: RESULTS[signal.result.kind], answer: ACCEPTED, notification };
}

async function deliver(
  deps: NotificationHandlerDeps,
  req: NotificationRequest,
  n: RefundNotification,
  key: string,
): Promise<DeliveryOutcome> {
  const workflowId = workflowIdOf(n, req.directory.defaultMchid);
  let outcome: SignalOutcome;
  try {
    outcome = workflowId === undefined ? { kind: 'orphaned' } : await signalInTurn(deps, req, workflowId, n);
  } catch (err) {
    const late = err instanceof NoTimeToSignal || err instanceof TemporalUnavailable;
    if (!late || !deps.deferred || workflowId === undefined) throw err;
    return defer(deps.deferred, req, { key, workflowId, notification: n, requestId: req.requestId }, err);
  }
  if (outcome.kind === 'orphaned') {
    const record = orphanRecordOf(n, {
      requestId: req.requestId,
      workflowId: workflowId ?? '(invalid out_refund_no)',
      now: deps.clock(),
    });
    try {
      await deps.orphans.record(record);
    } catch (err) {
      // Not stored → not acknowledged: WeChat's retry is our second chance to store it.
      throw new OrphanNotStored(`orphan record could not be stored: ${(err as Error).message}`, { cause: err });
    }
    req.log.warn({ orphan: record }, 'orphaned refund notification: no refund workflow; recorded for reconciliation');
  } else if (outcome.kind === 'workflow_closed') {
    req.log.info(
      { workflowId, workflowStatus: outcome.workflowStatus },
      'refund workflow already closed; acknowledged',
    );
  }
  return outcome;
}

/**
 * Stores the notification for the relay. A signal cut off by its deadline may still have been applied: the relay's
 * repeat is then one the workflow ignores. If the outbox cannot store it, the original failure stands (503).
 */
async function defer(
  deferred: DeferredSignals,
  req: NotificationRequest,
  entry: Omit<OutboxEntry, 'storedAt'>,
  why: Error,
): Promise<DeliveryOutcome> {
  try {
    await deferred.store({ ...entry, storedAt: new Date().toISOString() });
  } catch (err) {
    req.log.error({ err: { message: (err as Error).message } }, 'outbox could not store the notification');
    throw why;
  }
  req.log.info({ detail: why.message }, 'not signalled in time; stored in the outbox and acknowledged');
  return { kind: 'deferred' };
}

/**
 * The signal, once the gate gives it a slot in time. It must finish by the route's deadline (the answer follows at
 * once) and within `signalTimeoutMs` of its start.
 */
function signalInTurn(
  deps: NotificationHandlerDeps,
  req: NotificationRequest,
  workflowId: string,
  n: RefundNotification,
): Promise<SignalOutcome> {
  const deadline = req.deadline;
  // With an outbox, a signal gives up early enough for the store to still be answered in time...
  const mustFinishBy =
    (deadline?.at ?? Date.now() + deps.signalTimeoutMs) - (deps.deferred ? OUTBOX_STORE_RESERVE_MS : 0);
  // ...and a notification that cannot start its signal within deferAfterMs does not wait for a slot any longer: it
  // is stored and answered (a burst is acknowledged at once and relayed at Temporal's pace). A signal once started
  // is never cut short for this: cut off, it might still be applied, and the relay's repeat would double the load.
  const admitBy = deps.deferred
    ? Math.min(mustFinishBy, Date.now() + deps.deferred.deferAfterMs + deps.signals.expectedSignalMs)
    : mustFinishBy;
  return deps.signals.run({ deadlineAt: admitBy, abortSignal: deadline?.signal, commit: deadline?.commit }, () =>
    signalRefundWorkflow(deps.temporal, workflowId, n, Math.min(mustFinishBy, Date.now() + deps.signalTimeoutMs)),
  );
}
