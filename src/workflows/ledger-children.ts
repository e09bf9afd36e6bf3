/**
 * How an order ledger hears from the refunds it starts (LEAN_LEDGER, patches.ts). The cheapest report is the one
 * Temporal makes anyway: a child's completion reaches the run that started it. Two cases need a signal instead:
 *
 * - the order's submission slot: a refund requested while another's create is in flight waits for it, so the ledger
 *   asks that refund to report when its create is settled (`reportSubmission`), once;
 * - continue-as-new: the next run will not hear the completions of children started by this one, so before it
 *   continues the ledger tells each of them to report its end by signal (`ledgerContinued`). A refund that already
 *   ended cannot be told; its completion then reaches this run, which waits for it before continuing.
 *
 * Either way no refund's end is lost, and a refund that nobody waits for costs its ledger no workflow task until it
 * ends. Older ledgers (`lean` false) rely on refunds reporting every change.
 */
import * as wf from '@temporalio/workflow';
import { ledgerContinuedSignal, reportSubmissionSignal } from './definitions';
import type { LedgerState } from './ledger-state';
import type { RefundOutcome } from './types';

/** Applies a child refund's result to the ledger; settles once it is applied (or marked lost). */
export function watchOutcome(ledger: LedgerState, outRefundNo: string, result: Promise<RefundOutcome>): Promise<void> {
  return result.then(
    (outcome) => ledger.applyOutcome(outcome),
    (err: unknown) => {
      wf.log.warn('refund workflow ended without a result', { outRefundNo, error: String(err) });
      ledger.markLost(outRefundNo, String(err));
    },
  );
}

export class LeanChildren {
  /** Refunds this run started whose result is not applied yet. */
  private readonly running = new Map<string, Promise<void>>();
  /** Refunds asked for their submission report (once each). */
  private readonly asked = new Set<string>();
  /** Signals sent and not yet answered: the run must not continue-as-new before they are. */
  private readonly signalling = new Set<Promise<void>>();
  /** Refunds already told this run continues-as-new. */
  private readonly told = new Set<string>();

  constructor(
    private readonly ledger: LedgerState,
    readonly lean: boolean,
  ) {}

  watch(outRefundNo: string, result: Promise<RefundOutcome>): void {
    const applied = watchOutcome(this.ledger, outRefundNo, result);
    if (!this.lean) return;
    this.running.set(outRefundNo, applied);
    void applied.then(() => this.running.delete(outRefundNo));
  }

  /** A request must wait for the slot: the refund holding it reports when its create is settled. */
  askForSubmissionReport(): void {
    if (!this.lean) return;
    const holder = this.ledger.submitting;
    if (holder === undefined || this.asked.has(holder)) return;
    const entry = this.ledger.entry(holder);
    if (!entry || entry.submissionSettled) return;
    this.asked.add(holder);
    this.track(
      wf
        .getExternalWorkflowHandle(entry.refundWorkflowId)
        .signal(reportSubmissionSignal)
        .catch((err: unknown) => {
          // It ended (its end reaches the ledger as its result or its report): the slot is freed that way.
          wf.log.info('could not ask a refund for its submission report', { holder, error: String(err) });
        }),
    );
  }

  /**
   * Before continue-as-new: every refund started here reports its end to the next run, or has reported it here.
   * Repeated until nothing is left to do: a request decided meanwhile may have started another refund.
   */
  async handOff(): Promise<void> {
    if (!this.lean) return;
    do {
      await wf.condition(wf.allHandlersFinished);
      await this.tellRunning();
      await Promise.all(this.signalling);
    } while (!wf.allHandlersFinished() || this.untold() || this.signalling.size > 0);
  }

  private untold(): boolean {
    return [...this.running.keys()].some((outRefundNo) => !this.told.has(outRefundNo));
  }

  private async tellRunning(): Promise<void> {
    await Promise.all(
      [...this.running].map(async ([outRefundNo, applied]) => {
        const entry = this.ledger.entry(outRefundNo);
        if (!entry || this.told.has(outRefundNo)) return;
        this.told.add(outRefundNo);
        try {
          await wf.getExternalWorkflowHandle(entry.refundWorkflowId).signal(ledgerContinuedSignal);
        } catch {
          await applied; // it has ended: its completion is on its way to this run
        }
      }),
    );
  }

  private track(signal: Promise<void>): void {
    this.signalling.add(signal);
    void signal.finally(() => this.signalling.delete(signal));
  }
}

/**
 * The one-year refund window as one timer per run: the ledger's loop wakes for it once, and otherwise waits on its
 * own conditions without starting a timer each time (a timer is a history event and a billable action).
 */
export class DeadlineTimer {
  private passed = false;
  private seen = false;

  constructor(deadlineMs: number) {
    // The window is over strictly after the deadline (LedgerState.isDone).
    const ms = deadlineMs - Date.now() + 1;
    if (ms <= 0) this.passed = true;
    else void wf.sleep(ms).then(() => (this.passed = true));
  }

  /** Until `wake` holds, or the window has just closed (once: the loop then decides what that means). */
  async waitFor(wake: () => boolean): Promise<void> {
    await wf.condition(() => wake() || (this.passed && !this.seen));
    if (this.passed) this.seen = true;
  }
}
