/**
 * The refund workflow's state and everything derived from it: transitions through the domain table, the timeline
 * the `status` query shows, search attributes and current details for the Web UI, and reports to the order ledger.
 * Every mutation goes through `observe`, so the table in domain/status.ts is the only judge of what may change.
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
import {
  refundNotificationSchema,
  resolveAbnormalSchema,
  retryNowSchema,
  describeZodError,
  type RefundWorkflowInput,
  type RetryNowRequest,
} from '../domain/schemas';
import { formatFen } from '../domain/money';
import {
  OutRefundNoKey,
  OutTradeNoKey,
  RefundAmountFenKey,
  RefundChannelKey,
  RefundStatusKey,
} from '../domain/search-attributes';
import { compareEvidence, describeMismatches, type EvidenceMismatch, type RequestedRefund } from '../domain/evidence';
import { refundStatusChangedSignal } from './definitions';
import { V2_NOTIFICATIONS_VERIFIED_BY_QUERY } from './patches';
import { isoAt } from './support';
import type {
  AbnormalResolutionRecord,
  FailureSummary,
  NotificationRecord,
  PollReason,
  PollRecord,
  RefundOutcome,
  RefundStatusChange,
  RefundStatusView,
  RetryNowResult,
  SubmitAttemptRecord,
  TransitionRecord,
  OperatorActionRecord,
} from './types';

/** Reports to the ledger: 6 attempts over about a minute (1 + 2 + 4 + 8 + 16 s of waiting). */
const LEDGER_REPORT_ATTEMPTS = 6;
const LEDGER_REPORT_FIRST_RETRY_MS = 1_000;

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
  state: RefundState = 'PENDING';
  reviewReason?: ReviewReason;
  note?: string;
  channel: RefundChannel = 'UNKNOWN';
  userReceivedAccount?: string;
  refundId?: string;
  amounts?: RefundRecord['amounts'];
  acceptedAtMs?: number;
  successTime?: string;
  rejection?: FailureSummary;
  version = 0;

  readonly submitAttempts: SubmitAttemptRecord[] = [];
  /** queries made by submitRefund before a resend (RETRY_SAME advice), counted with the polls */
  submitQueries = 0;
  lastSubmitAtMs?: number;
  nextSubmitAtMs?: number;
  readonly polls: PollRecord[] = [];
  readonly notifications: NotificationRecord[] = [];
  readonly transitions: TransitionRecord[] = [];
  readonly abnormalResolutions: AbnormalResolutionRecord[] = [];
  readonly operatorActions: OperatorActionRecord[] = [];
  readonly alerts: string[] = [];

  schedule?: { kind: ScheduleKind | 'WAITING'; startedAtMs: number };
  lastPollAtMs?: number;
  nextPollAtMs?: number;

  /** Operator asked to resend the create now. */
  retryRequested = false;
  /** A query should run now (operator, or to verify an ABNORMAL notification / an uncertain apply). */
  pollRequested?: PollReason;
  /** apply-abnormal-refund was accepted (or may have been): a query may then prove ABNORMAL → PROCESSING. */
  abnormalHandlingRequested = false;
  abnormalResolutionInFlight = false;
  /** Started held by its ledger: waits for `submissionSlotGranted` before the first create. */
  held = false;

  private readonly ledgerReports: Promise<void>[] = [];
  private published: { state?: RefundState; channel?: RefundChannel } = {};

  constructor(
    readonly input: RefundWorkflowInput,
    readonly workflowId: string,
    private readonly polling: ResolvedPolling,
    /** Whether evidence is compared with the request (false for histories that predate it, see patches.ts). */
    readonly evidenceChecked = false,
  ) {
    this.held = input.held === true;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Evidence against the request

  requested(): RequestedRefund {
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
    this.acceptedAtMs ??= Date.now();
    return this.observe('MANUAL_REVIEW', 'evidence-mismatch', { reviewReason: 'EVIDENCE_MISMATCH', note });
  }

  /** Every disagreement is an alert: a warning in the worker log and the wxrefund_evidence_mismatch counter. */
  alertMismatch(source: string, mismatches: readonly EvidenceMismatch[]): void {
    const text = describeMismatches(mismatches);
    this.alerts.push(`${isoAt(Date.now())} ${source} disagrees with the request: ${text}`);
    wf.log.warn('evidence disagrees with the refund request', {
      outRefundNo: this.input.outRefundNo,
      source,
      mismatches: text,
    });
    for (const m of mismatches) evidenceMismatchCounter().add(1, { source, field: m.field });
  }

  /** Settled without WeChat naming a channel: what a query found, or UNKNOWN, is published either way. */
  settleChannel(channel: RefundChannel): void {
    if (channel !== 'UNKNOWN') this.channel = channel;
    wf.upsertSearchAttributes([{ key: RefundChannelKey, value: this.channel }]);
    this.published = { ...this.published, channel: this.channel };
    wf.setCurrentDetails(this.details());
  }

  /** PENDING, or escalated before WeChat ever confirmed the refund: the create still has to go through. */
  awaitingSubmission(): boolean {
    return this.state === 'PENDING' || (this.state === 'MANUAL_REVIEW' && this.acceptedAtMs === undefined);
  }

  submissionSettled(): boolean {
    return this.acceptedAtMs !== undefined || this.state === 'REJECTED';
  }

  // -------------------------------------------------------------------------------------------------------------
  // The one way state changes

  observe(to: RefundState, evidence: Evidence, options: ObserveOptions = {}): TransitionDecision {
    const decision = decideTransition(this.state, to, evidence, {
      abnormalHandlingRequested: this.abnormalHandlingRequested,
    });
    if (decision.kind === 'contradiction') {
      this.alerts.push(`${isoAt(Date.now())} ${decision.reason}`);
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

    const from = this.state;
    const now = Date.now();
    this.state = to;
    this.reviewReason = to === 'MANUAL_REVIEW' ? options.reviewReason : undefined;
    this.note = options.note;
    if (to === 'REJECTED') this.rejection = options.rejection;
    if (this.acceptedAtMs === undefined && ACCEPTED_STATES.has(to)) this.acceptedAtMs = now;
    if (to === 'PROCESSING') {
      // After abnormal handling the money goes to another card: bank-card timescale, schedule restarted (§7).
      if (evidence === 'apply-abnormal' || from === 'ABNORMAL') this.startSchedule('BANK_CARD', now);
      else if (!this.schedule || this.schedule.kind === 'WAITING') {
        this.startSchedule(scheduleKindFor(this.channel, this.input.payerBankType), now);
      }
    }
    this.transitions.push({ at: isoAt(now), from, to, evidence, note: options.note });
    this.version += 1;
    this.publish();
    this.reportToLedger();
    return decision;
  }

  private absorbRecord(record: RefundRecord): void {
    this.refundId = record.refundId ?? this.refundId;
    if (record.channel !== 'UNKNOWN') this.channel = record.channel;
    this.userReceivedAccount = record.userReceivedAccount ?? this.userReceivedAccount;
    this.amounts = record.amounts;
    this.successTime = record.successTime ?? this.successTime;
  }

  /** Only where no channel is known yet, and only for histories that check evidence (the patch that learns it). */
  private learnChannelFrom(record: RefundRecord): void {
    if (this.evidenceChecked && this.channel === 'UNKNOWN' && record.channel !== 'UNKNOWN') {
      this.channel = record.channel;
    }
  }

  private absorbNotification(n: RefundNotification): void {
    this.refundId = n.refundId || this.refundId;
    this.userReceivedAccount = n.userReceivedAccount ?? this.userReceivedAccount;
    this.amounts = n.amounts;
    this.successTime = n.successTime ?? this.successTime;
  }

  private startSchedule(kind: ScheduleKind, atMs: number): void {
    this.schedule = { kind, startedAtMs: atMs };
    this.lastPollAtMs = undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Polling plan

  /**
   * When the next query is due: the §7 schedule while PROCESSING, the slow daily check while ABNORMAL or in
   * MANUAL_REVIEW. `null` means the schedule is exhausted: the caller escalates.
   */
  nextPollDue(): number | null {
    if (this.state === 'PROCESSING' && this.schedule && this.schedule.kind !== 'WAITING') {
      const schedule = scheduleFor(this.schedule.kind, this.polling);
      const after = Math.max(this.lastPollAtMs ?? this.schedule.startedAtMs, this.schedule.startedAtMs);
      return nextScheduledPoll(schedule, this.schedule.startedAtMs, after, this.polling.holidays);
    }
    const since = Math.max(this.lastPollAtMs ?? 0, this.lastTransitionAtMs());
    return since + this.polling.waitingEveryMs;
  }

  private lastTransitionAtMs(): number {
    const last = this.transitions[this.transitions.length - 1];
    return last ? Date.parse(last.at) : (this.acceptedAtMs ?? Date.now());
  }

  recordPoll(record: PollRecord, atMs: number): void {
    this.polls.push(record);
    this.lastPollAtMs = atMs;
    this.publish();
  }

  recordSubmitAttempt(record: SubmitAttemptRecord, atMs: number, queried: boolean): void {
    this.submitAttempts.push(record);
    this.lastSubmitAtMs = atMs;
    if (queried) this.submitQueries += 1;
    this.publish();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Messages

  /** Duplicate, late and stale notifications are harmless by construction: the transition table decides. */
  onNotification(raw: RefundNotification): void {
    const parsed = refundNotificationSchema.safeParse(raw);
    const now = isoAt(Date.now());
    if (!parsed.success) {
      wf.log.warn('malformed refund notification ignored', { error: describeZodError(parsed.error) });
      return;
    }
    const n = parsed.data as RefundNotification;
    const seen = this.notifications.find((r) => r.notificationId === n.notificationId);
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
    this.notifications.push(record);
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
      if (!isTerminal(this.state)) this.pollRequested = 'VERIFY_EVIDENCE';
      return;
    }
    const to = stateFromWechatStatus(n.status);
    if (to === 'ABNORMAL' || (n.apiVersion === 'v2' && wf.patched(V2_NOTIFICATIONS_VERIFIED_BY_QUERY))) {
      // §7: on ABNORMAL the workflow MUST query before alerting; the query's answer is what moves the state. A v2
      // notification may be spliced (see patches.ts), so it too only asks for that query.
      const decision = decideTransition(this.state, to, 'notification');
      if (decision.kind === 'apply') {
        record.decision = 'verifying';
        this.refundId = n.refundId || this.refundId;
        this.pollRequested = 'VERIFY_NOTIFICATION';
        return;
      }
      record.decision = decision.kind;
      if (decision.kind === 'contradiction') this.alerts.push(`${now} ${decision.reason}`);
      return;
    }
    record.decision = this.observe(to, 'notification', { notification: n }).kind;
  }

  validateRetryNow(request: RetryNowRequest): void {
    const parsed = retryNowSchema.safeParse(request ?? {}); // no argument at all means "no note"
    if (!parsed.success) throw new Error(describeZodError(parsed.error));
    if (isTerminal(this.state)) throw new Error(`refund ${this.input.outRefundNo} is already ${this.state}`);
  }

  onRetryNow(request: RetryNowRequest): RetryNowResult {
    this.operatorActions.push({
      at: isoAt(Date.now()),
      action: 'retryNow',
      operator: request?.operator,
      note: request?.note,
    });
    if (this.awaitingSubmission()) {
      this.retryRequested = true;
      return { state: this.state, action: 'resubmit' };
    }
    this.pollRequested = 'OPERATOR';
    return { state: this.state, action: 'query' };
  }

  validateResolveAbnormal(request: unknown): void {
    const parsed = resolveAbnormalSchema.safeParse(request);
    if (!parsed.success) throw new Error(describeZodError(parsed.error));
    if (this.state !== 'ABNORMAL') {
      throw new Error(`refund ${this.input.outRefundNo} is ${this.state}, not ABNORMAL: nothing to resolve`);
    }
    if (this.abnormalResolutionInFlight) throw new Error('another resolveAbnormal for this refund is in progress');
    if (!this.refundId) throw new Error('WeChat refund_id is not known yet; retry after the next query');
  }

  // -------------------------------------------------------------------------------------------------------------
  // Visibility

  publishInitial(): void {
    wf.upsertSearchAttributes([
      { key: OutRefundNoKey, value: this.input.outRefundNo },
      { key: RefundAmountFenKey, value: this.input.refundFen },
      { key: RefundStatusKey, value: this.state },
      ...(this.input.outTradeNo ? [{ key: OutTradeNoKey, value: this.input.outTradeNo }] : []),
    ]);
    this.published = { state: this.state };
    wf.setCurrentDetails(this.details());
  }

  /** Search attributes only when they change (each upsert is a history event); details every time (free). */
  private publish(): void {
    const updates: Parameters<typeof wf.upsertSearchAttributes>[0] = [];
    if (this.published.state !== this.state) updates.push({ key: RefundStatusKey, value: this.state });
    if (this.channel !== 'UNKNOWN' && this.published.channel !== this.channel) {
      updates.push({ key: RefundChannelKey, value: this.channel });
    }
    if (updates.length > 0) {
      wf.upsertSearchAttributes(updates);
      this.published = { state: this.state, channel: this.channel === 'UNKNOWN' ? undefined : this.channel };
    }
    wf.setCurrentDetails(this.details());
  }

  details(): string {
    const amount = `${formatFen(this.input.refundFen)} CNY`;
    const lines = [`**${this.state}** · ${amount} · out_refund_no ${this.input.outRefundNo}`];
    if (this.held && this.awaitingSubmission())
      lines.push('Waiting for its turn: another refund of the order is being submitted.');
    if (this.state === 'MANUAL_REVIEW') {
      const last = this.submitAttempts[this.submitAttempts.length - 1];
      const cause =
        this.reviewReason === 'POLL_HORIZON_EXCEEDED'
          ? 'still PROCESSING after the poll schedule ran out'
          : last?.error
            ? `${last.error.code}: ${last.error.message}`
            : (this.note ?? this.reviewReason ?? '');
      lines.push(`Needs an operator (${this.reviewReason}): ${cause}. Fix it, then send retryNow.`);
    }
    if (this.state === 'ABNORMAL') lines.push('Card route failed: resolve with resolveAbnormal (bank details).');
    if (this.state === 'REJECTED' && this.rejection) {
      lines.push(`Refused by WeChat: ${this.rejection.code}: ${this.rejection.message}`);
    }
    lines.push(
      `channel ${this.channel} · submits ${this.submitAttempts.length} · polls ${this.polls.length} · ` +
        `notifications ${this.notifications.length}`,
    );
    if (this.nextPollAtMs !== undefined && !isTerminal(this.state)) lines.push(`next poll ${isoAt(this.nextPollAtMs)}`);
    if (this.nextSubmitAtMs !== undefined && this.awaitingSubmission()) {
      lines.push(`next submit ${isoAt(this.nextSubmitAtMs)}`);
    }
    return lines.join('\n');
  }

  /** Call after changing `nextPollAtMs` / `nextSubmitAtMs` so the Web UI shows the plan. */
  refreshDetails(): void {
    wf.setCurrentDetails(this.details());
  }

  view(): RefundStatusView {
    const i = this.input;
    return {
      workflowId: this.workflowId,
      outRefundNo: i.outRefundNo,
      outTradeNo: i.outTradeNo,
      transactionId: i.transactionId,
      mchid: i.mchid,
      subMchid: i.subMchid,
      held: this.held || undefined,
      state: this.state,
      reviewReason: this.reviewReason,
      note: this.note,
      channel: this.channel,
      userReceivedAccount: this.userReceivedAccount,
      refundId: this.refundId,
      requestedFen: i.refundFen,
      totalFen: i.totalFen,
      amounts: this.amounts,
      acceptedAt: this.acceptedAtMs === undefined ? undefined : isoAt(this.acceptedAtMs),
      successTime: this.successTime,
      rejection: this.rejection,
      submitAttempts: this.submitAttempts,
      nextSubmitAt:
        this.nextSubmitAtMs !== undefined && this.awaitingSubmission() ? isoAt(this.nextSubmitAtMs) : undefined,
      polls: this.polls,
      notifications: this.notifications,
      transitions: this.transitions,
      abnormalResolutions: this.abnormalResolutions,
      operatorActions: this.operatorActions,
      schedule: this.schedule && { kind: this.schedule.kind, startedAt: isoAt(this.schedule.startedAtMs) },
      nextPollAt: this.nextPollAtMs !== undefined && !isTerminal(this.state) ? isoAt(this.nextPollAtMs) : undefined,
      alerts: this.alerts,
      version: this.version,
    };
  }

  outcome(): RefundOutcome {
    if (this.state !== 'SUCCESS' && this.state !== 'CLOSED' && this.state !== 'REJECTED') {
      throw new Error(`refund workflow ended in non-final state ${this.state}`);
    }
    return {
      outRefundNo: this.input.outRefundNo,
      ...(this.evidenceChecked
        ? {
            outTradeNo: this.input.outTradeNo,
            transactionId: this.input.transactionId,
            mchid: this.input.mchid,
            subMchid: this.input.subMchid,
            requestedFen: this.input.refundFen,
          }
        : {}),
      state: this.state,
      channel: this.channel,
      refundId: this.refundId,
      successTime: this.successTime,
      rejection: this.rejection,
      amounts: this.amounts,
      queries: this.polls.length + this.submitQueries,
      notifications: this.notifications.length,
      submitAttempts: this.submitAttempts.length,
      version: this.version,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Ledger reports

  statusChange(): RefundStatusChange {
    return {
      outRefundNo: this.input.outRefundNo,
      state: this.state,
      version: this.version,
      submissionSettled: this.submissionSettled(),
      lastSubmitAt: this.lastSubmitAtMs === undefined ? undefined : isoAt(this.lastSubmitAtMs),
      refundId: this.refundId,
      channel: this.channel,
      at: isoAt(Date.now()),
    };
  }

  /**
   * Signals rather than only the child's result: the ledger continues-as-new, and a new run never receives the
   * completion of a child started by an earlier run. Signals go to the workflow ID, i.e. whichever run is current.
   */
  private reportToLedger(): void {
    const ledgerId = this.input.ledgerWorkflowId;
    if (!ledgerId) return;
    this.ledgerReports.push(this.sendReport(ledgerId, this.statusChange()));
  }

  /**
   * A report can fail transiently (e.g. NOT_FOUND while the ledger is between two runs on a server whose
   * continue-as-new is not atomic): retry with backoff. Order does not matter: the ledger ignores older versions.
   */
  private async sendReport(ledgerId: string, change: RefundStatusChange): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await wf.getExternalWorkflowHandle(ledgerId).signal(refundStatusChangedSignal, change);
        return;
      } catch (err) {
        if (attempt >= LEDGER_REPORT_ATTEMPTS) {
          wf.log.warn('could not report refund status to the ledger', { ledgerId, error: String(err) });
          return;
        }
        await wf.sleep(LEDGER_REPORT_FIRST_RETRY_MS * 2 ** (attempt - 1));
      }
    }
  }

  async flushLedgerReports(): Promise<void> {
    await Promise.all(this.ledgerReports);
  }
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
