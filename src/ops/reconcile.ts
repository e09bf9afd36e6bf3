/**
 * `npm run ops -- reconcile`: one merchant's reconciliation of one day, run now (the same workflow the daily schedule
 * starts), and its readable summary. The workflow ID names the merchant and the day, so asking twice while it runs
 * waits for the same run; once it has ended, asking again reconciles again (a bill fetched anew).
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { ReconcileDayResult } from '../reconciliation/reconcile-day';
import { reconciliationRunId } from '../reconciliation/schedules';
import type { reconciliationWorkflow } from '../workflows/reconciliation';

export interface ReconcileNowInput {
  mchid: string;
  subMchid?: string;
  billDate: string;
  taskQueue: string;
  /** Tests: how long to wait before asking again for a bill that is not published yet. */
  retryIntervalMs?: number;
}

export function reconcileNow(client: Client, input: ReconcileNowInput): Promise<ReconcileDayResult> {
  const { taskQueue, ...args } = input;
  return client.workflow.execute<typeof reconciliationWorkflow>('reconciliationWorkflow', {
    taskQueue,
    workflowId: reconciliationRunId(input, input.billDate),
    args: [args],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    staticSummary: `Refund reconciliation of ${input.mchid}${input.subMchid ? `/${input.subMchid}` : ''} for ${input.billDate}`,
  });
}

/** The report's summary.txt when this machine can read it (the worker wrote it), else the counts. */
export function readSummary(result: ReconcileDayResult): string {
  try {
    return `${readFileSync(result.report.summary, 'utf8').trimEnd()}\n\nreport: ${result.report.report}`;
  } catch {
    const c = result.counts;
    return (
      `reconciliation of ${result.mchid} for ${result.billDate}: ${result.totals.billRows} rows, ${c.MATCHED} matched, ` +
      `${c.unresolved} open, ${c.resolved} settled by a query; report on the worker at ${result.report.report}`
    );
  }
}
