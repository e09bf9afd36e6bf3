/**
 * How a refund shows to the outside: the `status` query, the Web UI's current details, its search attributes, the
 * workflow's result and the status reports its order ledger receives. The views are pure functions of the facts;
 * RefundPublisher and LedgerReports send them. Only RefundTracker uses this module.
 */
import * as wf from '@temporalio/workflow';
import type { RefundChannel } from '../wechatpay/gateway';
import { isTerminal, type RefundState } from '../domain/status';
import { formatFen } from '../domain/money';
import type { RefundWorkflowInput } from '../domain/schemas';
import {
  OutRefundNoKey,
  OutTradeNoKey,
  RefundAmountFenKey,
  RefundChannelKey,
  RefundStatusKey,
} from '../domain/search-attributes';
import { refundStatusChangedSignal } from './definitions';
import { awaitingSubmission, submissionSettled, type RefundFacts } from './refund-facts';
import { isoAt } from './support';
import type { RefundOutcome, RefundStatusChange, RefundStatusView } from './types';

/** Reports to the ledger: 6 attempts over about a minute (1 + 2 + 4 + 8 + 16 s of waiting). */
const LEDGER_REPORT_ATTEMPTS = 6;
const LEDGER_REPORT_FIRST_RETRY_MS = 1_000;

type Facts = Readonly<RefundFacts>;

/** Markdown for the Web UI: the state, what a human should do about it, and what the workflow plans next. */
export function currentDetails(f: Facts, input: RefundWorkflowInput): string {
  const amount = `${formatFen(input.refundFen)} CNY`;
  const lines = [`**${f.state}** · ${amount} · out_refund_no ${input.outRefundNo}`];
  if (f.held && awaitingSubmission(f))
    lines.push('Waiting for its turn: another refund of the order is being submitted.');
  if (f.state === 'MANUAL_REVIEW') {
    const last = f.submitAttempts[f.submitAttempts.length - 1];
    const cause =
      f.reviewReason === 'POLL_HORIZON_EXCEEDED'
        ? 'still PROCESSING after the poll schedule ran out'
        : last?.error
          ? `${last.error.code}: ${last.error.message}`
          : (f.note ?? f.reviewReason ?? '');
    lines.push(`Needs an operator (${f.reviewReason}): ${cause}. Fix it, then send retryNow.`);
  }
  if (f.state === 'ABNORMAL') lines.push('Card route failed: resolve with resolveAbnormal (bank details).');
  if (f.state === 'CANCELLED') lines.push(f.note ?? 'Withdrawn before it was sent to WeChat.');
  if (f.state === 'REJECTED' && f.rejection) {
    lines.push(`Refused by WeChat: ${f.rejection.code}: ${f.rejection.message}`);
  }
  lines.push(
    `channel ${f.channel} · submits ${f.submitAttempts.length} · polls ${f.polls.length} · ` +
      `notifications ${f.notifications.length}`,
  );
  if (f.nextPollAtMs !== undefined && !isTerminal(f.state)) lines.push(`next poll ${isoAt(f.nextPollAtMs)}`);
  if (f.nextSubmitAtMs !== undefined && awaitingSubmission(f)) {
    lines.push(`next submit ${isoAt(f.nextSubmitAtMs)}`);
  }
  return lines.join('\n');
}

/** The `status` query's answer (also the result of the resolveAbnormal update). */
export function statusView(f: Facts, input: RefundWorkflowInput, workflowId: string): RefundStatusView {
  return {
    workflowId,
    outRefundNo: input.outRefundNo,
    outTradeNo: input.outTradeNo,
    transactionId: input.transactionId,
    mchid: input.mchid,
    subMchid: input.subMchid,
    held: f.held || undefined,
    state: f.state,
    reviewReason: f.reviewReason,
    note: f.note,
    channel: f.channel,
    userReceivedAccount: f.userReceivedAccount,
    refundId: f.refundId,
    requestedFen: input.refundFen,
    totalFen: input.totalFen,
    amounts: f.amounts,
    acceptedAt: f.acceptedAtMs === undefined ? undefined : isoAt(f.acceptedAtMs),
    successTime: f.successTime,
    rejection: f.rejection,
    submitAttempts: f.submitAttempts,
    nextSubmitAt: f.nextSubmitAtMs !== undefined && awaitingSubmission(f) ? isoAt(f.nextSubmitAtMs) : undefined,
    polls: f.polls,
    notifications: f.notifications,
    transitions: f.transitions,
    abnormalResolutions: f.abnormalResolutions,
    operatorActions: f.operatorActions,
    schedule: f.schedule && { kind: f.schedule.kind, startedAt: isoAt(f.schedule.startedAtMs) },
    nextPollAt: f.nextPollAtMs !== undefined && !isTerminal(f.state) ? isoAt(f.nextPollAtMs) : undefined,
    alerts: f.alerts,
    version: f.version,
    metadata: input.metadata,
    reason: input.reason,
    startedAt: isoAt(wf.workflowInfo().startTime.getTime()),
    events: f.events.length > 0 ? f.events : undefined,
  };
}

/**
 * The workflow's result. Histories that predate evidence checks (see patches.ts) return the shorter result they
 * always did.
 */
export function refundOutcome(f: Facts, input: RefundWorkflowInput, evidenceChecked: boolean): RefundOutcome {
  if (f.state !== 'SUCCESS' && f.state !== 'CLOSED' && f.state !== 'REJECTED' && f.state !== 'CANCELLED') {
    throw new Error(`refund workflow ended in non-final state ${f.state}`);
  }
  return {
    outRefundNo: input.outRefundNo,
    ...(evidenceChecked
      ? {
          outTradeNo: input.outTradeNo,
          transactionId: input.transactionId,
          mchid: input.mchid,
          subMchid: input.subMchid,
          requestedFen: input.refundFen,
        }
      : {}),
    state: f.state,
    channel: f.channel,
    refundId: f.refundId,
    successTime: f.successTime,
    rejection: f.rejection,
    amounts: f.amounts,
    queries: f.polls.length + f.submitQueries,
    notifications: f.notifications.length,
    submitAttempts: f.submitAttempts.length,
    version: f.version,
    ...(f.acceptedAtMs !== undefined ? { submissionSettledAt: isoAt(f.acceptedAtMs) } : {}),
  };
}

/** What the order ledger is told after every applied transition. */
export function statusChange(f: Facts, input: RefundWorkflowInput): RefundStatusChange {
  return {
    outRefundNo: input.outRefundNo,
    state: f.state,
    version: f.version,
    submissionSettled: submissionSettled(f),
    lastSubmitAt: f.lastSubmitAtMs === undefined ? undefined : isoAt(f.lastSubmitAtMs),
    ...(f.acceptedAtMs !== undefined ? { submissionSettledAt: isoAt(f.acceptedAtMs) } : {}),
    refundId: f.refundId,
    channel: f.channel,
    at: isoAt(Date.now()),
  };
}

/** Search attributes (for the Web UI's and the CLI's lists) and current details (the Web UI's page of one refund). */
export class RefundPublisher {
  private published: { state?: RefundState; channel?: RefundChannel } = {};

  constructor(private readonly input: RefundWorkflowInput) {}

  /**
   * The first publication. `unlessStartedWithThem`: a refund its ledger started with these search attributes
   * (LEAN_LEDGER) has them already; the upsert would cost a history event and a billable action for nothing.
   */
  initial(f: Facts, { unlessStartedWithThem = false }: { unlessStartedWithThem?: boolean } = {}): void {
    const startedWith = wf.workflowInfo().typedSearchAttributes.get(RefundStatusKey);
    if (unlessStartedWithThem && startedWith === f.state) {
      this.published = { state: f.state };
      this.details(f);
      return;
    }
    wf.upsertSearchAttributes([
      { key: OutRefundNoKey, value: this.input.outRefundNo },
      { key: RefundAmountFenKey, value: this.input.refundFen },
      { key: RefundStatusKey, value: f.state },
      ...(this.input.outTradeNo ? [{ key: OutTradeNoKey, value: this.input.outTradeNo }] : []),
    ]);
    this.published = { state: f.state };
    this.details(f);
  }

  /** Search attributes only when they change (each upsert is a history event); details every time (free). */
  changes(f: Facts): void {
    const updates: Parameters<typeof wf.upsertSearchAttributes>[0] = [];
    if (this.published.state !== f.state) updates.push({ key: RefundStatusKey, value: f.state });
    if (f.channel !== 'UNKNOWN' && this.published.channel !== f.channel) {
      updates.push({ key: RefundChannelKey, value: f.channel });
    }
    if (updates.length > 0) {
      wf.upsertSearchAttributes(updates);
      this.published = { state: f.state, channel: f.channel === 'UNKNOWN' ? undefined : f.channel };
    }
    this.details(f);
  }

  /** The channel of a settled refund, UNKNOWN included, so every settled refund has one. */
  channel(f: Facts): void {
    wf.upsertSearchAttributes([{ key: RefundChannelKey, value: f.channel }]);
    this.published = { ...this.published, channel: f.channel };
    this.details(f);
  }

  /** Alone after a change of plan (next poll, next submit) so the Web UI shows it. */
  details(f: Facts): void {
    wf.setCurrentDetails(currentDetails(f, this.input));
  }
}

/**
 * Which changes the ledger hears by signal. Before LEAN_REFUND: every change, because the ledger continues-as-new and
 * a new run never receives the completion of a child started by an earlier run; signals go to the workflow ID, i.e.
 * whichever run is current. Lean refunds whose ledger hears their completion (`ledgerHearsCompletion`) signal only:
 * - the end of their create, when the ledger asked for it (another refund waits for the slot) or when they were
 *   started held (one waited already): the slot is freed by it;
 * - their end, once the ledger said it continued-as-new (its new run will not hear the completion).
 * Other changes move no money, and the ledger's run hears the end as the child's completion: no workflow task each.
 */
export class LedgerReports {
  private readonly sending: Promise<void>[] = [];
  private submissionWanted: boolean;
  private submissionReported = false;
  private endBySignal: boolean;

  /**
   * @param ledgerId absent for a refund started without a ledger: nothing is sent.
   * @param lean LEAN_REFUND's reporting (see above); false: every change.
   */
  constructor(
    private readonly ledgerId: string | undefined,
    private readonly lean: { held: boolean; ledgerHearsCompletion: boolean } | false,
  ) {
    this.submissionWanted = lean !== false && lean.held;
    this.endBySignal = lean === false || !lean.ledgerHearsCompletion;
  }

  /** After every applied transition. */
  changed(f: Facts, change: () => RefundStatusChange): void {
    if (this.lean === false) return this.send(change);
    if (isTerminal(f.state)) {
      if (this.endBySignal) this.send(change);
      return;
    }
    this.reportSubmissionIfSettled(f, change);
  }

  /** The ledger asked: another refund of the order waits for this one's create to settle. */
  submissionAsked(f: Facts, change: () => RefundStatusChange): void {
    this.submissionWanted = true;
    if (!isTerminal(f.state)) this.reportSubmissionIfSettled(f, change);
  }

  /** The ledger continued-as-new: the end goes by signal, at once if this refund is ending now. */
  ledgerContinued(f: Facts, change: () => RefundStatusChange): void {
    if (this.endBySignal) return;
    this.endBySignal = true;
    if (isTerminal(f.state)) this.send(change);
  }

  private reportSubmissionIfSettled(f: Facts, change: () => RefundStatusChange): void {
    if (!this.submissionWanted || this.submissionReported || !submissionSettled(f)) return;
    this.submissionReported = true;
    this.send(change);
  }

  private send(change: () => RefundStatusChange): void {
    if (!this.ledgerId) return;
    this.sending.push(sendReport(this.ledgerId, change()));
  }

  /**
   * Before the workflow completes: a report still being retried would be lost. Until none is left: a signal handled
   * while waiting (the ledger continued-as-new) may add one.
   */
  async flush(): Promise<void> {
    if (this.lean === false) return void (await Promise.all(this.sending)); // as older histories did
    for (let waited = -1; waited !== this.sending.length;) {
      waited = this.sending.length;
      await Promise.all(this.sending);
    }
  }
}

/**
 * A report can fail transiently (e.g. NOT_FOUND while the ledger is between two runs on a server whose
 * continue-as-new is not atomic): retry with backoff. Order does not matter: the ledger ignores older versions.
 */
async function sendReport(ledgerId: string, change: RefundStatusChange): Promise<void> {
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
