/**
 * A reconciliation's report, outside workflow history (a bill of 100,000 rows must not bloat it): one JSON line per
 * finding (`report.jsonl`, matched rows included, so finance can audit every row) and a readable `summary.txt`, in
 * `<reportsDir>/<mchid>[-<sub_mchid>]/<bill date>/`. The workflow keeps only the counts and this reference (paths and
 * the SHA-256 of the report).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Finding, FindingKind } from './compare';

export type FindingCounts = Record<FindingKind, number> & { resolved: number; unresolved: number };

export interface ReportReference {
  dir: string;
  report: string;
  summary: string;
  /** SHA-256 (hex) of report.jsonl: the reference a history keeps. */
  sha256: string;
  bill: string;
}

export function reportDir(reportsDir: string, mchid: string, billDate: string, subMchid?: string): string {
  return path.join(reportsDir, subMchid ? `${mchid}-${subMchid}` : mchid, billDate);
}

export function emptyCounts(): FindingCounts {
  return {
    MATCHED: 0,
    AMOUNT_MISMATCH: 0,
    IDENTITY_MISMATCH: 0,
    STATUS_DIFFERENCE: 0,
    MISSING_LOCALLY: 0,
    MISSING_IN_BILL: 0,
    TOTAL_MISMATCH: 0,
    resolved: 0,
    unresolved: 0,
  };
}

/** Streams findings to report.jsonl (with backpressure) and counts them. */
export class ReportWriter {
  readonly counts = emptyCounts();
  private readonly out: WriteStream;
  private readonly hash = createHash('sha256');

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.out = createWriteStream(path.join(dir, 'report.jsonl'));
  }

  async add(finding: Finding): Promise<void> {
    this.counts[finding.kind] += 1;
    if (finding.kind !== 'MATCHED') this.counts[finding.resolved ? 'resolved' : 'unresolved'] += 1;
    const line = `${JSON.stringify(finding)}\n`;
    this.hash.update(line);
    if (!this.out.write(line)) await once(this.out, 'drain');
  }

  /** Closes the report and writes the summary; returns the reference the workflow keeps. */
  async close(summaryText: string): Promise<ReportReference> {
    this.out.end();
    await once(this.out, 'finish');
    const summary = path.join(this.dir, 'summary.txt');
    writeFileSync(summary, summaryText);
    return {
      dir: this.dir,
      report: path.join(this.dir, 'report.jsonl'),
      summary,
      sha256: this.hash.digest('hex'),
      bill: path.join(this.dir, 'bill.csv'),
    };
  }
}

/** The readable summary: what finance reads first. */
export function summaryText(args: {
  mchid: string;
  subMchid?: string;
  billDate: string;
  counts: FindingCounts;
  totals: { billRows: number; billSumFen: number; engineSumFen: number };
  billSha1: string;
  discrepancies: Finding[];
}): string {
  const { counts, totals } = args;
  const yuan = (fen: number) => `¥${(fen / 100).toFixed(2)}`;
  const lines = [
    `Refund reconciliation of merchant ${args.mchid}${args.subMchid ? ` (sub-merchant ${args.subMchid})` : ''}, ` +
      `bill of ${args.billDate} (Beijing time)`,
    `bill: ${totals.billRows} rows, ${yuan(totals.billSumFen)} refunded (SHA1 ${args.billSha1})`,
    `engine: ${yuan(totals.engineSumFen)} refunded that day`,
    '',
    `matched            ${counts.MATCHED}`,
    `amount mismatch    ${counts.AMOUNT_MISMATCH}`,
    `identity mismatch  ${counts.IDENTITY_MISMATCH}`,
    `status difference  ${counts.STATUS_DIFFERENCE}`,
    `missing locally    ${counts.MISSING_LOCALLY}`,
    `missing in bill    ${counts.MISSING_IN_BILL}`,
    `total mismatch     ${counts.TOTAL_MISMATCH}`,
    `settled by a query ${counts.resolved}`,
    `open               ${counts.unresolved}`,
    '',
    ...(args.discrepancies.length === 0
      ? ['Every row matched.']
      : args.discrepancies.map(
          (f) =>
            `${f.resolved ? 'settled' : 'OPEN   '} ${f.kind.padEnd(17)} ${f.outRefundNo}: ${f.detail}` +
            (f.resolved ? ` — ${f.resolved.evidence}` : ''),
        )),
  ];
  return `${lines.join('\n')}\n`;
}
