/**
 * The demo's last act (docs/reconciliation.md): a refund made "in the merchant portal" (the simulator's admin API,
 * so the engine never sees it), then each demo merchant's reconciliation of the simulated day against WeChat's refund
 * bill, through the same workflow the daily schedule runs. Every refund of this run must be matched, and the portal
 * refund flagged as missing locally.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { StackConfig } from '../../config/stack-config';
import { DEFAULT_STACK_CONFIG_PATH, resolveStackPath } from '../../config/stack-paths';
import { reconcileNow } from '../../ops/reconcile';
import { beijingDate, type Finding } from '../../reconciliation/compare';
import type { ReconcileDayResult } from '../../reconciliation/reconcile-day';
import type { SimulatorAdminClient } from '../../simulator/admin-client';
import { SimulatorPersistence } from '../../simulator/persistence';
import { DEMO_MCHID, DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID, DEMO_V2_MCHID } from './demo-paths';

/** The merchants the demo reconciles: the default (v3), the v2 one, and the provider's sub-merchant. */
const RECONCILED = [
  { mchid: DEMO_MCHID },
  { mchid: DEMO_V2_MCHID },
  { mchid: DEMO_PROVIDER_MCHID, subMchid: DEMO_SUB_MCHID },
];

/**
 * Bills are by the simulated day, the engine's records by the real one: they are the same day only if the simulated
 * WeChat's clock starts at real time. A state file left by an earlier run resumes its clock days ahead (one simulated
 * day per 10 s of demo), so it is set aside (renamed, not deleted) and the simulated WeChat starts afresh.
 */
export function freshSimulatorClock(cfg: StackConfig, log: (line: string) => void): void {
  if (!cfg.simulator.stateFile) return;
  const file = resolveStackPath(DEFAULT_STACK_CONFIG_PATH, cfg.simulator.stateFile);
  if (!existsSync(file)) return;
  const stored = new SimulatorPersistence(file);
  const clockNow = stored.load()?.clockNow;
  stored.close();
  if (clockNow !== undefined && clockNow - Date.now() > 3_600_000) {
    const aside = `${file}.${new Date().toISOString().replace(/[:.]/g, '')}`;
    renameSync(file, aside);
    log(
      `the simulated WeChat's clock had run ${Math.round((clockNow - Date.now()) / 86_400_000)} days ahead in an earlier run: its state was set aside (${aside})`,
    );
  }
}

/** A paid order refunded in the merchant portal: WeChat has it, the engine does not. */
export async function portalRefund(admin: SimulatorAdminClient, runId: string, paidAt: string): Promise<string> {
  const outTradeNo = `${runId}PORTAL`;
  await admin.seedOrder({ mchid: DEMO_MCHID, outTradeNo, totalFen: 1_500, paidAt, payer: { bankType: 'OTHERS' } });
  const outRefundNo = `${runId}PORTAL-1`;
  await admin.portalRefund({ mchid: DEMO_MCHID, outTradeNo, outRefundNo, refundFen: 1_500, reason: '门店退款' });
  return outRefundNo;
}

export interface DemoReconciliation {
  billDate: string;
  results: ReconcileDayResult[];
  /** This run's open findings (not matched, not settled by a query), other than the portal refund's. */
  unexpected: Finding[];
  portalFlagged: boolean;
  /** Findings about refunds of earlier demo runs (same real day, a simulated WeChat started afresh). */
  earlierRuns: number;
}

export async function reconcileDemoDay(args: {
  client: Client;
  admin: SimulatorAdminClient;
  taskQueue: string;
  runId: string;
  /** Simulated time at which the run's refunds were requested. */
  requestedAt: string;
  portalRefundNo: string;
}): Promise<DemoReconciliation> {
  const { client, admin, runId } = args;
  const billDate = beijingDate(args.requestedAt);
  // The bill of day D is published at 10:00 Beijing time on D+1 (simulated).
  const ready = Date.parse(`${billDate}T10:05:00+08:00`) + 86_400_000;
  if ((await admin.clock()).nowMs < ready) await admin.advance({ to: new Date(ready).toISOString() });
  const results: ReconcileDayResult[] = [];
  for (const m of RECONCILED) {
    results.push(await reconcileNow(client, { ...m, billDate, taskQueue: args.taskQueue, retryIntervalMs: 2_000 }));
  }
  const findings = results.flatMap((r) =>
    readFileSync(r.report.report, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding),
  );
  const mine = findings.filter((f) => f.outRefundNo.startsWith(runId));
  return {
    billDate,
    results,
    portalFlagged: mine.some((f) => f.outRefundNo === args.portalRefundNo && f.kind === 'MISSING_LOCALLY'),
    // Settled by a query is not a discrepancy: e.g. a refund of the cap path queued past midnight, in the next bill.
    unexpected: mine.filter((f) => f.kind !== 'MATCHED' && !f.resolved && f.outRefundNo !== args.portalRefundNo),
    earlierRuns: findings.filter(
      (f) => !f.outRefundNo.startsWith(runId) && f.outRefundNo !== '*' && f.kind !== 'MATCHED' && !f.resolved,
    ).length,
  };
}

export function reconciliationLines(r: DemoReconciliation, portalRefundNo: string): string[] {
  const lines = [`reconciliation against WeChat's refund bills of ${r.billDate} (npm run ops -- reconcile):`];
  for (const x of r.results) {
    const c = x.counts;
    lines.push(
      `  ${x.mchid}${x.subMchid ? `/${x.subMchid}` : ''}`.padEnd(26) +
        ` ${String(x.totals.billRows).padStart(3)} bill rows, ${c.MATCHED} matched, ${c.unresolved} open` +
        `  (${x.report.summary})`,
    );
  }
  lines.push(
    `  ${r.portalFlagged ? '✔' : '✘'} ${portalRefundNo} (made in the merchant portal) flagged: missing locally`,
    `  ${r.unexpected.length === 0 ? '✔' : '✘'} every refund of this run that reached WeChat matched` +
      (r.unexpected.length ? `: ${r.unexpected.map((f) => `${f.outRefundNo} ${f.kind}`).join(', ')}` : ''),
  );
  for (const x of r.results) {
    const { billSumFen, engineSumFen } = x.totals;
    if (billSumFen !== engineSumFen) {
      lines.push(
        `  totals of ${x.mchid}: the bill ¥${(billSumFen / 100).toFixed(2)}, the engine ¥${(engineSumFen / 100).toFixed(2)}` +
          ' that day (the findings above say where they differ)',
      );
    }
  }
  if (r.earlierRuns > 0) lines.push(`  (${r.earlierRuns} open findings concern refunds of earlier demo runs)`);
  return lines;
}
