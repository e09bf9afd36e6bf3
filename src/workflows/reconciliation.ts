/**
 * The daily reconciliation of one merchant's refund bill (docs/reconciliation.md), started by its Temporal Schedule
 * each morning after WeChat publishes the bill (10:00 Beijing time) for the day before, or on demand
 * (`npm run ops -- reconcile --date …`). Workflow ID: `reconcile-<mchid>[-<sub_mchid>]` plus the schedule's timestamp,
 * or `reconcile-<mchid>[-<sub_mchid>]-<date>` on demand.
 *
 * The work is one activity (reconcile-day.ts) that streams the bill, so history holds only the counts and the report's
 * reference, however long the bill. A bill not published yet, or one whose SHA1 does not match (refused, never
 * reconciled), is retried: every half hour at first, for two days.
 */
import * as wf from '@temporalio/workflow';
import type { RefundActivities } from '../activities';
import { beijingDate } from '../reconciliation/compare';
import type { ReconcileDayResult } from '../reconciliation/reconcile-day';

export interface ReconciliationInput {
  mchid: string;
  subMchid?: string;
  /** YYYY-MM-DD (Beijing); absent: the day before this run started (the scheduled run). */
  billDate?: string;
  /** Tests shorten the wait for a bill that is not published yet. */
  retryIntervalMs?: number;
}

const DAY_MS = 86_400_000;

export async function reconciliationWorkflow(input: ReconciliationInput): Promise<ReconcileDayResult> {
  const billDate = input.billDate ?? beijingDate(wf.workflowInfo().startTime.getTime() - DAY_MS);
  const who = `merchant ${input.mchid}${input.subMchid ? ` / ${input.subMchid}` : ''}`;
  wf.setCurrentDetails(`Reconciling the refund bill of ${billDate} for ${who}: fetching the bill…`);
  const { reconcileRefundBill } = wf.proxyActivities<RefundActivities>({
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '5 minutes',
    retry: {
      initialInterval: input.retryIntervalMs ?? 30 * 60_000,
      backoffCoefficient: 1.5,
      maximumInterval: '2 hours',
      // About two days of waiting for a bill; then an operator looks (the workflow fails, the schedule goes on).
      maximumAttempts: 30,
      nonRetryableErrorTypes: ['NeedsOperator', 'Final', 'InvalidRequest', 'BillFormatError', 'ReconciliationOff'],
    },
  });
  const { announceReconciliation } = wf.proxyActivities<RefundActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 12 },
  });
  const result = await reconcileRefundBill({
    mchid: input.mchid,
    billDate,
    ...(input.subMchid ? { subMchid: input.subMchid } : {}),
  });
  const { counts, totals } = result;
  wf.setCurrentDetails(
    [
      `**Refund bill of ${billDate}, ${who}**`,
      `${totals.billRows} rows, ${counts.MATCHED} matched; ${counts.unresolved} open, ${counts.resolved} settled by a query`,
      `amount ${counts.AMOUNT_MISMATCH} · identity ${counts.IDENTITY_MISMATCH} · status ${counts.STATUS_DIFFERENCE} · ` +
        `missing locally ${counts.MISSING_LOCALLY} · missing in bill ${counts.MISSING_IN_BILL} · total ${counts.TOTAL_MISMATCH}`,
      `report: ${result.report.report} (sha256 ${result.report.sha256.slice(0, 16)}…)`,
    ].join('\n\n'),
  );
  if (counts.unresolved > 0) {
    wf.log.warn('reconciliation found discrepancies', { mchid: input.mchid, billDate, open: counts.unresolved });
    // The order service hears of it too (a signed event, when it has an events target); its being down for a while
    // does not fail the reconciliation, whose result and metric already carry the alert.
    await announceReconciliation({ result, created: Math.floor(Date.now() / 1000) }).catch((err: unknown) =>
      wf.log.warn('reconciliation event not delivered', { error: String(err) }),
    );
  }
  return result;
}
