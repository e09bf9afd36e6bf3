/**
 * The processing engine (reference §8.4): what happens to an accepted refund over simulated time.
 *
 * | payer profile                               | outcome                                                      |
 * |---------------------------------------------|--------------------------------------------------------------|
 * | WeChat balance                              | SUCCESS after balanceDelaySeconds, ORIGINAL, 支付用户零钱      |
 * | valid bank card                             | SUCCESS after 1–3 business days (sometimes longer), ORIGINAL |
 * | card cancelled/frozen, balance account open | SUCCESS via OTHER_BALANCE after otherBalanceDelaySeconds      |
 * | card cancelled/frozen, balance closed       | ABNORMAL after the bank-card delay                           |
 * | merchant funds short, mode "accept"         | PROCESSING, re-checked daily; SUCCESS path once funded, CLOSED after fundsWaitDays |
 * | forced (admin / config)                     | the forced state at the chosen time                          |
 *
 * `apply-abnormal-refund` (and the portal) move ABNORMAL → PROCESSING → SUCCESS (OTHER_BANKCARD) after the bank-card
 * delay. Every transition into SUCCESS, CLOSED or ABNORMAL is recorded and notified.
 */
import type { VirtualClock, TimerHandle } from './clock';
import type { LifecycleConfig } from './config';
import type { ForcedOutcome } from './fault-schemas';
import type { RefundChannel, RefundStatus, SimOrder, SimRefund, TerminalOutcome } from './model';
import type { RandomStream } from './random';
import {
  MERCHANT_SETTLEMENT_ACCOUNT,
  USER_BALANCE_ACCOUNT,
  cardAccountText,
  isBalancePayment,
} from './receiving-account';
import type { SimulatorStore } from './store';
import { addBusinessDays, DAY, SECOND_MS } from './time-format';

export interface TransitionListener {
  (refund: SimRefund, status: TerminalOutcome): void;
}

export interface Plan {
  status: TerminalOutcome;
  at: number;
  channel: RefundChannel;
  account: string;
  note: string;
}

/** A refund's pending timer as data, so it can be stored and re-armed after a restart (persistence.ts). */
export type RefundSchedule = { kind: 'transition'; plan: Plan } | { kind: 'funds-check'; at: number };

const ALLOWED: Record<RefundStatus, RefundStatus[]> = {
  PROCESSING: ['SUCCESS', 'CLOSED', 'ABNORMAL'],
  ABNORMAL: ['PROCESSING', 'SUCCESS', 'CLOSED'],
  SUCCESS: [],
  CLOSED: [],
};

export class IllegalTransition extends Error {
  override readonly name = 'IllegalTransition';
}

export class LifecycleEngine {
  private readonly timers = new Map<string, TimerHandle>();
  /** What each timer of `timers` will do, as data (same keys). */
  private readonly schedules = new Map<string, RefundSchedule>();
  /** Forced outcomes registered before the refund exists, by owner?/out_refund_no. */
  private pendingForced: ForcedOutcome[] = [];

  constructor(
    private readonly store: SimulatorStore,
    private readonly clock: VirtualClock,
    private readonly rng: RandomStream,
    private readonly config: LifecycleConfig,
    private readonly onTerminal: TransitionListener,
  ) {}

  reset(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.schedules.clear();
    this.pendingForced = [];
  }

  /** The refund's pending timer, as data (undefined when nothing is scheduled). */
  scheduleOf(refund: SimRefund): RefundSchedule | undefined {
    return this.schedules.get(refund.refundId);
  }

  /** Forced outcomes waiting for a refund that does not exist yet. */
  get pendingForcedOutcomes(): readonly ForcedOutcome[] {
    return this.pendingForced;
  }

  /** After a restart: re-arm a stored timer and the forced outcomes still waiting (persistence.ts). */
  restore(refund: SimRefund, schedule: RefundSchedule | undefined): void {
    if (!schedule) return;
    if (schedule.kind === 'transition') {
      this.schedule(refund, schedule.plan);
      return;
    }
    const order = this.store.orderByTransactionId(refund.transactionId);
    if (order) this.scheduleFundsCheck(refund, order, schedule.at);
  }

  restorePendingForced(outcomes: ForcedOutcome[]): void {
    this.pendingForced = [...outcomes];
  }

  /**
   * Plan the refund's fate right after acceptance. May settle it synchronously (instant balance refunds), so the
   * create reply already says SUCCESS.
   */
  onAccepted(refund: SimRefund, order: SimOrder): void {
    const forced = this.takeForced(refund);
    if (forced) {
      this.scheduleForced(refund, forced, refund.createdAt);
      return;
    }
    if (refund.awaitingFundsSince !== undefined) {
      this.scheduleFundsCheck(refund, order);
      return;
    }
    this.planNormal(refund, order, refund.createdAt, true);
  }

  /** Admin / config: force the outcome of an existing refund, or of one created later under that number. */
  force(outcome: ForcedOutcome): { applied: 'now' | 'pending'; refund?: SimRefund } {
    const matches = this.store
      .refundsWithOutRefundNo(outcome.outRefundNo)
      .filter((r) => outcome.owner === undefined || r.owner === outcome.owner);
    if (matches.length > 1) throw new IllegalTransition('several refunds have this number: give owner');
    const refund = matches[0];
    if (!refund) {
      this.pendingForced = this.pendingForced.filter(
        (f) => !(f.outRefundNo === outcome.outRefundNo && f.owner === outcome.owner),
      );
      this.pendingForced.push(outcome);
      return { applied: 'pending' };
    }
    if (ALLOWED[refund.status].length === 0) {
      throw new IllegalTransition(`refund ${refund.outRefundNo} is already ${refund.status} (final)`);
    }
    this.scheduleForced(refund, outcome, this.clock.now());
    return { applied: 'now', refund };
  }

  /** apply-abnormal-refund accepted (API) or handled in the merchant portal. */
  resolveAbnormal(refund: SimRefund, handling: NonNullable<SimRefund['abnormalHandling']>, via: string): void {
    refund.abnormalHandling = handling;
    // §1.4: the channel becomes OTHER_BANKCARD as soon as the handling is accepted (the reply and queries show it).
    this.transition(refund, 'PROCESSING', {
      note: `abnormal refund handling accepted (${via}, ${handling.type})`,
      channel: 'OTHER_BANKCARD',
    });
    const account =
      handling.type === 'MERCHANT_BANK_CARD'
        ? MERCHANT_SETTLEMENT_ACCOUNT
        : cardAccountText(handling.bankType ?? 'ICBC_DEBIT', handling.accountLast4 ?? '0000');
    this.schedule(refund, {
      status: 'SUCCESS',
      at: this.bankCardSettlement(this.clock.now()),
      channel: 'OTHER_BANKCARD',
      account,
      note: 'paid to another bank card after abnormal handling',
    });
  }

  /**
   * Move a refund to `to`, with the bookkeeping that goes with it: payout on SUCCESS, funds released on CLOSED.
   * Emits the notification for terminal-ish states.
   */
  transition(
    refund: SimRefund,
    to: RefundStatus,
    opts: { note: string; channel?: RefundChannel; account?: string },
  ): void {
    if (!ALLOWED[refund.status].includes(to)) {
      throw new IllegalTransition(`refund ${refund.outRefundNo}: ${refund.status} → ${to} is not allowed`);
    }
    const now = this.clock.now();
    refund.status = to;
    if (opts.channel) refund.channel = opts.channel;
    if (opts.account) refund.userReceivedAccount = opts.account;
    if (to === 'SUCCESS') {
      refund.successAt = now;
      refund.payouts += 1;
    }
    if (to === 'CLOSED') {
      // No money moved: whatever was reserved goes back to the merchant.
      this.store.account(refund.owner).balanceFen += refund.debitedFen;
      refund.debitedFen = 0;
    }
    refund.history.push({ status: to, at: now, note: opts.note });
    this.store.touchRefund(refund);
    if (to !== 'PROCESSING') {
      this.cancelTimer(refund);
      this.onTerminal(refund, to);
    }
  }

  private takeForced(refund: SimRefund): ForcedOutcome | undefined {
    const i = this.pendingForced.findIndex(
      (f) => f.outRefundNo === refund.outRefundNo && (f.owner === undefined || f.owner === refund.owner),
    );
    if (i < 0) return undefined;
    return this.pendingForced.splice(i, 1)[0];
  }

  private scheduleForced(refund: SimRefund, forced: ForcedOutcome, from: number): void {
    const channel = forced.channel ?? refund.channel;
    const account = channel === 'OTHER_BALANCE' || channel === 'BALANCE' ? USER_BALANCE_ACCOUNT : undefined;
    this.schedule(refund, {
      status: forced.status,
      at: from + forced.afterSeconds * SECOND_MS,
      channel,
      account: account ?? refund.userReceivedAccount,
      note: `forced ${forced.status}`,
    });
  }

  private planNormal(refund: SimRefund, order: SimOrder, from: number, mayBeInstant: boolean): void {
    const payer = order.payer;
    const balancePayer = isBalancePayment(payer.bankType);
    const cardOk = !balancePayer && payer.cardState === 'VALID';
    let plan: Plan;
    if (balancePayer && payer.balanceAccount === 'OPEN') {
      plan = {
        status: 'SUCCESS',
        at: from + this.config.balanceDelaySeconds * SECOND_MS,
        channel: 'ORIGINAL',
        account: USER_BALANCE_ACCOUNT,
        note: 'returned to the payer balance',
      };
      if (mayBeInstant && this.rng.chance(this.config.instantSuccessProbability)) plan.at = from;
    } else if (cardOk) {
      plan = {
        status: 'SUCCESS',
        at: this.bankCardSettlement(from),
        channel: 'ORIGINAL',
        account: cardAccountText(payer.bankType, payer.cardLast4),
        note: 'returned to the bank card',
      };
    } else if (!balancePayer && payer.balanceAccount === 'OPEN') {
      plan = {
        status: 'SUCCESS',
        at: from + this.config.otherBalanceDelaySeconds * SECOND_MS,
        channel: 'OTHER_BALANCE',
        account: USER_BALANCE_ACCOUNT,
        note: `card ${payer.cardState.toLowerCase()}: returned to the payer balance instead`,
      };
    } else {
      plan = {
        status: 'ABNORMAL',
        at: balancePayer ? from + this.config.balanceDelaySeconds * SECOND_MS : this.bankCardSettlement(from),
        channel: refund.channel,
        account: refund.userReceivedAccount,
        note: 'original route failed and the balance fallback is closed',
      };
    }
    if (plan.status === 'SUCCESS') {
      // Chaos knobs: seeded, so the same run closes/abnormals the same refunds.
      if (this.rng.chance(this.config.closedProbability)) {
        plan = { ...plan, status: 'CLOSED', note: 'closed by the bank (random, closedProbability)' };
      } else if (this.rng.chance(this.config.abnormalProbability)) {
        plan = { ...plan, status: 'ABNORMAL', note: 'route failed (random, abnormalProbability)' };
      }
    }
    if (plan.at <= this.clock.now() && plan.status === 'SUCCESS' && mayBeInstant) {
      this.transition(refund, 'SUCCESS', {
        note: `${plan.note} (instant)`,
        channel: plan.channel,
        account: plan.account,
      });
      return;
    }
    this.schedule(refund, plan);
  }

  /** 1–3 business days (seeded), sometimes more, at a seeded time of day offset. */
  private bankCardSettlement(from: number): number {
    const { min, max } = this.config.bankCardBusinessDays;
    let days = this.rng.int(min, max);
    if (this.rng.chance(this.config.slowBankCardProbability)) days += this.config.slowBankCardExtraBusinessDays;
    const jitter = this.rng.int(0, 6 * 60 * 60) * SECOND_MS;
    return addBusinessDays(from, days) + jitter;
  }

  private scheduleFundsCheck(
    refund: SimRefund,
    order: SimOrder,
    at = this.clock.now() + this.config.fundsRetryIntervalSeconds * SECOND_MS,
  ): void {
    this.setTimer(refund, at, { kind: 'funds-check', at }, 'funds-check', () => {
      this.forget(refund);
      if (refund.status !== 'PROCESSING' || refund.awaitingFundsSince === undefined) return;
      this.store.touchRefund(refund);
      const account = this.store.account(refund.owner);
      const need = refund.amount.settlementRefund - refund.amount.refundFee;
      if (account.balanceFen >= need) {
        account.balanceFen -= need;
        refund.debitedFen = need;
        refund.awaitingFundsSince = undefined;
        refund.history.push({ status: 'PROCESSING', at: this.clock.now(), note: 'merchant funds arrived; paying out' });
        this.planNormal(refund, order, this.clock.now(), false);
        return;
      }
      if (this.clock.now() - refund.awaitingFundsSince >= this.config.fundsWaitDays * DAY) {
        this.transition(refund, 'CLOSED', {
          note: `merchant funds still insufficient after ${this.config.fundsWaitDays} days`,
        });
        return;
      }
      this.scheduleFundsCheck(refund, order);
    });
  }

  private schedule(refund: SimRefund, plan: Plan): void {
    const what: RefundSchedule = { kind: 'transition', plan };
    this.setTimer(refund, plan.at, what, `refund ${refund.outRefundNo} → ${plan.status}`, () => {
      this.forget(refund);
      if (!ALLOWED[refund.status].includes(plan.status)) return;
      this.transition(refund, plan.status, { note: plan.note, channel: plan.channel, account: plan.account });
    });
  }

  private setTimer(refund: SimRefund, at: number, what: RefundSchedule, label: string, fn: () => void): void {
    this.cancelTimer(refund);
    this.timers.set(refund.refundId, this.clock.at(at, label, fn));
    this.schedules.set(refund.refundId, what);
    this.store.touchRefund(refund);
  }

  /** The timer fired: nothing is scheduled any more (unless the callback schedules again). */
  private forget(refund: SimRefund): void {
    this.timers.delete(refund.refundId);
    if (this.schedules.delete(refund.refundId)) this.store.touchRefund(refund);
  }

  private cancelTimer(refund: SimRefund): void {
    this.timers.get(refund.refundId)?.cancel();
    this.timers.delete(refund.refundId);
    if (this.schedules.delete(refund.refundId)) this.store.touchRefund(refund);
  }

  /** Planned next transition of a refund (admin view). */
  nextTransitionAt(refund: SimRefund): number | undefined {
    return this.timers.get(refund.refundId)?.dueAt;
  }
}
