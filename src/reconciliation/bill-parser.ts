/**
 * Streaming parser of WeChat Pay's refund bills, v2 `REFUND` and v3 `bill_type=REFUND` alike (docs/wechatpay-protocol.md
 * §12.3): one header row, the detail rows, a summary header (first column 总交易单数) and one summary row; every field
 * of the data rows begins with a backtick; amounts are yuan with two decimals.
 *
 * - CSV tokenising is csv-parse's (quotes, CRLF, a BOM, multi-byte characters split across chunks). Quotes inside a
 *   field (a product name like `13" 屏`) are kept as text (`relax_quotes`); column counts are checked here, per row,
 *   because the summary rows legitimately have fewer columns than the detail rows.
 * - Columns are found by header name (src/reconciliation/bill-columns.ts), never by position.
 * - Amounts go through yuanToFen (exact string arithmetic), statuses are normalised, times must look like times: a
 *   column that moved shows up as an error on its first row instead of as silently wrong numbers.
 * - The summary is checked against the detail rows (row count, 退款总金额, and 申请退款总金额 where both sides have
 *   it). Rows are yielded as they are read (the bill may have 100,000 of them), so a disagreeing summary is reported
 *   when the iteration reaches it, by throwing: a consumer must treat what it received before as unverified until
 *   the loop ends normally.
 * - Every error is a {@link BillFormatError} naming the line and, where there is one, the column.
 */
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { z } from 'zod';
import {
  AMOUNT_FIELDS,
  BILL_REFUND_STATUS,
  SUMMARY_COLUMNS,
  SUMMARY_FIRST_COLUMN,
  mapBillHeader,
  type BillField,
  type ColumnMap,
} from './bill-columns';
import type { BillRow, BillSummary } from './types';
import { YuanFormatError, yuanToFen } from './yuan';

/** The file is not a refund bill as §12.3 describes it, or its summary disagrees with its rows. */
export class BillFormatError extends Error {
  constructor(
    /** What is wrong, without the position. */
    readonly reason: string,
    /** 1-based line of the (decompressed) file, when the error belongs to one. */
    readonly line?: number,
    /** Header name of the column at fault, when there is one. */
    readonly column?: string,
    source?: string,
  ) {
    const where = [source, line === undefined ? undefined : `line ${line}`, column && `column ${column}`]
      .filter(Boolean)
      .join(', ');
    super(`refund bill${where ? ` (${where})` : ''}: ${reason}`);
    this.name = 'BillFormatError';
  }
}

export interface ParseRefundBillOptions {
  /** Names the bill in error messages (e.g. the file path, or `1900000109 2026-11-30`). */
  source?: string;
}

/**
 * What {@link parseRefundBill} returns. Iterate `rows` once (`for await`); `summary` resolves when that iteration has
 * read and checked the summary row, and rejects with the iteration's error (or when the loop stops early). Awaiting
 * `summary` without iterating `rows` waits forever: nothing reads the file.
 */
export interface RefundBill {
  rows: AsyncIterable<BillRow>;
  summary: Promise<BillSummary>;
}

/** Parses a decompressed refund bill from `input` (bytes or text, UTF-8), row by row, with bounded memory. */
export function parseRefundBill(input: NodeJS.ReadableStream, opts: ParseRefundBillOptions = {}): RefundBill {
  let settle!: { resolve: (s: BillSummary) => void; reject: (e: unknown) => void };
  const summary = new Promise<BillSummary>((resolve, reject) => (settle = { resolve, reject }));
  // A caller that only iterates (and sees the error there) must not also get an unhandled rejection.
  summary.catch(() => undefined);
  let started = false;
  const rows: AsyncIterable<BillRow> = {
    [Symbol.asyncIterator]() {
      if (started) throw new Error('a refund bill can be iterated only once (it is a stream)');
      started = true;
      return readBill(input, opts.source, settle)[Symbol.asyncIterator]();
    },
  };
  return { rows, summary };
}

const BILL_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const COUNT = /^(0|[1-9]\d{0,8})$/;
const STATUSES_WRITTEN = Object.keys(BILL_REFUND_STATUS).join(', ');

/** Yuan text → fen, the reason of a refusal becoming a zod issue (so it is reported with its column). */
const fen = z.string().transform((text, ctx) => {
  try {
    return yuanToFen(text, 'amount');
  } catch (e) {
    if (!(e instanceof YuanFormatError)) throw e;
    ctx.addIssue({ code: 'custom', message: e.reason });
    return z.NEVER;
  }
});
const text = z.string({ error: 'is empty' }).min(1, 'is empty');
const time = z.string().regex(BILL_TIME, 'is not a time written YYYY-MM-DD HH:mm:ss');

/**
 * A detail row, from the raw field texts (backtick stripped; an empty field is absent). Optional fields are optional
 * because older files lack the column, not because an empty value is fine where WeChat always writes one.
 */
const detailRow = z.object({
  tradeTime: time.optional(),
  mchid: text,
  subMchid: z.string().optional(),
  transactionId: z.string().optional(),
  outTradeNo: text,
  refundId: z.string().optional(),
  outRefundNo: text,
  refundFen: z.string({ error: 'is empty' }).pipe(fen),
  requestedRefundFen: fen.optional(),
  orderFen: fen.optional(),
  refundRequestedAt: time.optional(),
  refundSucceededAt: time.optional(),
  refundType: z.string().optional(),
  refundStatus: z.string({ error: 'is empty' }).transform((s, ctx) => {
    const status = BILL_REFUND_STATUS[s];
    if (status) return status;
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not one of ${STATUSES_WRITTEN}` });
    return z.NEVER;
  }),
});

/** Removes the protective backtick (§12.3) and surrounding spaces. Header rows have no backtick; that is fine too. */
function clean(field: string): string {
  const t = field.trim();
  return t.startsWith('`') ? t.slice(1).trim() : t;
}

interface CsvRecord {
  fields: string[];
  line: number;
}

async function* readBill(
  input: NodeJS.ReadableStream,
  source: string | undefined,
  settle: { resolve: (s: BillSummary) => void; reject: (e: unknown) => void },
): AsyncGenerator<BillRow> {
  const fail = (reason: string, line?: number, column?: string) => new BillFormatError(reason, line, column, source);
  const csv = parse({
    bom: true,
    info: true,
    relax_quotes: true,
    relax_column_count: true, // checked below: the summary rows are shorter than the detail rows
    skip_empty_lines: true,
  });
  // pipeline: an error of `input` (a truncated download, a gunzip failure) ends the iteration with that error.
  pipeline(input, csv, () => undefined);
  const records = (async function* (): AsyncGenerator<CsvRecord> {
    try {
      for await (const r of csv as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        yield { fields: r.record.map(clean), line: r.info.lines };
      }
    } catch (e) {
      if (e instanceof CsvError) {
        const line = typeof e.lines === 'number' ? e.lines : undefined;
        throw fail(`not valid CSV: ${e.message}`, line);
      }
      throw e;
    }
  })();

  try {
    const first = await records.next();
    if (first.done) throw fail('the file is empty (no header row)');
    const header = first.value;
    if (header.fields[0] === SUMMARY_FIRST_COLUMN) {
      throw fail('the file starts with the summary header: there is no detail header row', header.line);
    }
    const { columns, missing, duplicated } = mapBillHeader(header.fields);
    if (missing.length) throw fail(`the header has no column ${missing.join(', ')}`, header.line);
    if (duplicated.length) throw fail(`the header has the column ${duplicated.join(', ')} twice`, header.line);

    let count = 0;
    let refundTotalFen = 0;
    let requestedTotalFen = 0;
    let everyRowHasRequested = columns.requestedRefundFen !== undefined;
    let summaryHeader: CsvRecord | undefined;
    // records.next() rather than for-await: leaving a for-await loop would close the generator the summary is read from.
    for (let next = await records.next(); !next.done; next = await records.next()) {
      const rec = next.value;
      if (rec.fields[0] === SUMMARY_FIRST_COLUMN) {
        summaryHeader = rec;
        break;
      }
      if (rec.fields.length !== header.fields.length) {
        throw fail(
          `${rec.fields.length} columns where the header (line ${header.line}) has ${header.fields.length}`,
          rec.line,
        );
      }
      const row = toRow(rec, columns, fail);
      count++;
      refundTotalFen += row.refundFen;
      if (row.requestedRefundFen === undefined) everyRowHasRequested = false;
      else requestedTotalFen += row.requestedRefundFen;
      yield row;
    }
    if (!summaryHeader) throw fail(`the file ends without the summary header (${SUMMARY_FIRST_COLUMN}, …)`);

    const summaryRow = await records.next();
    if (summaryRow.done) throw fail('the file ends after the summary header, without the summary row');
    const { summary, columns: summaryColumns } = toSummary(summaryHeader, summaryRow.value, fail);
    const extra = await records.next();
    if (!extra.done) throw fail('unexpected content after the summary row', extra.value.line);

    const at = summaryRow.value.line;
    if (!Number.isSafeInteger(refundTotalFen)) throw fail('the sum of 退款金额 is too large to be exact');
    if (summary.rows !== count) {
      throw fail(`the summary says ${summary.rows} rows, the file has ${count}`, at, summaryColumns.rows);
    }
    if (summary.refundTotalFen !== refundTotalFen) {
      throw fail(
        `the summary says ${summary.refundTotalFen} fen, the rows' 退款金额 add up to ${refundTotalFen} fen`,
        at,
        summaryColumns.refundTotalFen,
      );
    }
    if (everyRowHasRequested && summary.requestedRefundTotalFen !== undefined) {
      if (summary.requestedRefundTotalFen !== requestedTotalFen) {
        throw fail(
          `the summary says ${summary.requestedRefundTotalFen} fen, the rows' 申请退款金额 add up to ${requestedTotalFen} fen`,
          at,
          summaryColumns.requestedRefundTotalFen,
        );
      }
    }
    settle.resolve(summary);
  } catch (e) {
    settle.reject(e);
    throw e;
  } finally {
    // Stopped early by the consumer (break/return): no summary; a no-op when already settled.
    settle.reject(fail('the rows were not read to the end, so the summary was not checked'));
    // Early exit (break, or an error above): stop reading, release the file.
    csv.destroy();
  }
}

function toRow(
  rec: CsvRecord,
  columns: ColumnMap,
  fail: (reason: string, line?: number, column?: string) => BillFormatError,
): BillRow {
  const raw: Partial<Record<BillField, string>> = {};
  for (const [field, at] of Object.entries(columns) as [BillField, { index: number }][]) {
    const value = rec.fields[at.index];
    if (value !== '') raw[field] = value;
  }
  // Merchant bills have no sub-merchant; some files write 0 for it (§12.3).
  if (raw.subMchid === '0') delete raw.subMchid;
  const parsed = detailRow.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path[0] as BillField;
    const column = columns[field]?.name ?? String(field);
    const value = raw[field];
    const shown =
      value === undefined || AMOUNT_FIELDS.has(field) || field === 'refundStatus' ? '' : ` (${JSON.stringify(value)})`;
    throw fail(`${issue.message}${shown}`, rec.line, column);
  }
  const row: BillRow = { line: rec.line, ...parsed.data };
  // Keep the objects small and their keys stable: drop absent optionals zod left as explicit undefined.
  for (const k of Object.keys(row) as (keyof BillRow)[]) if (row[k] === undefined) delete row[k];
  return row;
}

/** The summary row, and the header names its figures were read from (for error messages). */
interface ReadSummary {
  summary: BillSummary;
  columns: Record<keyof BillSummary, string>;
}

function toSummary(
  header: CsvRecord,
  row: CsvRecord,
  fail: (reason: string, line?: number, column?: string) => BillFormatError,
): ReadSummary {
  if (row.fields.length !== header.fields.length) {
    throw fail(
      `${row.fields.length} columns where the summary header (line ${header.line}) has ${header.fields.length}`,
      row.line,
    );
  }
  /** The first of `names` that the summary header has, and its value in the summary row. */
  const find = (names: readonly string[]) => {
    const i = header.fields.findIndex((f) => names.includes(f));
    return i < 0 ? undefined : { name: header.fields[i], value: row.fields[i] };
  };
  const amount = (names: readonly string[]) => {
    const col = find(names);
    if (col === undefined) return undefined;
    try {
      return { name: col.name, fen: yuanToFen(col.value, col.name) };
    } catch (e) {
      if (e instanceof YuanFormatError) throw fail(e.reason, row.line, col.name);
      throw e;
    }
  };
  const rows = find(SUMMARY_COLUMNS.rows)!; // the summary header is recognised by this very column
  if (!COUNT.test(rows.value)) throw fail(`${JSON.stringify(rows.value)} is not a row count`, row.line, rows.name);
  const refundTotal = amount(SUMMARY_COLUMNS.refundTotalFen);
  if (refundTotal === undefined) {
    throw fail(`the summary header has no column ${SUMMARY_COLUMNS.refundTotalFen.join(' / ')}`, header.line);
  }
  const requestedTotal = amount(SUMMARY_COLUMNS.requestedRefundTotalFen);
  return {
    summary: {
      rows: Number(rows.value),
      refundTotalFen: refundTotal.fen,
      ...(requestedTotal === undefined ? {} : { requestedRefundTotalFen: requestedTotal.fen }),
    },
    columns: {
      rows: rows.name,
      refundTotalFen: refundTotal.name,
      requestedRefundTotalFen: requestedTotal?.name ?? SUMMARY_COLUMNS.requestedRefundTotalFen[0],
    },
  };
}
