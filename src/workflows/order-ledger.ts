/**
 * One paid order's refunds (workflow ID `refund-order-<out_trade_no>`). The order service reaches it through
 * update-with-start: the first refund request creates the ledger in the same call.
 *
 * - requestRefund is checked against WeChat's money rules by a validator, so a bad request is rejected at once and
 *   leaves no trace in history; the same request twice gets the same receipt.
 * - Refunds run as child workflows, one create in flight per order and at least a minute apart (M9); the rest wait
 *   in a queue. Children report every status change, which keeps the reserved amounts current.
 * - Long-lived orders continue-as-new (carrying the state) when the server suggests it or history grows.
 */
import * as wf from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { orderLedgerInputSchema, requestRefundSchema, describeZodError, type RefundRequest } from '../domain/schemas';
import { OutTradeNoKey } from '../domain/search-attributes';
import { formatFen } from '../domain/money';
import {
  ledgerQuery,
  refundableAmountQuery,
  refundCountQuery,
  refundListQuery,
  refundStatusChangedSignal,
  requestRefundUpdate,
} from './definitions';
import { LedgerState } from './ledger-state';
import { refundWorkflow } from './refund';
import { parseOrFail } from './support';
import type { LedgerView, OrderLedgerWorkflowInput, RefundReceipt } from './types';
import type { RefundWorkflowInput } from '../domain/schemas';

export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;

export async function orderLedgerWorkflow(rawInput: OrderLedgerWorkflowInput): Promise<LedgerView> {
  const input = parseOrFail(orderLedgerInputSchema, rawInput, 'orderLedgerWorkflow input');
  const ledger = new LedgerState(input, rawInput.carried);
  const maxHistoryEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;

  const publish = () => wf.setCurrentDetails(ledger.details());

  wf.setHandler(
    requestRefundUpdate,
    (request: RefundRequest): RefundReceipt => {
      // Checked again: the validator does not run on replay, and this keeps the handler correct on its own.
      const result = requestRefundSchema.safeParse(request);
      if (!result.success) {
        throw wf.ApplicationFailure.nonRetryable(describeZodError(result.error), 'InvalidRefundRequest');
      }
      const parsed = result.data;
      const check = ledger.check(parsed);
      if (!check.ok) throw wf.ApplicationFailure.nonRetryable(check.message, `RefundRule${check.rule}`);
      if (check.kind === 'duplicate') return ledger.receipt(check.entry);
      const receipt = ledger.add(parsed);
      publish();
      return receipt;
    },
    {
      validator: (request: RefundRequest) => {
        // Typed failures: callers (src/starter.ts) map `RefundRule<rule>` to the WeChat rule without parsing text.
        const parsed = requestRefundSchema.safeParse(request);
        if (!parsed.success) {
          throw wf.ApplicationFailure.nonRetryable(describeZodError(parsed.error), 'InvalidRefundRequest');
        }
        const check = ledger.check(parsed.data);
        if (!check.ok) throw wf.ApplicationFailure.nonRetryable(check.message, `RefundRule${check.rule}`);
      },
      description: 'Request a refund of this order; rejected at once when it breaks a WeChat refund rule.',
    },
  );
  wf.setHandler(refundStatusChangedSignal, (change) => {
    ledger.applyChange(change);
    publish();
  });
  wf.setHandler(ledgerQuery, () => ledger.view());
  wf.setHandler(refundableAmountQuery, () => ledger.money().refundableFen);
  wf.setHandler(refundCountQuery, () => ledger.money().refundCount);
  wf.setHandler(refundListQuery, () => ledger.entries);

  wf.upsertSearchAttributes([{ key: OutTradeNoKey, value: input.outTradeNo }]);
  publish();

  const continueAsNewDue = () => {
    const info = wf.workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= maxHistoryEvents;
  };

  for (;;) {
    if (continueAsNewDue()) {
      // Let running handlers finish so nothing is cut off, then start afresh with the same state.
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof orderLedgerWorkflow>({ ...input, carried: ledger.carry() });
    }
    if (ledger.canDispatch()) {
      const waitMs = ledger.nextSubmissionAllowedAtMs() - Date.now();
      if (waitMs > 0) {
        await wf.condition(continueAsNewDue, waitMs);
        continue;
      }
      await startRefund(ledger, input.outTradeNo, rawInput);
      publish();
      continue;
    }
    const nowMs = Date.now();
    if (ledger.isDone(nowMs)) break;
    const untilDeadline = ledger.deadlineMs() - nowMs;
    const wake = () => ledger.canDispatch() || continueAsNewDue() || ledger.isDone(Date.now());
    if (untilDeadline > 0) await wf.condition(wake, untilDeadline);
    else await wf.condition(wake);
  }

  await wf.condition(wf.allHandlersFinished);
  return ledger.view();
}

async function startRefund(ledger: LedgerState, outTradeNo: string, input: OrderLedgerWorkflowInput): Promise<void> {
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
    totalFen: input.paidTotalFen,
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
    child.result().then(
      (outcome) => ledger.applyOutcome(outcome),
      (err: unknown) => {
        wf.log.warn('refund workflow ended without a result', { outRefundNo, error: String(err) });
        ledger.markLost(outRefundNo, String(err));
      },
    );
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
