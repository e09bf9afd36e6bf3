/**
 * One paid order's refunds (workflow ID `refund-order-<out_trade_no>`). The order service reaches it through
 * update-with-start: the first refund request creates the ledger in the same call.
 *
 * - The ledger first reads the order's record from WeChat (docs §11): paid total, payment time, payer's bank and
 *   state are WeChat's, never a caller's. An order WeChat does not know, or that is not paid, refuses every request
 *   and the ledger ends; what a request says about the order must agree (domain/order-facts.ts).
 * - requestRefund is checked against WeChat's money rules, so a bad request is refused at once; the same request
 *   twice gets the same receipt.
 * - Before a receipt is given, the refund's workflow is started with its out_refund_no as ID, never to be run again
 *   (REJECT_DUPLICATE): a number already used by another refund, of this order or any other, is refused (M7).
 * - One create in flight per order and at least a minute apart (M9): a refund requested while another is being
 *   submitted is started held and waits for `submissionSlotGranted`. Children report every status change, which
 *   keeps the reserved amounts current.
 * - Long-lived orders continue-as-new (carrying the state) when the server suggests it or history grows.
 */
import * as wf from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair } from '@temporalio/common';
import type { CancelRefundRequest, OrderLedgerInput, RefundRequest } from '../domain/schemas';
import { schemas } from '../domain/lazy-schemas';
import { describeZodError } from '../domain/zod-errors';
import { NON_RETRYABLE_FAILURE_CLASSES } from '../domain/failure-classes';
import { OutRefundNoKey, OutTradeNoKey, RefundAmountFenKey, RefundStatusKey } from '../domain/search-attributes';
import { formatFen } from '../domain/money';
import type { RefundCheck } from '../domain/refund-caps';
import {
  cancelQueuedRefundSignal,
  cancelRefundUpdate,
  ledgerQuery,
  refundableAmountQuery,
  refundCountQuery,
  refundListQuery,
  refundStatusChangedSignal,
  requestRefundUpdate,
  submissionSlotGrantedSignal,
} from './definitions';
import { LedgerState } from './ledger-state';
import { refundWorkflow } from './refund';
import { LEAN_LEDGER, LEDGER_VERIFIES_ORDER_AND_BINDS_NUMBERS } from './patches';
import { DeadlineTimer, LeanChildren, watchOutcome } from './ledger-children';
import { classifyActivityFailure, parseOrFail } from './support';
import type { LedgerEntry, LedgerView, OrderLedgerWorkflowInput, RefundReceipt } from './types';
import type { RefundWorkflowInput } from '../domain/schemas';
import type { RefundActivities } from '../activities';

/**
 * The order's record: a read without side effects, so Temporal retries blips; after about half a minute of failures
 * the waiting requests are answered "not decided" and the ledger ends, so the next request asks WeChat afresh.
 */
const LOOKUP_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
  maximumAttempts: 4,
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_CLASSES],
};
const { lookUpOrder } = wf.proxyActivities<RefundActivities>({
  startToCloseTimeout: '30 seconds',
  retry: LOOKUP_RETRY,
});
/**
 * LEAN_LEDGER: the same read as a local activity, run by the worker inside the ledger's first workflow task, so the
 * decision needs no task of its own (and no trip through a task queue). The retries are the worker's, with the same
 * schedule; a slow read keeps the task alive (the SDK heartbeats it).
 */
const { lookUpOrder: lookUpOrderLocally } = wf.proxyLocalActivities<RefundActivities>({
  startToCloseTimeout: '30 seconds',
  retry: LOOKUP_RETRY,
});

/** A ledger all of whose requests were refused holds nothing: it ends after this long without a new request. */
export const EMPTY_LEDGER_LINGER_MS = 60_000;

const refuse = (message: string, type: string) => wf.ApplicationFailure.nonRetryable(message, type);

export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;

export async function orderLedgerWorkflow(rawInput: OrderLedgerWorkflowInput): Promise<LedgerView> {
  const input = parseOrFail(schemas().orderLedgerInputSchema, rawInput, 'orderLedgerWorkflow input');
  // One marker for new ledgers (LEAN_LEDGER implies the patch before it, which older histories still ask about).
  const lean = wf.patched(LEAN_LEDGER);
  // Ledgers whose history predates verified facts keep the caller's facts and start refunds when dispatched.
  const verified = lean || wf.patched(LEDGER_VERIFIES_ORDER_AND_BINDS_NUMBERS);
  if (!verified && (input.paidTotalFen === undefined || input.paidAt === undefined)) {
    throw refuse('orderLedgerWorkflow input: paidTotalFen and paidAt are required', 'InvalidWorkflowInput');
  }
  const ledger = new LedgerState(input, rawInput.carried, verified);
  const maxHistoryEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;

  const publish = () => wf.setCurrentDetails(ledger.details());
  /** LEAN_LEDGER: the refunds this run started (it hears their completion), and signals it must see answered. */
  const children = new LeanChildren(ledger, lean);

  wf.setHandler(
    requestRefundUpdate,
    async (request: RefundRequest): Promise<RefundReceipt> => {
      // Checked again: the validator does not run on replay, and this keeps the handler correct on its own.
      const parsed = parseRequest(request);
      if (!verified) {
        const check = enforceRefundRules(ledger, parsed);
        if (check.kind === 'duplicate') return ledger.receipt(check.entry);
        const receipt = ledger.add(parsed);
        publish();
        return receipt;
      }
      await wf.condition(() => ledger.settledFacts());
      const entry = decide(ledger, parsed);
      if (ledger.binding.has(entry.outRefundNo)) {
        // The same request is already binding its number: answer as it will be answered.
        await wf.condition(() => !ledger.binding.has(entry.outRefundNo));
        if (!ledger.entry(entry.outRefundNo)) throw numberTaken(entry.outRefundNo, entry.refundWorkflowId);
      }
      return ledger.receipt(entry);
    },
    {
      validator: (request: RefundRequest) => validateRequest(ledger, verified, request),
      description: 'Request a refund of this order; rejected at once when it breaks a WeChat refund rule.',
    },
  );

  /**
   * The decision for a request once the facts are known: refused (throws), the existing entry for a repeat, or a new
   * entry whose workflow starts now to bind its number. Synchronous up to the start, so two requests racing for the
   * last fen cannot both pass.
   */
  function decide(state: LedgerState, request: RefundRequest): LedgerEntry {
    preCheck(state, request);
    const check = enforceRefundRules(state, request);
    if (check.kind === 'duplicate') return check.entry;
    const readyNow = state.slotFreeNow();
    state.add(request, { queue: false });
    const entry = state.entry(request.outRefundNo)!;
    const giveBack = readyNow ? state.takeSlotFor(entry.outRefundNo) : undefined;
    state.binding.add(entry.outRefundNo);
    publish();
    if (!readyNow) children.askForSubmissionReport();
    void bindNumber(state, input, entry, readyNow, children).then(
      () => {
        state.binding.delete(entry.outRefundNo);
        if (!readyNow) state.queueHeld(entry.outRefundNo);
        publish();
      },
      () => {
        state.binding.delete(entry.outRefundNo);
        giveBack?.();
        state.forget(entry.outRefundNo);
        publish();
      },
    );
    return entry;
  }

  wf.setHandler(
    cancelRefundUpdate,
    async (request: CancelRefundRequest): Promise<LedgerEntry> => {
      const entry = cancellable(ledger, request);
      if (entry.status === 'CANCELLED') return entry; // the same cancel again: the same answer
      const wasHeld = entry.held === true;
      ledger.cancel(entry.outRefundNo, request.requestedBy);
      publish();
      // A held refund's workflow is running (it binds the number) and ends itself on this signal; ledgers that
      // predate binding queued refunds without a workflow, so there is nothing to tell.
      if (wasHeld) await tellCancelled(entry, request);
      return entry;
    },
    {
      validator: (request: CancelRefundRequest) => void cancellable(ledger, request),
      description: 'Withdraw a refund still queued behind another of this order; rejected once it may have been sent.',
    },
  );

  wf.setHandler(refundStatusChangedSignal, (change) => {
    ledger.applyChange(change);
    publish();
  });
  wf.setHandler(ledgerQuery, () => ledger.view());
  wf.setHandler(refundableAmountQuery, () => (ledger.facts ? ledger.money().refundableFen : 0));
  wf.setHandler(refundCountQuery, () => (ledger.facts ? ledger.money().refundCount : 0));
  wf.setHandler(refundListQuery, () => ledger.entries);

  wf.upsertSearchAttributes([{ key: OutTradeNoKey, value: input.outTradeNo }]);
  publish();

  if (!ledger.facts) {
    await readOrderRecord(ledger, lean);
    // A ledger started before facts were verified that continued-as-new onto this code has refunds in flight: if
    // WeChat cannot be read now, it keeps the facts it was started with rather than abandon them.
    if (!ledger.facts && ledger.entries.length > 0) ledger.keepCallerFacts();
    publish();
    if (!ledger.facts) {
      // Nothing can be refunded (or nothing is known): the waiting requests were answered; a new request starts a
      // new ledger, which asks WeChat again.
      await wf.condition(wf.allHandlersFinished);
      return ledger.view();
    }
  }

  const continueAsNewDue = () => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= maxHistoryEvents;
  };

  // LEAN_LEDGER: one timer for the one-year window per run; older ledgers started one at every wake-up.
  const deadline = lean ? new DeadlineTimer(ledger.deadlineMs()) : undefined;

  for (;;) {
    if (continueAsNewDue()) {
      // Let running handlers finish so nothing is cut off, then start afresh with the same state.
      await wf.condition(wf.allHandlersFinished);
      // Refunds started by this run must report their end by signal to the next one; asks in flight must land
      // (and requests decided meanwhile are waited for again).
      await children.handOff();
      await wf.continueAsNew<typeof orderLedgerWorkflow>({ ...input, carried: ledger.carry() });
    }
    if (verified && ledger.entries.length === 0) {
      if (!wf.allHandlersFinished()) {
        // Requests are being decided: wait for them (or their refunds) before the idle clock starts.
        await wf.condition(() => wf.allHandlersFinished() || ledger.entries.length > 0 || continueAsNewDue());
        continue;
      }
      const asked = () => ledger.entries.length > 0 || !wf.allHandlersFinished() || continueAsNewDue();
      if (!(await wf.condition(asked, EMPTY_LEDGER_LINGER_MS))) break;
      continue;
    }
    if (ledger.canDispatch()) {
      const waitMs = ledger.nextSubmissionAllowedAtMs() - Date.now();
      if (waitMs > 0) {
        await wf.condition(continueAsNewDue, waitMs);
        continue;
      }
      const head = ledger.entry(ledger.queue[0]);
      if (head?.held) await grantSlot(ledger, head);
      else await startRefund(ledger, input);
      publish();
      continue;
    }
    const nowMs = Date.now();
    if (ledger.isDone(nowMs)) break;
    const untilDeadline = ledger.deadlineMs() - nowMs;
    const wake = () =>
      ledger.canDispatch() ||
      continueAsNewDue() ||
      ledger.isDone(Date.now()) ||
      (verified && ledger.entries.length === 0);
    if (deadline) await deadline.waitFor(wake);
    else if (untilDeadline > 0) await wf.condition(wake, untilDeadline);
    else await wf.condition(wake);
  }

  await wf.condition(wf.allHandlersFinished);
  return ledger.view();
}

/** The entry a cancel names, if it may be cancelled (or already was); otherwise a typed refusal saying why. */
function cancellable(ledger: LedgerState, raw: CancelRefundRequest): LedgerEntry {
  const parsed = schemas().cancelRefundSchema.safeParse(raw);
  if (!parsed.success) throw refuse(describeZodError(parsed.error), 'InvalidCancelRequest');
  const entry = ledger.entry(parsed.data.outRefundNo);
  if (!entry) {
    throw refuse(`order ${ledger.input.outTradeNo} has no refund ${parsed.data.outRefundNo}`, 'UnknownRefund');
  }
  if (entry.status === 'CANCELLED') return entry;
  const refusal = ledger.cancelRefusal(entry);
  if (refusal) throw refuse(refusal, 'RefundNotCancellable');
  return entry;
}

/** The refund's workflow waits for its turn; it ends CANCELLED on this signal (retried: it must not wait forever). */
async function tellCancelled(entry: LedgerEntry, request: CancelRefundRequest): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await wf
        .getExternalWorkflowHandle(entry.refundWorkflowId)
        .signal(cancelQueuedRefundSignal, { requestedBy: request.requestedBy });
      return;
    } catch (err) {
      if (attempt >= 5) {
        wf.log.error('could not tell a cancelled refund to end; it stays held (terminate it by hand)', {
          workflowId: entry.refundWorkflowId,
          error: String(err),
        });
        return;
      }
      await wf.sleep(1_000 * 2 ** (attempt - 1));
    }
  }
}

function parseRequest(request: RefundRequest): RefundRequest {
  const result = schemas().requestRefundSchema.safeParse(request);
  if (!result.success) throw refuse(describeZodError(result.error), 'InvalidRefundRequest');
  return result.data;
}

/**
 * requestRefund's validator: refuses at once what would be refused anyway, so a bad request leaves no trace in
 * history. Typed failures: callers (src/starter.ts) map `RefundRule<rule>` to the WeChat rule without parsing text.
 */
function validateRequest(ledger: LedgerState, verified: boolean, request: RefundRequest): void {
  const parsed = parseRequest(request);
  if (verified) {
    if (!ledger.settledFacts()) return; // the handler waits for WeChat's record, then decides
    preCheck(ledger, parsed);
  }
  enforceRefundRules(ledger, parsed);
}

/** WeChat's money rules for this request against the ledger: refused (throws `RefundRule<rule>`), new or a repeat. */
function enforceRefundRules(
  ledger: LedgerState,
  request: RefundRequest,
): Extract<RefundCheck<LedgerEntry>, { ok: true }> {
  const check = ledger.check(request);
  if (!check.ok) throw refuse(check.message, `RefundRule${check.rule}`);
  return check;
}

/** Refusals that need no money rule: the order itself, the caller's facts, an expired request. */
function preCheck(ledger: LedgerState, request: RefundRequest): void {
  if (ledger.problem) throw refuse(ledger.problem.message, `RefundRule${ledger.problem.rule}`);
  if (ledger.lookupFailure) throw refuse(ledger.lookupFailure.message, 'OrderLookupFailed');
  const claims = ledger.checkClaims(request);
  if (!claims.ok) throw refuse(claims.message, 'OrderFactsMismatch');
  const repeat = ledger.entry(request.outRefundNo);
  if (repeat && repeat.amountFen === request.amountFen) return; // decided before: same answer, however late
  if (request.decideBy !== undefined && Date.now() > Date.parse(request.decideBy)) {
    throw refuse(
      `the caller stopped waiting at ${request.decideBy}: request not decided, nothing was kept`,
      'RefundRequestExpired',
    );
  }
}

async function readOrderRecord(ledger: LedgerState, locally: boolean): Promise<void> {
  const { input } = ledger;
  try {
    const record = await (locally ? lookUpOrderLocally : lookUpOrder)({
      mchid: input.mchid,
      outTradeNo: input.outTradeNo,
      transactionId: input.transactionId,
      subMchid: input.subMchid,
    });
    ledger.takeOrderRecord(record);
  } catch (err) {
    const failure = classifyActivityFailure(err);
    ledger.lookupFailure = {
      message:
        `ORDER_LOOKUP_FAILED: could not read order ${input.outTradeNo} from WeChat Pay ` +
        `(${failure.code}: ${failure.message}); nothing was decided, the same request may be repeated`,
    };
    wf.log.warn('order lookup failed', { outTradeNo: input.outTradeNo, code: failure.code });
  }
}

function numberTaken(outRefundNo: string, workflowId: string) {
  return refuse(
    `out_refund_no ${outRefundNo} already belongs to another refund (workflow ${workflowId} exists): ` +
      `a refund number is bound to one order and one amount for good; use a new out_refund_no (M7)`,
    'RefundRuleM7',
  );
}

/** The refund's workflow input, from the order's verified facts. */
function childInputFor(
  ledger: LedgerState,
  input: OrderLedgerInput,
  entry: LedgerEntry,
  held: boolean,
  hearsCompletion: boolean,
): RefundWorkflowInput {
  const facts = ledger.knownFacts();
  return {
    outRefundNo: entry.outRefundNo,
    outTradeNo: facts.outTradeNo,
    transactionId: facts.transactionId ?? input.transactionId,
    mchid: facts.mchid,
    subMchid: input.subMchid,
    refundFen: entry.amountFen,
    totalFen: facts.paidTotalFen,
    reason: entry.reason,
    ...(entry.metadata !== undefined ? { metadata: entry.metadata } : {}),
    notifyUrl: input.notifyUrl,
    fundsAccount: input.fundsAccount,
    payerBankType: facts.payerBankType,
    ledgerWorkflowId: wf.workflowInfo().workflowId,
    polling: input.polling,
    submitRetry: input.submitRetry,
    ...(held ? { held: true } : {}),
    ...(hearsCompletion ? { ledgerHearsCompletion: true } : {}),
  };
}

/**
 * Starts the refund's workflow, which binds its out_refund_no: the ID is never run again, so exactly one of two
 * orders racing for a number gets it. Rejects (the caller forgets the entry) when the number is taken.
 */
async function bindNumber(
  ledger: LedgerState,
  input: OrderLedgerInput,
  entry: LedgerEntry,
  readyNow: boolean,
  children: LeanChildren,
): Promise<void> {
  let child;
  try {
    child = await wf.startChild(refundWorkflow, {
      workflowId: entry.refundWorkflowId,
      args: [childInputFor(ledger, input, entry, !readyNow, children.lean)],
      // Its first search attributes, so it need not upsert them (LEAN_LEDGER).
      ...(children.lean ? { typedSearchAttributes: initialSearchAttributes(input, entry) } : {}),
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // The ledger continues-as-new; its refunds must live on regardless.
      parentClosePolicy: wf.ParentClosePolicy.ABANDON,
      staticSummary: `Refund ${formatFen(entry.amountFen)} CNY of order ${input.outTradeNo} (${entry.outRefundNo})`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw numberTaken(entry.outRefundNo, entry.refundWorkflowId);
    }
    throw err;
  }
  children.watch(entry.outRefundNo, child.result());
}

/** What the Web UI and the CLI list a refund by, from its start (the refund publishes changes itself). */
function initialSearchAttributes(input: OrderLedgerInput, entry: LedgerEntry): SearchAttributePair[] {
  return [
    { key: OutRefundNoKey, value: entry.outRefundNo },
    { key: RefundAmountFenKey, value: entry.amountFen },
    { key: RefundStatusKey, value: 'PENDING' },
    { key: OutTradeNoKey, value: input.outTradeNo },
  ];
}

/** The held refund at the head of the queue may send its create now. */
async function grantSlot(ledger: LedgerState, entry: LedgerEntry): Promise<void> {
  ledger.markStarted(entry.outRefundNo);
  try {
    await wf.getExternalWorkflowHandle(entry.refundWorkflowId).signal(submissionSlotGrantedSignal);
  } catch (err) {
    ledger.markLost(entry.outRefundNo, `could not hand the submission slot to ${entry.refundWorkflowId}: ${err}`);
  }
}

/** Pre-verification ledgers only: starts the refund at the head of the queue from the facts the caller gave. */
async function startRefund(ledger: LedgerState, input: OrderLedgerInput): Promise<void> {
  const { outTradeNo } = input;
  const outRefundNo = ledger.queue[0];
  const entry = ledger.entry(outRefundNo);
  if (!entry) {
    ledger.queue.shift();
    return;
  }
  const childInput: RefundWorkflowInput = {
    outRefundNo,
    outTradeNo,
    transactionId: input.transactionId,
    subMchid: input.subMchid,
    refundFen: entry.amountFen,
    totalFen: input.paidTotalFen!,
    reason: entry.reason,
    notifyUrl: input.notifyUrl,
    fundsAccount: input.fundsAccount,
    payerBankType: input.payerBankType,
    ledgerWorkflowId: wf.workflowInfo().workflowId,
    polling: input.polling,
    submitRetry: input.submitRetry,
  };
  ledger.markStarted(outRefundNo);
  try {
    const child = await wf.startChild(refundWorkflow, {
      workflowId: entry.refundWorkflowId,
      args: [childInput],
      // The ledger continues-as-new; its refunds must live on regardless.
      parentClosePolicy: wf.ParentClosePolicy.ABANDON,
      staticSummary: `Refund ${formatFen(entry.amountFen)} CNY of order ${outTradeNo} (${outRefundNo})`,
    });
    void watchOutcome(ledger, outRefundNo, child.result());
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      ledger.markLost(
        outRefundNo,
        `a refund workflow ${entry.refundWorkflowId} is already running outside this ledger`,
      );
      return;
    }
    throw err;
  }
}
