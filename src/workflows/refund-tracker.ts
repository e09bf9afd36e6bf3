/**
 * The one owner of a refund workflow's state (refund-facts.ts): every change is a method of RefundTracker, and the
 * workflow (refund.ts) reads the facts through `known`, read-only. State moves only through `observe`, so the table
 * in domain/status.ts is the only judge of what may change; the other methods keep the records, the requests the
 * workflow's loops act on (retry now, query now) and what is published: search attributes and current details for
 * the Web UI (views in refund-view.ts), and reports to the order ledger.
 *
 * Messages that only touch state are answered here (notifications, retryNow, the ledger's slot). A message that calls
 * WeChat (resolveAbnormal) is answered in refund.ts, beside the other gateway calls, and recorded here.
 */
import * as wf from '@temporalio/workflow';
import type { RefundChannel, RefundNotification, RefundRecord } from '../wechatpay/gateway';
import {
  decideTransition,
  isTerminal,
  stateFromWechatStatus,
  type Evidence,
  type RefundState,
  type ReviewReason,
  type TransitionDecision,
} from '../domain/status';
import {
  nextScheduledPoll,
  scheduleFor,
  scheduleKindFor,
  type ResolvedPolling,
  type ScheduleKind,
} from '../domain/poll-schedule';
import type { ResolveAbnormalRequest, RefundWorkflowInput, RetryNowRequest } from '../domain/schemas';
import { schemas } from '../domain/lazy-schemas';
import { describeZodError } from '../domain/zod-errors';
import { outcomeUnknown } from '../domain/failure-classes';
import { compareEvidence, describeMismatches, type EvidenceMismatch, type RequestedRefund } from '../domain/evidence';
import { V2_NOTIFICATIONS_VERIFIED_BY_QUERY } from './patches';
import { awaitingSubmission, initialFacts, type KnownRefund, type RefundFacts } from './refund-facts';
import { LedgerReports, RefundPublisher, refundOutcome, statusChange, statusView } from './refund-view';
import { isoAt, type ClassifiedFailure } from './support';
import type {
  AbnormalResolutionRecord,
  FailureSummary,
  NotificationRecord,
  PollReason,
  PollRecord,
  CancelQueuedRefund,
  RefundEventRecord,
  RefundOutcome,
  RefundStatusView,
  RetryNowResult,
  SubmitAttemptRecord,
} from './types';

/** States that mean WeChat has the refund (the create was accepted). */
const ACCEPTED_STATES: ReadonlySet<RefundState> = new Set(['PROCESSING', 'SUCCESS', 'CLOSED', 'ABNORMAL']);

export interface ObserveOptions {
  record?: RefundRecord;
  notification?: RefundNotification;
  reviewReason?: ReviewReason;
  note?: string;
  rejection?: FailureSummary;
}

export class RefundTracker {
  private readonly facts: RefundFacts;
  private readonly publisher: RefundPublisher;
  private readonly ledger: LedgerReports;

  constructor(
    readonly input: RefundWorkflowInput,
    readonly workflowId: string,
    private readonly polling: ResolvedPolling,
    /** Whether evidence is compared with the request (false for histories that predate it, see patches.ts). */
    readonly evidenceChecked = false,
    /** LEAN_REFUND (patches.ts): report to the ledger only what it must hear by signal; first upsert only if needed. */
    private readonly lean = false,
  ) {
    this.facts = initialFacts(input.held === true);
    this.publisher = new RefundPublisher(input);
    this.ledger = new LedgerReports(
      input.ledgerWorkflowId,
      lean && { held: input.held === true, ledgerHearsCompletion: input.ledgerHearsCompletion === true },
    );
  }

  /** Everything known about this refund, read-only: change it through the methods below. */
  get known(): KnownRefund {
    return this.facts;
  }

  get state(): RefundState {
    return this.facts.state;
  }

  /** PENDING, or escalated before WeChat ever confirmed the refund: the create still has to go through. */
  awaitingSubmission(): boolean {
    return awaitingSubmission(this.facts);
  }

  /** Settled without any reply naming the channel (histories that check evidence learn it with one query). */
  settledWithoutChannel(): boolean {
    const settledAtWechat = this.facts.state === 'SUCCESS' || this.facts.state === 'CLOSED';
    return this.evidenceChecked && settledAtWechat && this.facts.channel === 'UNKNOWN';
  }

  view(): RefundStatusView {
    return statusView(this.facts, this.input, this.workflowId);
  }

  outcome(): RefundOutcome {
    return refundOutcome(this.facts, this.input, this.evidenceChecked);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Evidence against the request

  private requested(): RequestedRefund {
    const i = this.input;
    return {
      outRefundNo: i.outRefundNo,
      outTradeNo: i.outTradeNo,
      transactionId: i.transactionId,
      mchid: i.mchid,
      subMchid: i.subMchid,
      refundFen: i.refundFen,
      totalFen: i.totalFen,
    };
  }

  /** Where a reply or notification disagrees with what this refund asked for (nothing for older histories). */
  mismatchesIn(evidence: RefundRecord | RefundNotification): EvidenceMismatch[] {
    return this.evidenceChecked ? compareEvidence(this.requested(), evidence) : [];
  }

  /**
   * WeChat's own record of this out_refund_no disagrees with the request: never applied; a human looks. WeChat does
   * hold a refund under this number, so "retry now" means query from here on, never another create.
   */
  escalateMismatch(source: Evidence, mismatches: readonly EvidenceMismatch[]): TransitionDecision {
    const note = `EVIDENCE_MISMATCH: ${source} reply: ${describeMismatches(mismatches)}`;
    this.alertMismatch(source, mismatches);
    this.markAccepted();
    return this.observe('MANUAL_REVIEW', 'evidence-mismatch', { reviewReason: 'EVIDENCE_MISMATCH', note });
  }

  /** Every disagreement is an alert: a warning in the worker log and the wxrefund_evidence_mismatch counter. */
  alertMismatch(source: string, mismatches: readonly EvidenceMismatch[]): void {
    const text = describeMismatches(mismatches);
    this.facts.alerts.push(`${isoAt(Date.now())} ${source} disagrees with the request: ${text}`);
    wf.log.warn('evidence disagrees with the refund request', {
      outRefundNo: this.input.outRefundNo,
      source,
      mismatches: text,
    });
    for (const m of mismatches) evidenceMismatchCounter().add(1, { source, field: m.field });
  }

  /** Settled without WeChat naming a channel: what a query found, or UNKNOWN, is published either way. */
  settleChannel(channel: RefundChannel): void {
    if (channel !== 'UNKNOWN') this.facts.channel = channel;
    this.publisher.channel(this.facts);
  }

  // -------------------------------------------------------------------------------------------------------------
  // The one way state changes

  observe(to: RefundState, evidence: Evidence, options: ObserveOptions = {}): TransitionDecision {
    const f = this.facts;
    const decision = decideTransition(f.state, to, evidence, {
      abnormalHandlingRequested: f.abnormalHandlingRequested,
    });
    if (decision.kind === 'contradiction') {
      f.alerts.push(`${isoAt(Date.now())} ${decision.reason}`);
      wf.log.warn('contrary evidence about a final refund', { outRefundNo: this.input.outRefundNo, ...decision });
    } else if (decision.kind === 'stale') {
      wf.log.info('stale observation ignored', { outRefundNo: this.input.outRefundNo, reason: decision.reason });
    }
    if (decision.kind === 'apply' || decision.kind === 'duplicate') {
      if (options.record) this.absorbRecord(options.record);
      if (options.notification) this.absorbNotification(options.notification);
    } else if (decision.kind === 'stale' && options.record) {
      // A create reply written before a notification settled the refund (it arrived second) is old news about the
      // status, but it is WeChat's word on the channel, which a v3 notification never names: keep it, so settling
      // does not cost a query just to learn the channel. Callers only pass records that agree with the request.
      this.learnChannelFrom(options.record);
    }
    if (decision.kind !== 'apply') {
      this.publish();
      return decision;
    }

    const from = f.state;
    const now = Date.now();
    f.state = to;
    f.reviewReason = to === 'MANUAL_REVIEW' ? options.reviewReason : undefined;
    f.note = options.note;
    if (to === 'REJECTED') f.rejection = options.rejection;
    if (f.acceptedAtMs === undefined && ACCEPTED_STATES.has(to)) f.acceptedAtMs = now;
    if (to === 'PROCESSING') {
      // After abnormal handling the money goes to another card: bank-card timescale, schedule restarted (§7).
      if (evidence === 'apply-abnormal' || from === 'ABNORMAL') this.startSchedule('BANK_CARD', now);
      else if (!f.schedule || f.schedule.kind === 'WAITING') {
        this.startSchedule(scheduleKindFor(f.channel, this.input.payerBankType), now);
      }
    }
    f.transitions.push({ at: isoAt(now), from, to, evidence, note: options.note });
    f.version += 1;
    this.publish();
    this.reportToLedger();
    return decision;
  }

  /**
   * WeChat answered with a record of this refund, so it has it, even in a status nobody here understands: from now
   * on "retry now" means "query now", never another create.
   */
  markAccepted(): void {
    this.facts.acceptedAtMs ??= Date.now();
  }

  private absorbRecord(record: RefundRecord): void {
    const f = this.facts;
    f.refundId = record.refundId ?? f.refundId;
    if (record.channel !== 'UNKNOWN') f.channel = record.channel;
    f.userReceivedAccount = record.userReceivedAccount ?? f.userReceivedAccount;
    f.amounts = record.amounts;
    f.successTime = record.successTime ?? f.successTime;
  }

  /** Only where no channel is known yet, and only for histories that check evidence (the patch that learns it). */
  private learnChannelFrom(record: RefundRecord): void {
    if (this.evidenceChecked && this.facts.channel === 'UNKNOWN' && record.channel !== 'UNKNOWN') {
      this.facts.channel = record.channel;
    }
  }

  private absorbNotification(n: RefundNotification): void {
    const f = this.facts;
    f.refundId = n.refundId || f.refundId;
    f.userReceivedAccount = n.userReceivedAccount ?? f.userReceivedAccount;
    f.amounts = n.amounts;
    f.successTime = n.successTime ?? f.successTime;
  }

  private startSchedule(kind: ScheduleKind, atMs: number): void {
    this.facts.schedule = { kind, startedAtMs: atMs };
    this.facts.lastPollAtMs = undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Submitting (refund.ts: submitUntilAccepted, waitBeforeResubmit)

  recordSubmitAttempt(record: SubmitAttemptRecord, atMs: number, queried: boolean): void {
    this.facts.submitAttempts.push(record);
    this.facts.lastSubmitAtMs = atMs;
    if (queried) this.facts.submitQueries += 1;
    this.publish();
  }

  /** Shown in the view and the Web UI until the wait ends. */
  planResubmit(atMs: number): void {
    this.facts.nextSubmitAtMs = atMs;
    this.refreshDetails();
  }

  /** The wait before the next create ends early: an operator said "retry now", a query was asked for, or settled. */
  resubmitWaitInterrupted(): boolean {
    return !this.awaitingSubmission() || this.facts.retryRequested || this.facts.pollRequested !== undefined;
  }

  resubmitWaitEnded(): void {
    this.facts.retryRequested = false;
    this.facts.nextSubmitAtMs = undefined;
  }

  /** The query someone asked for (see `pollRequested`), if any; asking is answered once. */
  takePollRequest(): PollReason | undefined {
    const reason = this.facts.pollRequested;
    this.facts.pollRequested = undefined;
    return reason;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Polling plan (refund.ts: followUntilFinal)

  /**
   * When the next query is due: the §7 schedule while PROCESSING, the slow daily check while ABNORMAL or in
   * MANUAL_REVIEW. `null` means the schedule is exhausted: the caller escalates.
   */
  nextPollDue(): number | null {
    const f = this.facts;
    if (f.state === 'PROCESSING' && f.schedule && f.schedule.kind !== 'WAITING') {
      const schedule = scheduleFor(f.schedule.kind, this.polling);
      const after = Math.max(f.lastPollAtMs ?? f.schedule.startedAtMs, f.schedule.startedAtMs);
      return nextScheduledPoll(schedule, f.schedule.startedAtMs, after, this.polling.holidays);
    }
    const since = Math.max(f.lastPollAtMs ?? 0, this.lastTransitionAtMs());
    return since + this.polling.waitingEveryMs;
  }

  private lastTransitionAtMs(): number {
    const last = this.facts.transitions[this.facts.transitions.length - 1];
    return last ? Date.parse(last.at) : (this.facts.acceptedAtMs ?? Date.now());
  }

  /** Shown in the view and the Web UI while the refund is not final. */
  planPoll(atMs: number): void {
    this.facts.nextPollAtMs = atMs;
    this.refreshDetails();
  }

  stopPolling(): void {
    this.facts.nextPollAtMs = undefined;
  }

  recordPoll(record: PollRecord, atMs: number): void {
    this.facts.polls.push(record);
    this.facts.lastPollAtMs = atMs;
    this.publish();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Messages

  /** Duplicate, late and stale notifications are harmless by construction: the transition table decides. */
  onNotification(raw: RefundNotification): void {
    const f = this.facts;
    const parsed = schemas().refundNotificationSchema.safeParse(raw);
    const now = isoAt(Date.now());
    if (!parsed.success) {
      wf.log.warn('malformed refund notification ignored', { error: describeZodError(parsed.error) });
      return;
    }
    const n = parsed.data as RefundNotification;
    const seen = f.notifications.find((r) => r.notificationId === n.notificationId);
    if (seen) {
      seen.deliveries += 1;
      return;
    }
    const record: NotificationRecord = {
      notificationId: n.notificationId,
      status: n.status,
      firstReceivedAt: now,
      deliveries: 1,
      decision: 'ignored',
    };
    f.notifications.push(record);
    if (n.outRefundNo !== this.input.outRefundNo) {
      record.note = `for out_refund_no ${n.outRefundNo}, not this refund`;
      return;
    }
    const mismatches = this.mismatchesIn(n);
    if (mismatches.length > 0) {
      // Signed, but not about what this refund asked for: WeChat's own record decides (a query, then review).
      record.decision = 'mismatch';
      record.note = describeMismatches(mismatches);
      this.alertMismatch('notification', mismatches);
      if (!isTerminal(f.state)) f.pollRequested = 'VERIFY_EVIDENCE';
      return;
    }
    const to = stateFromWechatStatus(n.status);
    if (to === 'ABNORMAL' || (n.apiVersion === 'v2' && wf.patched(V2_NOTIFICATIONS_VERIFIED_BY_QUERY))) {
      // §7: on ABNORMAL the workflow MUST query before alerting; the query's answer is what moves the state. A v2
      // notification may be spliced (see patches.ts), so it too only asks for that query.
      const decision = decideTransition(f.state, to, 'notification');
      if (decision.kind === 'apply') {
        record.decision = 'verifying';
        f.refundId = n.refundId || f.refundId;
        f.pollRequested = 'VERIFY_NOTIFICATION';
        return;
      }
      record.decision = decision.kind;
      if (decision.kind === 'contradiction') f.alerts.push(`${now} ${decision.reason}`);
      return;
    }
    record.decision = this.observe(to, 'notification', { notification: n }).kind;
  }

  /** From the ledger: this held refund may send its create now (M9). */
  grantSubmissionSlot(): void {
    this.facts.held = false;
  }

  /**
   * From the ledger: the order service withdrew this refund while it waited for its turn. Its ledger decided (and
   * released the amount); here it only ends, and only if nothing was ever sent, which holds for a held refund.
   */
  cancelWhileHeld(request: CancelQueuedRefund): void {
    const f = this.facts;
    if (!f.held || f.state !== 'PENDING' || f.submitAttempts.length > 0) {
      wf.log.warn('cancel ignored: the refund is no longer waiting for its turn', {
        outRefundNo: this.input.outRefundNo,
        state: f.state,
      });
      return;
    }
    f.held = false;
    f.operatorActions.push({ at: isoAt(Date.now()), action: 'cancel', operator: request?.requestedBy });
    this.observe('CANCELLED', 'cancel', {
      note: `withdrawn by ${request?.requestedBy ?? 'the order service'} before it was sent to WeChat`,
    });
  }

  /** An event announced to the order service (refund-events.ts). */
  recordEvent(record: RefundEventRecord): void {
    this.facts.events.push(record);
  }

  validateRetryNow(request: RetryNowRequest): void {
    const parsed = schemas().retryNowSchema.safeParse(request ?? {}); // no argument at all means "no note"
    if (!parsed.success) throw new Error(describeZodError(parsed.error));
    if (isTerminal(this.facts.state))
      throw new Error(`refund ${this.input.outRefundNo} is already ${this.facts.state}`);
  }

  /**
   * Before WeChat has the refund: wakes the wait before the next create (`resubmitWaitInterrupted`). After: asks the
   * polling loop for a query now (`takePollRequest`).
   */
  retryNow(request: RetryNowRequest): RetryNowResult {
    this.facts.operatorActions.push({
      at: isoAt(Date.now()),
      action: 'retryNow',
      operator: request?.operator,
      note: request?.note,
    });
    if (this.awaitingSubmission()) {
      this.facts.retryRequested = true;
      return { state: this.facts.state, action: 'resubmit' };
    }
    this.facts.pollRequested = 'OPERATOR';
    return { state: this.facts.state, action: 'query' };
  }

  validateResolveAbnormal(request: unknown): void {
    const parsed = schemas().resolveAbnormalSchema.safeParse(request);
    if (!parsed.success) throw new Error(describeZodError(parsed.error));
    const f = this.facts;
    if (f.state !== 'ABNORMAL') {
      throw new Error(`refund ${this.input.outRefundNo} is ${f.state}, not ABNORMAL: nothing to resolve`);
    }
    if (f.abnormalResolutionInFlight) throw new Error('another resolveAbnormal for this refund is in progress');
    if (!f.refundId) throw new Error('WeChat refund_id is not known yet; retry after the next query');
  }

  /** resolveAbnormal (refund.ts) begins: one at a time, and every attempt is an operator action on record. */
  startAbnormalResolution(request: ResolveAbnormalRequest, atMs: number): void {
    this.facts.abnormalResolutionInFlight = true;
    this.facts.operatorActions.push({ at: isoAt(atMs), action: 'resolveAbnormal', operator: request.operator });
  }

  /** WeChat accepted apply-abnormal-refund: its record may move ABNORMAL → PROCESSING, and so may a later query. */
  abnormalResolutionAccepted(request: ResolveAbnormalRequest, atMs: number, record: RefundRecord): void {
    this.facts.abnormalHandlingRequested = true;
    this.facts.abnormalResolutions.push({ ...resolutionRecord(request, atMs), result: 'ACCEPTED' });
    this.observe(stateFromWechatStatus(record.status), 'apply-abnormal', { record });
  }

  abnormalResolutionFailed(request: ResolveAbnormalRequest, atMs: number, failure: ClassifiedFailure): void {
    this.facts.abnormalResolutions.push({ ...resolutionRecord(request, atMs), result: 'FAILED', error: failure });
    if (outcomeUnknown(failure.errorClass)) {
      // It may have worked: let a query tell, and accept ABNORMAL → PROCESSING from it.
      this.facts.abnormalHandlingRequested = true;
      this.facts.pollRequested = 'VERIFY_APPLY';
    }
  }

  endAbnormalResolution(): void {
    this.facts.abnormalResolutionInFlight = false;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Publishing (refund-view.ts)

  publishInitial(): void {
    this.publisher.initial(this.facts, { unlessStartedWithThem: this.lean });
  }

  /** From the ledger: another refund of the order waits for the submission slot. */
  reportSubmissionAsked(): void {
    this.ledger.submissionAsked(this.facts, () => statusChange(this.facts, this.input));
  }

  /** From the ledger: it continued-as-new, so this refund's end must reach it by signal. */
  ledgerContinued(): void {
    this.ledger.ledgerContinued(this.facts, () => statusChange(this.facts, this.input));
  }

  private publish(): void {
    this.publisher.changes(this.facts);
  }

  private refreshDetails(): void {
    this.publisher.details(this.facts);
  }

  private reportToLedger(): void {
    this.ledger.changed(this.facts, () => statusChange(this.facts, this.input));
  }

  async flushLedgerReports(): Promise<void> {
    await this.ledger.flush();
  }
}

/** An abnormal resolution as the view lists it: where the money was sent, never the bank details themselves. */
function resolutionRecord(
  request: ResolveAbnormalRequest,
  atMs: number,
): Omit<AbnormalResolutionRecord, 'result' | 'error'> {
  return {
    at: isoAt(atMs),
    type: request.type === 'MERCHANT_BANK_CARD' ? request.type : 'USER_BANK_CARD',
    bankType: request.type === 'MERCHANT_BANK_CARD' ? undefined : request.bankType,
    operator: request.operator,
  };
}

let mismatchCounter: ReturnType<typeof wf.metricMeter.createCounter> | undefined;
function evidenceMismatchCounter() {
  mismatchCounter ??= wf.metricMeter.createCounter(
    'wxrefund_evidence_mismatch',
    'mismatches',
    'WeChat evidence (reply, query, notification) that disagreed with the refund request; never applied',
  );
  return mismatchCounter;
}
