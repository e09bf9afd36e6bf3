/**
 * Bench 8: parsing a 100,000-row refund bill (src/reconciliation/bill-parser.ts), rows per second and peak memory,
 * next to the true floor measured in the same run: reading the same file line by line (node:readline) without
 * parsing anything. The file is generated once in WeChat's v3 format (§12.3: Chinese header, backtick fields, yuan
 * amounts, summary header and row; amounts and statuses vary from row to row).
 *
 * Each measurement runs in a fresh child process (`--child readline|parse`), so one side's heap never inflates the
 * other's RSS; rounds alternate which side goes first. RSS is sampled every 1,000 rows (and at the end); "growth" is
 * peak − the RSS just before the file is opened. The parse side also checks what it read (row count, 退款总金额 in fen
 * against the generator's exact integer total), so a fast wrong parser cannot pass.
 *
 * A last run parses the file once more with V8's old space capped at CAPPED_OLD_SPACE_MIB: RSS growth includes
 * garbage the collector has not reclaimed yet (its slack grows with the allocation rate), so the capped run is the
 * proof that the parser does not need memory in proportion to the file (a parser that kept its rows would die of
 * "heap out of memory" there).
 *
 * Usage: npx ts-node --transpile-only bench/reconcile-bill.ts [--rows 100000] [--rounds 3]
 *   BENCH_ASSERT=1 fails the run when the parser's RSS growth reaches 100 MiB.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/config/tools';
import { parseRefundBill } from '../src/reconciliation/bill-parser';
import { BillComparison, type EngineRefund } from '../src/reconciliation/compare';
import { ReportWriter } from '../src/reconciliation/report';
import { emitResult, intFlag, round, runMain } from './support/util';

type Side = 'readline' | 'parse' | 'reconcile';

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
  '应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,' +
  '商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
/** ts-node and its TypeScript compiler alone hold ~25 MiB of live heap; 64 leaves the parser a few tens of MiB. */
const CAPPED_OLD_SPACE_MIB = 64;
const STATUSES = ['SUCCESS', 'SUCCESS', 'SUCCESS', 'PROCESSING', 'REFUNDCLOSE', 'CHANGE'];

const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;

/** Writes a v3 refund bill of `rows` rows (with backpressure: never in memory); returns the exact totals in fen. */
async function writeBill(file: string, rows: number): Promise<{ refundTotalFen: number; bytes: number }> {
  const out = createWriteStream(file);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(HEADER + '\n');
  let refundTotalFen = 0;
  for (let i = 0; i < rows; i++) {
    const refundFen = 1 + ((i * 7919) % 500_000); // 0.01 … 5000.00 yuan
    const orderFen = refundFen + (i % 3) * 100;
    refundTotalFen += refundFen;
    const n = String(i).padStart(10, '0');
    const status = STATUSES[i % STATUSES.length];
    const fields = [
      '2026-11-29 18:02:11',
      'wx8888888888888888',
      '1900000100',
      '1900000109',
      '',
      `42000022342026112900${n.slice(2)}`,
      `P${n}`,
      'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      'JSAPI',
      'REFUND',
      'OTHERS',
      'CNY',
      yuan(orderFen),
      '0.00',
      `2026-11-30 ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00`,
      status === 'SUCCESS' ? '2026-11-30 23:59:59' : '',
      `503000000220261130${n}0`,
      `R${n}`,
      yuan(refundFen),
      '0.00',
      'ORIGINAL',
      status,
      `商品${i % 100}`,
      '',
      '0.00',
      '0.60%',
      yuan(orderFen),
      yuan(refundFen),
      '',
    ];
    await write(fields.map((f) => '`' + f).join(',') + '\n');
  }
  await write('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n');
  const t = yuan(refundTotalFen);
  await write(['`' + rows, '`0.00', '`' + t, '`0.00', '`0.00', '`0.00', '`' + t].join(',') + '\n');
  out.end();
  await once(out, 'finish');
  return { refundTotalFen, bytes: statSync(file).size };
}

interface ChildResult {
  side: Side;
  rows: number;
  ms: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  rssGrowthMiB: number;
  /** parse only: the summary's 退款总金额, to check against the generator. */
  refundTotalFen?: number;
}

/** The engine's record of generated row `i`, as it would agree with the bill. */
function engineRefundOf(i: number): EngineRefund {
  const n = String(i).padStart(10, '0');
  const status = STATUSES[i % STATUSES.length];
  return {
    outRefundNo: `R${n}`,
    outTradeNo: `P${n}`,
    refundFen: 1 + ((i * 7919) % 500_000),
    state: status === 'REFUNDCLOSE' ? 'CLOSED' : status === 'CHANGE' ? 'ABNORMAL' : status,
    workflowId: `refund-R${n}`,
    requestedAt: '2026-11-30T04:00:00.000Z',
  };
}

/** One measurement, in this (fresh) process: prints its result as one JSON line. */
async function child(side: Side, file: string): Promise<void> {
  const before = process.memoryUsage().rss;
  let peak = before;
  let rows = 0;
  let refundTotalFen: number | undefined;
  const t0 = process.hrtime.bigint();
  if (side === 'readline') {
    for await (const _line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (++rows % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
  } else if (side === 'parse') {
    const bill = parseRefundBill(createReadStream(file), { source: file });
    for await (const _row of bill.rows) {
      if (++rows % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    refundTotalFen = (await bill.summary).refundTotalFen;
  } else {
    // What the reconciliation activity does with a downloaded bill (reconcile-day.ts), minus the network: the
    // engine's refunds of the day in a map (one per row, as visibility would give them), every row compared as it is
    // parsed, matched findings streamed to report.jsonl.
    const expected = Number(process.env.BENCH_ROWS);
    const engine = Array.from({ length: expected }, (_, i) => engineRefundOf(i));
    peak = Math.max(peak, process.memoryUsage().rss);
    const comparison = new BillComparison(engine);
    const report = new ReportWriter(mkdtempSync(path.join(os.tmpdir(), 'wxrefund-bench-report-')));
    const bill = parseRefundBill(createReadStream(file), { source: file });
    for await (const row of bill.rows) {
      await report.add(comparison.row(row));
      if (++rows % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    refundTotalFen = (await bill.summary).refundTotalFen;
    for (const f of comparison.finish(await bill.summary, '2026-11-30')) await report.add(f);
    const closed = await report.close('bench');
    if (report.counts.MATCHED !== expected) throw new Error(`matched ${report.counts.MATCHED} of ${expected}`);
    rmSync(closed.dir, { recursive: true, force: true });
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  peak = Math.max(peak, process.memoryUsage().rss);
  const mib = (x: number) => round(x / 2 ** 20, 1);
  const result: ChildResult = {
    side,
    rows,
    ms: round(ms, 0),
    rssBeforeMiB: mib(before),
    peakRssMiB: mib(peak),
    rssGrowthMiB: mib(peak - before),
    ...(refundTotalFen === undefined ? {} : { refundTotalFen }),
  };
  console.log(JSON.stringify(result));
}

async function runChild(side: Side, file: string, nodeFlags: string[] = []): Promise<ChildResult> {
  const proc = spawn(
    process.execPath,
    [...nodeFlags, '-r', 'ts-node/register/transpile-only', __filename, '--child', side, '--file', file],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let last = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (last += s));
  const [code] = (await once(proc, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`--child ${side} exited with code ${code}`);
  return JSON.parse(last.trim().split('\n').pop()!) as ChildResult;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      rounds: { type: 'string' },
      child: { type: 'string' },
      file: { type: 'string' },
    },
  });
  if (values.child) return child(values.child as Side, values.file!);

  const rows = intFlag('rows', values.rows, 100_000);
  const rounds = intFlag('rounds', values.rounds, 3);
  process.env.BENCH_ROWS = String(rows); // the reconcile child builds one engine refund per row
  const dir = path.join(REPO_ROOT, '.data', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `refund-bill-${rows}-${process.pid}.csv`);
  const loadAvgBefore = os.loadavg().map((x) => round(x, 2));
  try {
    const generated = await writeBill(file, rows);
    console.log(`bill: ${rows} rows, ${round(generated.bytes / 2 ** 20, 1)} MiB, ${file}`);
    const runs: (ChildResult & { round: number; load1: number })[] = [];
    for (let r = 1; r <= rounds; r++) {
      const order: Side[] = r % 2 ? ['readline', 'parse', 'reconcile'] : ['reconcile', 'parse', 'readline'];
      for (const side of order) {
        const res = await runChild(side, file);
        if (side === 'readline' && res.rows !== rows + 3) {
          throw new Error(`readline counted ${res.rows} lines, expected ${rows + 3}`);
        }
        if (side !== 'readline' && (res.rows !== rows || res.refundTotalFen !== generated.refundTotalFen)) {
          throw new Error(
            `parser read ${res.rows} rows / ${res.refundTotalFen} fen, expected ${rows} / ${generated.refundTotalFen}`,
          );
        }
        const run = { ...res, round: r, load1: round(os.loadavg()[0], 2) };
        runs.push(run);
        console.log(
          `round ${r} ${side.padEnd(8)} ${String(run.ms).padStart(6)} ms  ${Math.round((res.rows / res.ms) * 1000)} rows/s  ` +
            `RSS ${res.rssBeforeMiB} → peak ${res.peakRssMiB} MiB (+${res.rssGrowthMiB})  load ${run.load1}`,
        );
      }
    }
    const summarise = (side: Side) => {
      const mine = runs.filter((x) => x.side === side);
      return {
        side,
        rowsPerSecond: Math.round(median(mine.map((x) => (rows / x.ms) * 1000))),
        medianMs: median(mine.map((x) => x.ms)),
        peakRssMiB: Math.max(...mine.map((x) => x.peakRssMiB)),
        maxRssGrowthMiB: Math.max(...mine.map((x) => x.rssGrowthMiB)),
      };
    };
    const parse = summarise('parse');
    const readline = summarise('readline');
    const reconcile = summarise('reconcile');
    const reconcileRatio = round(reconcile.rowsPerSecond / readline.rowsPerSecond, 3);
    const perRound = Array.from({ length: rounds }, (_, i) => {
      const p = runs.find((x) => x.round === i + 1 && x.side === 'parse')!;
      const l = runs.find((x) => x.round === i + 1 && x.side === 'readline')!;
      return round(l.ms / p.ms, 3);
    });
    const ratio = round(parse.rowsPerSecond / readline.rowsPerSecond, 3);
    const capped = await runChild('parse', file, [`--max-old-space-size=${CAPPED_OLD_SPACE_MIB}`]);
    if (capped.rows !== rows || capped.refundTotalFen !== generated.refundTotalFen) {
      throw new Error(`capped parse read ${capped.rows} rows / ${capped.refundTotalFen} fen`);
    }
    const cappedRun = {
      oldSpaceMiB: CAPPED_OLD_SPACE_MIB,
      ms: capped.ms,
      peakRssMiB: capped.peakRssMiB,
      rssGrowthMiB: capped.rssGrowthMiB,
    };
    console.log(
      `parse with old space capped at ${CAPPED_OLD_SPACE_MIB} MiB: ${capped.ms} ms, RSS ${capped.rssBeforeMiB} → peak ` +
        `${capped.peakRssMiB} MiB (+${capped.rssGrowthMiB})`,
    );
    console.log(
      `parse ${parse.rowsPerSecond} rows/s vs readline ${readline.rowsPerSecond} lines/s: ratio ${ratio} ` +
        `(per round ${perRound.join(', ')}); parser peak RSS ${parse.peakRssMiB} MiB, growth ≤ ${parse.maxRssGrowthMiB} MiB`,
    );
    console.log(
      `reconcile (parse + compare with ${rows} engine refunds + report) ${reconcile.rowsPerSecond} rows/s: ratio ` +
        `${reconcileRatio} to readline; peak RSS ${reconcile.peakRssMiB} MiB, growth ≤ ${reconcile.maxRssGrowthMiB} MiB`,
    );
    if (process.env.BENCH_ASSERT === '1' && parse.maxRssGrowthMiB >= 100) {
      throw new Error(`parser RSS growth ${parse.maxRssGrowthMiB} MiB ≥ 100 MiB`);
    }
    emitResult({
      bench: 'reconcile-bill',
      rows,
      fileMiB: round(generated.bytes / 2 ** 20, 1),
      rounds,
      parse,
      readline,
      reconcile,
      ratio,
      reconcileRatio,
      perRound,
      capped: cappedRun,
      runs,
      loadAvgBefore,
      loadAvgAfter: os.loadavg().map((x) => round(x, 2)),
    });
  } finally {
    rmSync(file, { force: true });
  }
}

runMain(main);
