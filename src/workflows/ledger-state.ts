/**
 * The order ledger's state: the order's facts (WeChat's record of the payment), every refund with its status, the
 * queue of refunds waiting for their turn, and the one submission slot (M9). Money rules are asked of
 * domain/refund-caps.ts, order facts of domain/order-facts.ts.
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
import {
  checkOrderClaims,
  factsFromWechat,
  type ClaimCheck,
  type OrderFacts,
  type OrderProblem,
} from '../domain/order-facts';
import type { OrderRecord } from '../wechatpay/gateway';
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

/** A ledger that could not read WeChat's record of its order (WeChat unreachable, credentials refused). */
export interface OrderLookupFailure {
  message: string;
}

export class LedgerState {
  /** Unknown until WeChat's order record is read (ledgers that predate that carry the caller's facts). */
  facts?: OrderFacts;
  /** WeChat says the order cannot be refunded: every request is refused and the ledger ends. */
  problem?: OrderProblem;
  lookupFailure?: OrderLookupFailure;
  readonly entries: LedgerEntry[];
  /** out_refund_no whose refund workflow is being started to bind the number (not in the queue yet). */
  readonly binding = new Set<string>();
  readonly queue: string[];
  submitting?: string;
  lastSubmissionAtMs?: number;
  readonly continuedAsNew: number;
  readonly minSpacingMs: number;

  /**
   * @param factsFromWechat false for ledgers whose history predates verified order facts: they keep judging against
   *   the facts their first request carried, as they always did (see patches.ts).
   */
  constructor(
    readonly input: OrderLedgerInput,
    carried: LedgerCarriedState | undefined,
    readonly factsFromWechat: boolean,
  ) {
    this.facts = factsFromWechat ? carried?.facts : this.callerFacts();
    this.entries = carried?.entries ?? [];
    this.queue = carried?.queue ?? [];
    this.submitting = carried?.submitting;
    this.lastSubmissionAtMs = carried?.lastSubmissionAtMs;
    this.continuedAsNew = carried?.continuedAsNew ?? 0;
    this.minSpacingMs = input.minSpacingMs ?? DEFAULT_MIN_SPACING_MS;
  }

  private callerFacts(): OrderFacts | undefined {
    const { input } = this;
    if (input.paidTotalFen === undefined || input.paidAt === undefined) return undefined;
    return {
      source: 'CALLER',
      outTradeNo: input.outTradeNo,
      transactionId: input.transactionId,
      paidTotalFen: input.paidTotalFen,
      paidAt: input.paidAt,
      payerBankType: input.payerBankType,
    };
  }

  /** See order-ledger.ts: only for a ledger carried over from before verified facts, with refunds in flight. */
  keepCallerFacts(): void {
    const facts = this.callerFacts();
    if (!facts) return;
    this.facts = facts;
    this.problem = undefined;
    this.lookupFailure = undefined;
  }

  /** The payment as the money rules see it; only asked once the facts are known. */
  get payment(): OrderPayment {
    const facts = this.knownFacts();
    return { outTradeNo: facts.outTradeNo, paidTotalFen: facts.paidTotalFen, paidAtMs: Date.parse(facts.paidAt) };
  }

  knownFacts(): OrderFacts {
    if (!this.facts) throw new Error('order facts are not known yet');
    return this.facts;
  }

  /** The order's facts are known, or it is known that there will be none. */
  settledFacts(): boolean {
    return this.facts !== undefined || this.problem !== undefined || this.lookupFailure !== undefined;
  }

  /** WeChat's answer to the order query (null: no such order). */
  takeOrderRecord(record: OrderRecord | null): void {
    const result = factsFromWechat(
      { outTradeNo: this.input.outTradeNo, transactionId: this.input.transactionId, subMchid: this.input.subMchid },
      record,
      isoAt(Date.now()),
    );
    if (result.ok) this.facts = result.facts;
    else this.problem = result.problem;
  }

  checkClaims(request: RefundRequest): ClaimCheck {
    return checkOrderClaims(this.knownFacts(), request.claims);
  }

  entry(outRefundNo: string): LedgerEntry | undefined {
    return this.entries.find((e) => e.outRefundNo === outRefundNo);
  }

  check(request: RefundRequest): RefundCheck<LedgerEntry> {
    return checkRefundRequest(this.payment, this.entries, request, Date.now());
  }

  /**
   * Whether a new refund may have its create sent right away (nothing queued, no create in flight, a minute since the
   * last one): then it is started ready to submit, else started held until its turn.
   */
  slotFreeNow(): boolean {
    return this.queue.length === 0 && this.submitting === undefined && this.nextSubmissionAllowedAtMs() <= Date.now();
  }

  /**
   * Takes the submission slot for a refund whose workflow is being started ready to submit. Returns how to give it
   * back should the start fail (its number belongs to another refund).
   */
  takeSlotFor(outRefundNo: string): () => void {
    const previous = { submitting: this.submitting, lastSubmissionAtMs: this.lastSubmissionAtMs };
    const entry = this.entry(outRefundNo);
    const now = Date.now();
    this.submitting = outRefundNo;
    this.lastSubmissionAtMs = now;
    if (entry) {
      entry.status = 'PENDING';
      entry.startedAt = isoAt(now);
      entry.lastChangeAt = isoAt(now);
    }
    return () => {
      if (this.submitting === outRefundNo) this.submitting = previous.submitting;
      this.lastSubmissionAtMs = previous.lastSubmissionAtMs;
    };
  }

  /** A refund whose number turned out to belong to another refund: it never existed here, its amount is free. */
  forget(outRefundNo: string): void {
    const i = this.entries.findIndex((e) => e.outRefundNo === outRefundNo);
    if (i >= 0) this.entries.splice(i, 1);
    const q = this.queue.indexOf(outRefundNo);
    if (q >= 0) this.queue.splice(q, 1);
  }

  /**
   * Its workflow is started and waits for its turn. Starts complete in any order; the queue stays in the order the
   * requests were accepted (first come, first submitted).
   */
  queueHeld(outRefundNo: string): void {
    const entry = this.entry(outRefundNo);
    if (entry) entry.held = true;
    this.queue.push(outRefundNo);
    const accepted = new Map(this.entries.map((e, i) => [e.outRefundNo, i]));
    this.queue.sort((a, b) => (accepted.get(a) ?? 0) - (accepted.get(b) ?? 0));
  }

  /** Records an accepted request (already checked), reserving its amount; returns the receipt. */
  add(request: RefundRequest, { queue = true }: { queue?: boolean } = {}): RefundReceipt {
    const now = isoAt(Date.now());
    const entry: LedgerEntry = {
      outRefundNo: request.outRefundNo,
      amountFen: request.amountFen,
      reason: request.reason,
      ...(request.metadata !== undefined ? { metadata: request.metadata } : {}),
      requestedBy: request.requestedBy,
      refundWorkflowId: refundWorkflowId(request.outRefundNo, {
        mchid: this.input.mchid,
        subMchid: this.input.subMchid,
      }),
      status: 'QUEUED',
      requestedAt: now,
      submissionSettled: false,
      lastChangeAt: now,
      version: 0,
    };
    this.entries.push(entry);
    if (queue) this.queue.push(entry.outRefundNo);
    return this.receipt(entry);
  }

  receipt(entry: LedgerEntry): RefundReceipt {
    return {
      outTradeNo: this.input.outTradeNo,
      outRefundNo: entry.outRefundNo,
      amountFen: entry.amountFen,
      refundWorkflowId: entry.refundWorkflowId,
      requestedAt: entry.requestedAt,
      ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
      ...(entry.metadata !== undefined ? { metadata: entry.metadata } : {}),
      ...(entry.requestedBy !== undefined ? { requestedBy: entry.requestedBy } : {}),
      // A copy: the payload is built when the update completes, and the entry may move on in between.
      current: { ...entry },
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
    if (entry) entry.held = undefined;
    this.submitting = outRefundNo;
    this.lastSubmissionAtMs = now;
    if (entry) {
      entry.status = 'PENDING';
      entry.startedAt = isoAt(now);
      entry.lastChangeAt = isoAt(now);
    }
  }

  /**
   * Why this refund can no longer be withdrawn, or undefined when it can: only while it waits in the queue, so its
   * create has never been sent (a refund whose number is still being bound may be sent the moment it is bound).
   */
  cancelRefusal(entry: LedgerEntry): string | undefined {
    const no = entry.outRefundNo;
    if (this.binding.has(no)) return `refund ${no} is being started and may be sent to WeChat at once`;
    if (entry.status === 'QUEUED' && this.queue.includes(no)) return undefined;
    if (entry.status === 'PENDING') {
      return `refund ${no} was already handed to WeChat Pay (its create is sent or being sent): it can no longer be cancelled`;
    }
    return `refund ${no} is ${entry.status}: only a refund still queued behind another of its order can be cancelled`;
  }

  /** Withdraws a queued refund (cancelRefusal said yes): out of the queue, its amount released at once. */
  cancel(outRefundNo: string, requestedBy: string | undefined): LedgerEntry {
    const entry = this.entry(outRefundNo)!;
    const q = this.queue.indexOf(outRefundNo);
    if (q >= 0) this.queue.splice(q, 1);
    entry.status = 'CANCELLED';
    entry.held = undefined;
    entry.lastChangeAt = isoAt(Date.now());
    entry.note = `cancelled by ${requestedBy ?? 'the order service'} while queued; nothing was sent to WeChat`;
    return entry;
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
      // M9 counts from the create WeChat answered, not from when we sent it. The refund says when it learned of the
      // answer (after WeChat gave it), as a report may come much later (asked for, or with the refund's end);
      // older refunds report at once, so the report's arrival keeps the next create a full minute behind.
      const settledAtMs =
        change.submissionSettledAt !== undefined ? Date.parse(change.submissionSettledAt) : Date.now();
      this.lastSubmissionAtMs = Math.max(this.lastSubmissionAtMs ?? 0, settledAtMs);
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
      ...(outcome.submissionSettledAt !== undefined ? { submissionSettledAt: outcome.submissionSettledAt } : {}),
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
      ...(this.factsFromWechat ? { facts: this.facts } : {}),
      entries: this.entries,
      queue: this.queue,
      submitting: this.submitting,
      lastSubmissionAtMs: this.lastSubmissionAtMs,
      continuedAsNew: this.continuedAsNew + 1,
    };
  }

  view(): LedgerView {
    const next = this.nextSubmissionAllowedAtMs();
    const facts = this.facts;
    return {
      outTradeNo: this.input.outTradeNo,
      facts,
      problem: this.problem,
      paidTotalFen: facts?.paidTotalFen ?? 0,
      paidAt: facts ? isoAt(this.payment.paidAtMs) : '',
      refundDeadline: facts ? isoAt(this.deadlineMs()) : '',
      money: facts
        ? this.money()
        : summarizeOrder({ outTradeNo: this.input.outTradeNo, paidTotalFen: 0, paidAtMs: 0 }, []),
      refunds: this.entries,
      queue: this.queue,
      submitting: this.submitting,
      nextSubmissionAllowedAt: next > 0 ? isoAt(next) : undefined,
      continuedAsNew: this.continuedAsNew,
    };
  }

  details(): string {
    if (this.problem) return `**Order ${this.input.outTradeNo}** · ${this.problem.message}`;
    if (this.lookupFailure) return `**Order ${this.input.outTradeNo}** · ${this.lookupFailure.message}`;
    if (!this.facts) return `**Order ${this.input.outTradeNo}** · reading the order's record from WeChat Pay`;
    const m = this.money();
    const inFlight = this.entries.filter((e) => moneyEffect(e.status) === 'reserved').length;
    return [
      `**Order ${this.payment.outTradeNo}** · paid ${formatFen(m.paidTotalFen)} CNY · refundable ${formatFen(m.refundableFen)} CNY`,
      `refunds ${m.refundCount}/50 · refunded ${formatFen(m.succeededFen)} · in flight ${inFlight} (${formatFen(m.reservedFen)}) · queued ${this.queue.length}`,
      this.submitting ? `submitting ${this.submitting}` : 'no create in flight',
    ].join('\n');
  }
}
