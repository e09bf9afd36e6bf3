/**
 * One merchant's refund bill of one day, reconciled (docs/reconciliation.md): the activity body behind the
 * reconciliation workflow. Streams the whole way, so a bill of 100,000 rows costs a bounded amount of memory:
 *
 *   download (gateway: signed, SHA1-checked, decompressed to <report dir>/bill.csv)
 *   → the engine's refunds of the day (visibility)
 *   → each bill row compared as it is parsed (compare.ts), matched rows straight to report.jsonl
 *   → what a query can settle (a status snapshot, a day boundary) asked of WeChat, at a bounded rate
 *   → the discrepancies appended, summary.txt written; counts and the report's reference returned.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { RefundGateway, RefundRecord } from '../wechatpay/gateway';
import { isWechatPayError } from '../wechatpay/errors';
import type { DownloadedBill } from './types';
import { stateFromWechatStatus } from '../domain/status';
import { parseRefundBill } from './bill-parser';
import { beijingDate, BillComparison, reachedWechat, type Finding } from './compare';
import { engineRefundsOfDay } from './engine-records';
import { ReportWriter, reportDir, summaryText, type FindingCounts, type ReportReference } from './report';

export interface ReconcileDayInput {
  mchid: string;
  /** Partner mode: reconcile this sub-merchant's bill. */
  subMchid?: string;
  billDate: string;
}

export interface ReconcileDayResult {
  mchid: string;
  subMchid?: string;
  billDate: string;
  counts: FindingCounts;
  totals: { billRows: number; billSumFen: number; engineSumFen: number };
  billSha1: string;
  report: ReportReference;
  /** The first open discrepancies (at most 20), for the workflow's result and the Web UI. */
  open: Array<Pick<Finding, 'kind' | 'outRefundNo' | 'detail'>>;
}

export interface ReconcileDayDeps {
  gateway: RefundGateway;
  client: Client;
  /** Is `mchid` the deployment's default merchant (its refunds' IDs name no merchant)? */
  isDefault: boolean;
  reportsDir: string;
  /** WeChat queries per second this reconciliation may spend settling findings (out of the merchant's budget). */
  queriesPerSecond?: number;
  /**
   * The webhook's orphan records (src/webhook/orphans.ts: notifications for refunds the engine does not know), when
   * this worker can read them: a refund missing locally that WeChat also notified about is noted as such.
   */
  orphanLogPath?: string;
  /** The current time (tests). */
  now?: () => number;
  /** Called with progress, so a long run is heartbeated. */
  progress?: (what: string) => void;
}

const OPEN_SAMPLE = 20;

export async function reconcileDay(deps: ReconcileDayDeps, input: ReconcileDayInput): Promise<ReconcileDayResult> {
  const { gateway, client, progress = () => undefined } = deps;
  const dir = reportDir(deps.reportsDir, input.mchid, input.billDate, input.subMchid);
  const engineOfDay = () =>
    engineRefundsOfDay(client, { mchid: input.mchid, isDefault: deps.isDefault, billDate: input.billDate });
  let bill: DownloadedBill;
  try {
    bill = await gateway.downloadRefundBill({
      billDate: input.billDate,
      subMchid: input.subMchid,
      destFile: path.join(dir, 'bill.csv'),
    });
  } catch (err) {
    // WeChat makes no refund bill for a day without refunds: "no bill" long after publication time, with no refund
    // of the engine's either, is an empty day, not a bill still to come.
    if (!(isWechatPayError(err) && err.code === 'BILL_NOT_READY') || !billLongOverdue(input.billDate, deps.now?.())) {
      throw err;
    }
    const quiet = await engineOfDay();
    if (quiet.inDay.some((r) => reachedWechat(r.state))) throw err;
    bill = writeEmptyBill(path.join(dir, 'bill.csv'), gateway.apiVersion);
    progress('no bill published, and no refund of the engine that day: an empty day');
  }
  progress(`bill downloaded: ${bill.bytes} bytes, SHA1 ${bill.sha1}`);

  const engine = await engineOfDay();
  progress(`engine: ${engine.inDay.length} refunds that day`);

  const comparison = new BillComparison(
    input.subMchid
      ? engine.inDay.filter((r) => r.subMchid === undefined || r.subMchid === input.subMchid)
      : engine.inDay,
    { nearby: engine.nearby },
  );
  const report = new ReportWriter(dir);
  const toSettle: Finding[] = [];
  const discrepancies: Finding[] = [];
  const parsed = parseRefundBill(createReadStream(bill.path), { source: bill.path });
  let n = 0;
  for await (const row of parsed.rows) {
    const finding = comparison.row(row);
    if (finding.kind === 'MATCHED') await report.add(finding);
    else (finding.needsQuery ? toSettle : discrepancies).push(finding);
    if (++n % 10_000 === 0) progress(`${n} rows compared`);
  }
  const summary = await parsed.summary;
  for (const f of comparison.finish(summary, input.billDate)) (f.needsQuery ? toSettle : discrepancies).push(f);

  await settleByQuery(gateway, toSettle, input, deps.queriesPerSecond ?? 10, progress);
  noteOrphans(discrepancies, deps.orphanLogPath);
  for (const f of [...toSettle, ...discrepancies]) await report.add(f);
  const all = [...toSettle, ...discrepancies];
  const totals = comparison.totals();
  const reference = await report.close(
    summaryText({ ...input, counts: report.counts, totals, billSha1: bill.sha1, discrepancies: all }),
  );
  return {
    mchid: input.mchid,
    ...(input.subMchid ? { subMchid: input.subMchid } : {}),
    billDate: input.billDate,
    counts: report.counts,
    totals,
    billSha1: bill.sha1,
    report: reference,
    open: all
      .filter((f) => !f.resolved)
      .slice(0, OPEN_SAMPLE)
      .map(({ kind, outRefundNo, detail }) => ({ kind, outRefundNo, detail })),
  };
}

/** Bills are published at 10:00 Beijing time the next day; six hours later a missing one will not come. */
export function billLongOverdue(billDate: string, nowMs = Date.now()): boolean {
  return nowMs > Date.parse(`${billDate}T16:00:00+08:00`) + 86_400_000;
}

/** The bill of a day without refunds: a header, no rows, a zero summary (the parser reads it like any bill). */
function writeEmptyBill(file: string, apiVersion: 'v3' | 'v2'): DownloadedBill {
  const text = '交易时间,商户号,商户订单号,商户退款单号,退款金额,退款状态\r\n总交易单数,退款总金额\r\n`0,`0.00\r\n';
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return {
    path: file,
    sha1: createHash('sha1').update(text).digest('hex'),
    bytes: Buffer.byteLength(text),
    apiVersion,
  };
}

/** Refunds missing locally that the webhook recorded as orphans: the notification reached us, the refund never did. */
function noteOrphans(findings: Finding[], orphanLogPath: string | undefined): void {
  const missing = new Map(findings.filter((f) => f.kind === 'MISSING_LOCALLY').map((f) => [f.outRefundNo, f]));
  if (missing.size === 0 || !orphanLogPath || !existsSync(orphanLogPath)) return;
  for (const line of readFileSync(orphanLogPath, 'utf8').split('\n')) {
    if (!line) continue;
    let record: { outRefundNo?: string; receivedAt?: string; status?: string };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      continue; // a torn last line of a file being appended to
    }
    const finding = record.outRefundNo ? missing.get(record.outRefundNo) : undefined;
    if (finding)
      finding.detail += `; the webhook recorded its ${record.status} notification at ${record.receivedAt} as an orphan`;
  }
}

/**
 * Asks WeChat about each finding a query can settle, one at a time at `perSecond` at most:
 * - a status difference is settled when WeChat's record now agrees with the engine (the bill was a snapshot);
 * - a refund missing in the bill is settled when WeChat accepted it on another Beijing day (it is in that day's bill).
 */
async function settleByQuery(
  gateway: RefundGateway,
  findings: Finding[],
  input: ReconcileDayInput,
  perSecond: number,
  progress: (what: string) => void,
): Promise<void> {
  const gapMs = 1_000 / perSecond;
  for (const [i, finding] of findings.entries()) {
    if (finding.outRefundNo === '*') continue;
    const started = Date.now();
    let record: RefundRecord | null;
    try {
      record = await gateway.queryRefund({
        outRefundNo: finding.outRefundNo,
        subMchid: finding.bill?.subMchid ?? input.subMchid,
      });
    } catch (err) {
      finding.detail += `; the query failed (${(err as Error).message}), so it stays open`;
      continue;
    }
    settle(finding, record, input.billDate);
    if (i % 100 === 99) progress(`${i + 1} of ${findings.length} findings queried`);
    const wait = gapMs - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** Marks a finding settled when WeChat's current record explains it (see settleByQuery). */
export function settle(finding: Finding, record: RefundRecord | null, billDate: string): void {
  if (!record) {
    finding.detail += '; WeChat has no refund with this number';
    return;
  }
  const now = stateFromWechatStatus(record.status);
  if (finding.kind === 'STATUS_DIFFERENCE') {
    if (finding.engine && now === finding.engine.state) {
      finding.resolved = {
        by: 'query',
        evidence: `WeChat now says ${record.status}, as the engine does (the bill's ${finding.bill?.refundStatus} was a snapshot)`,
      };
    } else finding.detail += `; WeChat now says ${record.status}`;
    return;
  }
  if (finding.kind === 'MISSING_IN_BILL') {
    const acceptedOn = record.createTime ? beijingDate(record.createTime) : undefined;
    if (acceptedOn && acceptedOn !== billDate) {
      finding.resolved = {
        by: 'query',
        evidence: `WeChat accepted it on ${acceptedOn}: it belongs to that day's bill`,
      };
    } else finding.detail += `; WeChat has it (${record.status}, accepted ${record.createTime ?? 'on an unknown day'})`;
  }
}
