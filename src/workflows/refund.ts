/**
 * One refund, from the first create to a final state (workflow ID `refund-<out_refund_no>`, see domain/ids.ts).
 *
 *   submit ──► accepted ──► wait for notification OR next poll ──► SUCCESS | CLOSED
 *     │                          │
 *     │                          └─► ABNORMAL ──(operator: resolveAbnormal)──► PROCESSING (bank-card schedule again)
 *     ├─ RetrySame / UnknownOutcome / Throttled: back off, query by out_refund_no, resend the SAME request
 *     ├─ NeedsOperator: MANUAL_REVIEW, retry every few hours and on operator retryNow
 *     └─ Final: REJECTED
 *
 * The create request is built once from the input and never changes: the same out_refund_no and the same amounts on
 * every retry (M8), so WeChat refunds at most once however often we resend. Every reply and notification is held
 * against that request before it counts (domain/evidence.ts): one that disagrees is never applied.
 * A refund requested while another of its order is being submitted starts held, until its ledger grants the slot;
 * its ledger may instead cancel it (the order service withdrew it), and it ends CANCELLED without a call to WeChat.
 * The states an order service acts on are announced as events (refund-events.ts).
 *
 * This file is the workflow's control flow and its calls to WeChat; the refund's state, and every change to it, is
 * RefundTracker's (refund-tracker.ts).
 */
import * as wf from '@temporalio/workflow';
import type { ApplyAbnormalActivityInput, RefundActivities, RefundPolicy } from '../activities';
import type { CreateRefundInput, RefundChannel } from '../wechatpay/gateway';
import { isTerminal, stateFromWechatStatus } from '../domain/status';
import { resolvePolling } from '../domain/poll-schedule';
import { outcomeUnknown } from '../domain/failure-classes';
import { pollJitterMs } from '../domain/poll-jitter';
import {
  backoffDelayMs,
  decideSubmitError,
  resolveSubmitRetry,
  type ResolvedSubmitRetry,
} from '../domain/submit-retry';
import type { ResolveAbnormalRequest, RefundWorkflowInput } from '../domain/schemas';
import { schemas } from '../domain/lazy-schemas';
import { describeZodError } from '../domain/zod-errors';
import {
  cancelQueuedRefundSignal,
  ledgerContinuedSignal,
  refundNotifiedSignal,
  reportSubmissionSignal,
  resolveAbnormalUpdate,
  retryNowUpdate,
  statusQuery,
  submissionSlotGrantedSignal,
} from './definitions';
import { LEAN_REFUND, MERCHANT_CALL_BUDGETS, REFUND_EVENTS, REFUND_EVIDENCE_CHECKED } from './patches';
import { RefundEvents } from './refund-events';
import { RefundTracker } from './refund-tracker';
import { classifyActivityFailure, isoAt, parseOrFail } from './support';
import { WechatLine } from './wechat-line';
import type { PollReason, RefundOutcome, RefundStatusView } from './types';

export async function refundWorkflow(rawInput: RefundWorkflowInput): Promise<RefundOutcome> {
  const input = parseOrFail(schemas().refundWorkflowInputSchema, rawInput, 'refundWorkflow input');
  // New refunds record one patch marker (and one TemporalChangeVersion upsert) where they recorded three: LEAN_REFUND
  // implies the three before it, which older histories still ask about, in the same order.
  const lean = wf.patched(LEAN_REFUND);
  const evidenceChecked = lean || wf.patched(REFUND_EVIDENCE_CHECKED);
  const refund = new RefundTracker(
    input,
    wf.workflowInfo().workflowId,
    resolvePolling(input.polling),
    evidenceChecked,
    lean,
  );
  const merchantRouted = lean || wf.patched(MERCHANT_CALL_BUDGETS);

  wf.setHandler(statusQuery, () => refund.view());
  wf.setHandler(refundNotifiedSignal, (notification) => refund.onNotification(notification));
  wf.setHandler(submissionSlotGrantedSignal, () => refund.grantSubmissionSlot());
  wf.setHandler(cancelQueuedRefundSignal, (request) => refund.cancelWhileHeld(request));
  wf.setHandler(reportSubmissionSignal, () => refund.reportSubmissionAsked());
  wf.setHandler(ledgerContinuedSignal, () => refund.ledgerContinued());
  wf.setHandler(retryNowUpdate, (request) => refund.retryNow(request), {
    validator: (request) => refund.validateRetryNow(request),
  });
  wf.setHandler(resolveAbnormalUpdate, (request) => resolveAbnormal(refund, gateway, request), {
    validator: (request) => refund.validateResolveAbnormal(request),
  });

  refund.publishInitial();
  // Every patched() call comes before the first await: a patch marker recorded after a local activity's marker would
  // not replay in the same place (the local activity's marker can land after it in history).
  const eventsPatched = lean || wf.patched(REFUND_EVENTS);
  // One question to the worker (a local activity): events, and whether its merchant's budgeted queues are served.
  const policy = merchantRouted ? await askRefundPolicy(input.mchid) : undefined;
  const gateway = new WechatLine(input.mchid, policy?.merchantQueues ?? false);
  const events = eventsPatched
    ? new RefundEvents(refund, { idFromWorkflowId: merchantRouted, policy: policy?.events })
    : undefined;
  events?.start();
  // Started at request time to bind its number; another refund of the order holds the submission slot (M9).
  if (refund.known.held) await wf.condition(() => !refund.known.held || !refund.awaitingSubmission());
  await submitUntilAccepted(refund, gateway, createRequest(input), resolveSubmitRetry(input.submitRetry));
  await followUntilFinal(refund, gateway, merchantRouted);
  if (refund.settledWithoutChannel()) await learnChannel(refund, gateway);
  // Events are handed to their delivery workflows before the end; their delivery never holds the refund up.
  if (events) await wf.condition(() => events.idle());
  await wf.condition(wf.allHandlersFinished);
  await refund.flushLedgerReports();
  return refund.outcome();
}

const { refundPolicy } = wf.proxyLocalActivities<RefundActivities>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 3 },
});

/** Without an answer: no events, and calls on the workflow's own queue, which every worker serves for any merchant. */
async function askRefundPolicy(mchid: string | undefined): Promise<RefundPolicy> {
  return refundPolicy({ mchid }).catch((err: unknown) => {
    wf.log.warn('could not read the refund policy: no events, calls on the worker queue', { error: String(err) });
    return { events: { enabled: false }, merchantQueues: false };
  });
}

function createRequest(input: RefundWorkflowInput): CreateRefundInput {
  return Object.freeze({
    outRefundNo: input.outRefundNo,
    outTradeNo: input.outTradeNo,
    transactionId: input.transactionId,
    subMchid: input.subMchid,
    refundFen: input.refundFen,
    totalFen: input.totalFen,
    reason: input.reason,
    notifyUrl: input.notifyUrl,
    fundsAccount: input.fundsAccount,
  });
}

/** Sends the create until WeChat confirms it (or refuses it for good). */
async function submitUntilAccepted(
  refund: RefundTracker,
  gateway: WechatLine,
  request: CreateRefundInput,
  retry: ResolvedSubmitRetry,
): Promise<void> {
  let unknownRounds = 0;
  let operatorRounds = 0;
  /** Once any create had an unknown outcome, every resend is preceded by a query (§3.9 RETRY_SAME). */
  let queryFirst = false;

  while (refund.awaitingSubmission()) {
    // A notification or operator says WeChat may have it: look before sending again.
    if (refund.takePollRequest() !== undefined) queryFirst = true;
    const at = Date.now();
    const queried = queryFirst;
    let result;
    try {
      result = await gateway.runExclusive(() =>
        gateway.calls.submitRefund({ request, queryFirst, mchid: refund.input.mchid }),
      );
    } catch (err) {
      const failure = classifyActivityFailure(err);
      refund.recordSubmitAttempt({ at: isoAt(at), result: 'FAILED', error: failure }, at, queried);
      if (!refund.awaitingSubmission()) break; // settled by a notification meanwhile
      if (outcomeUnknown(failure.errorClass)) {
        queryFirst = true;
        unknownRounds += 1;
      }
      const decision = decideSubmitError(failure.errorClass, unknownRounds, retry);
      if (decision.kind === 'reject') {
        refund.observe('REJECTED', 'submit-error', { rejection: failure, note: `${failure.code}: ${failure.message}` });
        return;
      }
      if (decision.kind === 'manual-review') {
        refund.observe('MANUAL_REVIEW', 'submit-error', {
          reviewReason: decision.reason,
          note: `${failure.code}: ${failure.message}`,
        });
        operatorRounds += 1;
        await waitBeforeResubmit(refund, backoffDelayMs(retry.operatorRetry, operatorRounds));
        continue;
      }
      await waitBeforeResubmit(refund, decision.delayMs);
      continue;
    }

    const wechatStatus = result.record.status;
    refund.recordSubmitAttempt(
      { at: isoAt(at), result: result.adopted ? 'ADOPTED' : 'ACCEPTED', wechatStatus },
      at,
      queried,
    );
    const mismatches = refund.mismatchesIn(result.record);
    if (mismatches.length > 0) {
      // A found record is WeChat's own: review. A create reply that disagrees is checked against a query first.
      if (result.adopted) refund.escalateMismatch('query', mismatches);
      else {
        refund.alertMismatch('create', mismatches);
        await poll(refund, gateway, 'VERIFY_EVIDENCE', { evenIfUnaccepted: true });
        if (refund.awaitingSubmission() && refund.state !== 'MANUAL_REVIEW') {
          refund.escalateMismatch('create', mismatches);
        }
      }
      continue;
    }
    const to = stateFromWechatStatus(wechatStatus);
    if (to === 'PENDING') {
      // Legacy v2 NOTSURE: "resend with the original refund number".
      queryFirst = true;
      unknownRounds += 1;
      await waitBeforeResubmit(refund, backoffDelayMs(retry.retrySame, unknownRounds));
      continue;
    }
    // An unrecognised status still means WeChat has the refund (it answered with a record): a human decides.
    if (to === 'MANUAL_REVIEW') refund.markAccepted();
    refund.observe(to, 'create', {
      record: result.record,
      reviewReason: to === 'MANUAL_REVIEW' ? 'UNRECOGNISED_STATUS' : undefined,
      note: to === 'MANUAL_REVIEW' ? `WeChat status ${wechatStatus}` : undefined,
    });
  }
}

/** Sleeps until the backoff ends, an operator says "retry now", or a notification settles the refund. */
async function waitBeforeResubmit(refund: RefundTracker, delayMs: number): Promise<void> {
  refund.planResubmit(Date.now() + delayMs);
  await wf.condition(() => refund.resubmitWaitInterrupted(), delayMs);
  refund.resubmitWaitEnded();
}

/** After acceptance: the first of a notification or the next poll, until SUCCESS or CLOSED. */
async function followUntilFinal(refund: RefundTracker, gateway: WechatLine, jittered: boolean): Promise<void> {
  while (!isTerminal(refund.state)) {
    const scheduled = refund.nextPollDue();
    // Spread (docs/merchants.md): refunds accepted together do not poll together. Older histories poll on the dot.
    const due =
      scheduled === null || !jittered
        ? scheduled
        : scheduled + pollJitterMs(refund.input.outRefundNo, scheduled - Date.now());
    if (due === null) {
      refund.observe('MANUAL_REVIEW', 'poll-horizon', {
        reviewReason: 'POLL_HORIZON_EXCEEDED',
        note: 'still PROCESSING when the poll schedule ran out',
      });
      continue;
    }
    refund.planPoll(due);
    const version = refund.known.version;
    const waitMs = due - Date.now();
    if (waitMs > 0 && refund.known.pollRequested === undefined) {
      await wf.condition(() => refund.known.version !== version || refund.known.pollRequested !== undefined, waitMs);
    }
    if (refund.known.pollRequested === undefined && refund.known.version !== version) continue; // state moved: re-plan
    const reason: PollReason = refund.takePollRequest() ?? (refund.state === 'PROCESSING' ? 'SCHEDULED' : 'WAITING');
    await poll(refund, gateway, reason);
  }
  refund.stopPolling();
}

/** WeChat's record of this refund, one gateway call at a time (see WorkflowMutex). */
function queryThisRefund(refund: RefundTracker, gateway: WechatLine) {
  return gateway.runExclusive(() =>
    gateway.calls.queryRefund({
      outRefundNo: refund.input.outRefundNo,
      subMchid: refund.input.subMchid,
      mchid: refund.input.mchid,
    }),
  );
}

async function poll(
  refund: RefundTracker,
  gateway: WechatLine,
  reason: PollReason,
  { evenIfUnaccepted = false }: { evenIfUnaccepted?: boolean } = {},
): Promise<void> {
  if (isTerminal(refund.state)) return;
  const at = Date.now();
  try {
    const record = await queryThisRefund(refund, gateway);
    if (record === null && evenIfUnaccepted) {
      refund.recordPoll({ at: isoAt(at), reason, result: 'NOT_FOUND' }, at);
      return;
    }
    const mismatches = record ? refund.mismatchesIn(record) : [];
    if (record && mismatches.length > 0) {
      const decision = refund.escalateMismatch('query', mismatches);
      refund.recordPoll({ at: isoAt(at), reason, result: record.status, decision: decision.kind }, at);
      return;
    }
    if (record === null) {
      // WeChat accepted this refund earlier, so "not found" is a glitch on their side: note it, keep polling.
      refund.recordPoll({ at: isoAt(at), reason, result: 'NOT_FOUND' }, at);
      return;
    }
    const to = stateFromWechatStatus(record.status);
    const decision = refund.observe(to, 'query', {
      record,
      reviewReason: to === 'MANUAL_REVIEW' ? 'UNRECOGNISED_STATUS' : undefined,
      note: to === 'MANUAL_REVIEW' ? `WeChat status ${record.status}` : undefined,
    });
    refund.recordPoll({ at: isoAt(at), reason, result: record.status, decision: decision.kind }, at);
  } catch (err) {
    const failure = classifyActivityFailure(err);
    refund.recordPoll({ at: isoAt(at), reason, result: 'ERROR', error: failure }, at);
  }
}

/**
 * A refund settled without WeChat naming the channel (a v3 notification carries none): one query tells, so the
 * RefundChannel search attribute is set on every settled refund. A failed query leaves it UNKNOWN, published too.
 */
async function learnChannel(refund: RefundTracker, gateway: WechatLine): Promise<void> {
  const at = Date.now();
  let channel: RefundChannel = 'UNKNOWN';
  try {
    const record = await queryThisRefund(refund, gateway);
    const mismatches = record ? refund.mismatchesIn(record) : [];
    if (record && mismatches.length > 0) refund.alertMismatch('query', mismatches);
    else if (record) channel = record.channel;
    refund.recordPoll({ at: isoAt(at), reason: 'CHANNEL', result: record?.status ?? 'NOT_FOUND' }, at);
  } catch (err) {
    const failure = classifyActivityFailure(err);
    refund.recordPoll({ at: isoAt(at), reason: 'CHANNEL', result: 'ERROR', error: failure }, at);
  }
  refund.settleChannel(channel);
}

/** The resolveAbnormal update: pays an ABNORMAL refund to another card, one gateway call at a time. */
async function resolveAbnormal(
  refund: RefundTracker,
  gateway: WechatLine,
  raw: ResolveAbnormalRequest,
): Promise<RefundStatusView> {
  // A Temporal failure (not a ZodError) so a bad request fails the update, never the workflow task.
  const parsed = schemas().resolveAbnormalSchema.safeParse(raw);
  if (!parsed.success) {
    throw wf.ApplicationFailure.nonRetryable(describeZodError(parsed.error), 'InvalidResolveAbnormalRequest');
  }
  const request = parsed.data;
  const at = Date.now();
  refund.startAbnormalResolution(request, at);
  try {
    const record = await gateway.runExclusive(async () => {
      // The state may have moved while waiting for the gateway (e.g. the portal handled it).
      const refundId = refund.known.refundId;
      if (refund.state !== 'ABNORMAL' || !refundId) {
        throw wf.ApplicationFailure.nonRetryable(`refund is ${refund.state}, no longer ABNORMAL`, 'NotAbnormal');
      }
      return gateway.calls.applyAbnormalRefund({
        mchid: refund.input.mchid,
        refundId,
        outRefundNo: refund.input.outRefundNo,
        subMchid: refund.input.subMchid,
        ...abnormalDestination(request),
      });
    });
    refund.abnormalResolutionAccepted(request, at, record);
    return refund.view();
  } catch (err) {
    if (err instanceof wf.ApplicationFailure) throw err;
    const failure = classifyActivityFailure(err);
    refund.abnormalResolutionFailed(request, at, failure);
    throw wf.ApplicationFailure.create({
      type: failure.errorClass,
      message: `apply-abnormal-refund failed: ${failure.code}: ${failure.message}`,
      nonRetryable: true,
      details: [failure],
    });
  } finally {
    refund.endAbnormalResolution();
  }
}

/** Where apply-abnormal-refund sends the money; sealed bank details stay sealed until the activity opens them. */
function abnormalDestination(
  request: ResolveAbnormalRequest,
): Omit<ApplyAbnormalActivityInput, 'refundId' | 'outRefundNo'> {
  switch (request.type) {
    case 'USER_BANK_CARD':
      return {
        type: request.type,
        bankType: request.bankType,
        bankAccount: request.bankAccount,
        realName: request.realName,
      };
    case 'USER_BANK_CARD_SEALED':
      return {
        type: 'USER_BANK_CARD',
        bankType: request.bankType,
        sealedBankAccount: request.sealedBankAccount,
        sealedRealName: request.sealedRealName,
      };
    case 'MERCHANT_BANK_CARD':
      return { type: request.type };
  }
}
