/**
 * The order ledger's state: the order's payment, every refund with its status, the queue of refunds waiting for
 * their turn, and the one submission slot (M9). Money rules are asked of domain/refund-caps.ts.
 *
 * Mutations are synchronous (no await between check and change), so two updates racing for the last fen cannot
 * both pass: Temporal runs an update's validator and the synchronous start of its handler back to back, and the
 * handler checks again anyway.
 */
import * as wf from '@temporalio/workflow';
import { refundWorkflowId } from '../domain/ids';
import {
  checkRefundRequest,
  refundDeadlineMs,
  summarizeOrder,
  type OrderMoneySummary,
  type OrderPayment,
  type RefundCheck,
} from '../domain/refund-caps';
import { moneyEffect } from '../domain/status';
import { formatFen } from '../domain/money';
import type { OrderLedgerInput, RefundRequest } from '../domain/schemas';
import { isoAt } from './support';
import type {
  LedgerCarriedState,
  LedgerEntry,
  LedgerView,
  RefundOutcome,
  RefundReceipt,
  RefundStatusChange,
} from './types';

export const DEFAULT_MIN_SPACING_MS = 60_000;

export class LedgerState {
  readonly payment: OrderPayment;
  readonly entries: LedgerEntry[];
  readonly queue: string[];
  submitting?: string;
  lastSubmissionAtMs?: number;
  readonly continuedAsNew: number;
  readonly minSpacingMs: number;

  constructor(
    readonly input: OrderLedgerInput,
    carried: LedgerCarriedState | undefined,
  ) {
    this.payment = {
      outTradeNo: input.outTradeNo,
      paidTotalFen: input.paidTotalFen,
      paidAtMs: Date.parse(input.paidAt),
    };
    this.entries = carried?.entries ?? [];
    this.queue = carried?.queue ?? [];
    this.submitting = carried?.submitting;
    this.lastSubmissionAtMs = carried?.lastSubmissionAtMs;
    this.continuedAsNew = carried?.continuedAsNew ?? 0;
    this.minSpacingMs = input.minSpacingMs ?? DEFAULT_MIN_SPACING_MS;
  }

  entry(outRefundNo: string): LedgerEntry | undefined {
    return this.entries.find((e) => e.outRefundNo === outRefundNo);
  }

  check(request: RefundRequest): RefundCheck<LedgerEntry> {
    return checkRefundRequest(this.payment, this.entries, request, Date.now());
  }

  /** Records an accepted request (already checked) and queues it; returns the receipt. */
  add(request: RefundRequest): RefundReceipt {
    const now = isoAt(Date.now());
    const entry: LedgerEntry = {
      outRefundNo: request.outRefundNo,
      amountFen: request.amountFen,
      reason: request.reason,
      requestedBy: request.requestedBy,
      refundWorkflowId: refundWorkflowId(request.outRefundNo, this.input.subMchid),
      status: 'QUEUED',
      requestedAt: now,
      submissionSettled: false,
      lastChangeAt: now,
      version: 0,
    };
    this.entries.push(entry);
    this.queue.push(entry.outRefundNo);
    return this.receipt(entry);
  }

  receipt(entry: LedgerEntry): RefundReceipt {
    return {
      outTradeNo: this.payment.outTradeNo,
      outRefundNo: entry.outRefundNo,
      amountFen: entry.amountFen,
      refundWorkflowId: entry.refundWorkflowId,
      requestedAt: entry.requestedAt,
    };
  }

  /** The next create may go out at this time (M9: at least a minute after the previous one). */
  nextSubmissionAllowedAtMs(): number {
    return this.lastSubmissionAtMs === undefined ? 0 : this.lastSubmissionAtMs + this.minSpacingMs;
  }

  canDispatch(): boolean {
    return this.queue.length > 0 && this.submitting === undefined;
  }

  markStarted(outRefundNo: string): void {
    const entry = this.entry(outRefundNo);
    const now = Date.now();
    this.queue.shift();
    this.submitting = outRefundNo;
    this.lastSubmissionAtMs = now;
    if (entry) {
      entry.status = 'PENDING';
      entry.startedAt = isoAt(now);
      entry.lastChangeAt = isoAt(now);
    }
  }

  /** Reports arrive as signals (and, within one run, as the child's result); older versions are ignored. */
  applyChange(change: RefundStatusChange): void {
    const entry = this.entry(change.outRefundNo);
    if (!entry) {
      wf.log.warn('status report for a refund this ledger does not know', { outRefundNo: change.outRefundNo });
      return;
    }
    if (change.submissionSettled && !entry.submissionSettled) {
      entry.submissionSettled = true;
      // M9 counts from the create WeChat answered, not from when we sent it: the report arrives after the reply,
      // so measuring from now keeps the next create a full minute behind this one, whatever the latencies.
      this.lastSubmissionAtMs = Math.max(this.lastSubmissionAtMs ?? 0, Date.now());
    }
    if (entry.submissionSettled && this.submitting === entry.outRefundNo) this.submitting = undefined;
    if (change.version <= entry.version) return;
    entry.status = change.state;
    entry.version = change.version;
    entry.refundId = change.refundId ?? entry.refundId;
    entry.channel = change.channel;
    entry.lastChangeAt = change.at;
  }

  applyOutcome(outcome: RefundOutcome): void {
    this.applyChange({
      outRefundNo: outcome.outRefundNo,
      state: outcome.state,
      version: outcome.version,
      submissionSettled: true,
      refundId: outcome.refundId,
      channel: outcome.channel,
      at: isoAt(Date.now()),
    });
  }

  /**
   * The child refund workflow ended without a result (terminated, timed out) or could not be started: what
   * happened at WeChat is unknown, so the amount stays reserved and a human looks. The slot is freed so the order's
   * other refunds are not blocked forever.
   */
  markLost(outRefundNo: string, why: string): void {
    const entry = this.entry(outRefundNo);
    if (entry && moneyEffect(entry.status) === 'reserved') {
      entry.status = 'MANUAL_REVIEW';
      entry.note = `REFUND_WORKFLOW_LOST: ${why}`;
      entry.lastChangeAt = isoAt(Date.now());
    }
    if (this.submitting === outRefundNo) this.submitting = undefined;
  }

  money(): OrderMoneySummary {
    return summarizeOrder(this.payment, this.entries);
  }

  deadlineMs(): number {
    return refundDeadlineMs(this.payment.paidAtMs);
  }

  /** No refund can be requested any more and none is in flight: the ledger's job is done. */
  isDone(nowMs: number): boolean {
    return (
      nowMs > this.deadlineMs() &&
      this.queue.length === 0 &&
      this.submitting === undefined &&
      this.entries.every((e) => moneyEffect(e.status) !== 'reserved')
    );
  }

  carry(): LedgerCarriedState {
    return {
      entries: this.entries,
      queue: this.queue,
      submitting: this.submitting,
      lastSubmissionAtMs: this.lastSubmissionAtMs,
      continuedAsNew: this.continuedAsNew + 1,
    };
  }

  view(): LedgerView {
    const next = this.nextSubmissionAllowedAtMs();
    return {
      outTradeNo: this.payment.outTradeNo,
      paidTotalFen: this.payment.paidTotalFen,
      paidAt: isoAt(this.payment.paidAtMs),
      refundDeadline: isoAt(this.deadlineMs()),
      money: this.money(),
      refunds: this.entries,
      queue: this.queue,
      submitting: this.submitting,
      nextSubmissionAllowedAt: next > 0 ? isoAt(next) : undefined,
      continuedAsNew: this.continuedAsNew,
    };
  }

  details(): string {
    const m = this.money();
    const inFlight = this.entries.filter((e) => moneyEffect(e.status) === 'reserved').length;
    return [
      `**Order ${this.payment.outTradeNo}** · paid ${formatFen(m.paidTotalFen)} CNY · refundable ${formatFen(m.refundableFen)} CNY`,
      `refunds ${m.refundCount}/50 · refunded ${formatFen(m.succeededFen)} · in flight ${inFlight} (${formatFen(m.reservedFen)}) · queued ${this.queue.length}`,
      this.submitting ? `submitting ${this.submitting}` : 'no create in flight',
    ].join('\n');
  }
}
