/**
 * `npm run bench`: runs every benchmark as a child process, one after the other (never two at once: they would
 * measure each other), collects each one's final JSON line into .data/bench/<name>.json, and (re)writes BENCHMARKS.md
 * from the results saved there: date, machine, and per benchmark its path, baseline, table, ratio and a reading.
 *
 * Usage: npx ts-node --transpile-only bench/run-all.ts [--only e2e-throughput,api-calls] [--render-only] [--out FILE]
 * --out writes the document elsewhere (e.g. to look at one new section without rewriting BENCHMARKS.md from a
 * .data/bench/ that lacks the other results).
 * BENCH_INFLIGHT_COUNT sets bench 5's refund count inside the full run (default 1000, so the run fits in ~15 minutes
 * on a shared 2-core machine; `npm run bench:inflight` alone uses its own default, 10,000).
 * Bench 10 (scale-cluster, scale-cluster-failover) runs on the PostgreSQL cluster, which needs
 * `bash scripts/ensure-temporal-server` first and takes 30-60 minutes at 10,000 refunds: it is opt-in, run only when
 * named in --only or when BENCH_SCALE_COUNT is set (its refund count; the failover variant runs a tenth of it, at
 * least 1,000). Its saved result is rendered either way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { REPO_ROOT, temporalCliPath } from '../src/config/tools';
import { renderProjection, type ScaleFigures } from './support/projection';

const RESULTS_DIR = path.join(REPO_ROOT, '.data', 'bench');
const OUT = path.join(REPO_ROOT, 'BENCHMARKS.md');
/** Observations on the recorded figures (product bottlenecks, caveats), appended as they are. */
const NOTES = path.join(REPO_ROOT, 'bench', 'NOTES.md');

interface Step {
  name: string;
  file: string;
  args: string[];
  /** Not part of a plain `npm run bench`: runs when named in --only (or its env switch is set). */
  optIn?: boolean;
}

const SCALE_COUNT = Number(process.env.BENCH_SCALE_COUNT ?? 10_000);
/**
 * The worker settings bench 10 runs with: 3 workers, each bounded by 64 cached workflows and a 256 MB old space, the
 * sizing docs/cluster.md gives for a worker held near 600 MiB of RSS. The tighter 56 / 240 MB was tried and made
 * nearly every task a replay: on 2 cores the start rate collapsed under the 10 s workflow task timeout (bench/NOTES.md).
 */
const SCALE_WORKERS = ['--workers', '3', '--cache', '64', '--heap', '256'];

const PLAN: Step[] = [
  { name: 'crypto', file: 'bench/crypto.bench.ts', args: [] },
  { name: 'e2e-throughput', file: 'bench/e2e-throughput.ts', args: [] },
  { name: 'notify-latency', file: 'bench/notify-latency.ts', args: [] },
  { name: 'api-calls', file: 'bench/api-calls.ts', args: [] },
  { name: 'webhook-throughput', file: 'bench/webhook-throughput.ts', args: [] },
  {
    name: 'in-flight-10k',
    file: 'bench/in-flight-10k.ts',
    args: ['--count', process.env.BENCH_INFLIGHT_COUNT ?? '1000'],
  },
  { name: 'api-vs-library', file: 'bench/api-vs-library.ts', args: [] },
  { name: 'codec-cost', file: 'bench/codec-cost.ts', args: [] },
  { name: 'reconcile-bill', file: 'bench/reconcile-bill.ts', args: [] },
  { name: 'temporal-cost', file: 'bench/temporal-cost.ts', args: [] },
  { name: 'hot-orders', file: 'bench/hot-orders.ts', args: [] },
  { name: 'hot-orders-sqlite', file: 'bench/hot-orders.ts', args: ['--sqlite'] },
  {
    name: 'scale-cluster',
    file: 'bench/scale-cluster.ts',
    args: ['--count', String(SCALE_COUNT), ...SCALE_WORKERS],
    optIn: process.env.BENCH_SCALE_COUNT === undefined,
  },
  {
    name: 'scale-cluster-failover',
    file: 'bench/scale-cluster.ts',
    args: ['--failover', '--count', String(Math.max(1_000, Math.round(SCALE_COUNT / 10))), ...SCALE_WORKERS],
    optIn: process.env.BENCH_SCALE_COUNT === undefined,
  },
];

interface Saved {
  name: string;
  command: string;
  startedAt: string;
  seconds: number;
  loadAvgBefore: number[];
  loadAvgAfter: number[];
  result: Record<string, unknown>;
}

/** Runs one benchmark, its output shown as it comes; resolves with its last JSON line (crypto: its ratio lines). */
function runStep(step: Step): Promise<Saved> {
  const startedAt = new Date();
  const loadAvgBefore = os.loadavg();
  const command = `ts-node --transpile-only ${step.file} ${step.args.join(' ')}`.trim();
  console.log(`\n=== ${step.name}: ${command}`);
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', step.file, ...step.args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last: Record<string, unknown> | undefined;
  const cryptoLines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    console.log(line);
    if (line.startsWith('{') && line.includes('"bench"')) {
      try {
        last = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // not the result line
      }
    } else if (step.name === 'crypto') cryptoLines.push(line);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const seconds = Math.round((Date.now() - startedAt.getTime()) / 100) / 10;
      if (code !== 0) return reject(new Error(`${step.name} exited with code ${code}`));
      if (step.name === 'crypto') last = { bench: 'crypto', lines: cryptoLines };
      if (!last) return reject(new Error(`${step.name} printed no JSON result line`));
      resolve({
        name: step.name,
        command,
        startedAt: startedAt.toISOString(),
        seconds,
        loadAvgBefore,
        loadAvgAfter: os.loadavg(),
        result: last,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

type Row = Record<string, unknown>;
const cell = (v: unknown) => (v === undefined || v === null ? '' : String(v).replace(/\|/g, '\\|'));
function table(rows: Row[], columns?: string[]): string {
  if (rows.length === 0) return '';
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(' | ')} |`),
  ].join('\n');
}
const la = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' / ');

function header(s: Saved, title: string): string {
  return (
    `## ${title}\n\n` +
    `Run ${s.startedAt.replace('T', ' ').slice(0, 19)} UTC, ${s.seconds} s, \`${s.command}\`; ` +
    `load average (1/5/15 min) before ${la(s.loadAvgBefore)}, after ${la(s.loadAvgAfter)}.\n\n`
  );
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function renderHotOrders(s: Saved): { summary: string; body: string } {
  const r = s.result as any;
  const sqlite = s.name === 'hot-orders-sqlite';
  const key = sqlite ? '11b' : '11a';
  const p = r.product;
  const f = r.floors;
  const met = p.allDecidedMs <= r.goalMs;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const floorRow = (side: string, x: { workflows: number; allStartedMs: number; loadAvg1: number }) => ({
    side,
    workflows: x.workflows,
    allDoneMs: x.allStartedMs,
    loadAvg1: x.loadAvg1,
  });
  // Runs before the activity floor existed have only two floors.
  const byActivity = f.byActivity as { workflows: number; allStartedMs: number; loadAvg1: number } | undefined;
  return {
    summary:
      `| ${key}. hot orders: ${r.requests} requests at once on ${r.orders} orders, all decided (${r.server}) | ` +
      `starting the workflows they accept: from the client (direct)${byActivity ? ', by one local activity per order' : ''}, as children of one parent per order; same run | ` +
      `${secs(p.allDecidedMs)}: ×${r.ratios.toDirectFloor} direct${byActivity ? `, ×${r.ratios.toActivityFloor} activity` : ''}, ×${r.ratios.toChildrenFloor} children | ` +
      `goal all decided ≤ ${r.goalMs / 1000} s: ${met ? 'met' : 'NOT met'}; each accepted refund's workflow is started (as a child of its ledger) before the receipt |`,
    body:
      header(s, `${key}. Hot orders: ${r.requests} refund requests at once on ${r.orders} orders (${r.server})`) +
      'Path: `requestRefund` (src/starter.ts) from the bench process, all requests at once, to 20 paid orders ' +
      '(reliability scenario 4’s workload: 10 orders bound by their paid total, 3 to 35 refunds fit; 10 by the count, ' +
      '50 fit), the product’s worker (`src/cli/worker.ts`) in its own process. Every decision is checked exact (per ' +
      'order min(50, floor(paid / amount)) accepted, the rest M4 or M6). A ledger starts each accepted refund’s ' +
      'workflow, as its child, before it answers (that binds the out_refund_no, M7), so the decisions start as many ' +
      'workflows as they accept. Baselines, same server, an in-process worker of their own task queue, run first: ' +
      '**children**, one parent per order starting as many children at once as its order accepted (the shape of the ' +
      'product’s binding); ' +
      (byActivity
        ? '**activity**, one parent per order starting the same workflows with one local activity through the client ' +
          '(a binding without children); '
        : '') +
      '**direct**, the same workflows started from the bench’s client all at once, no parent. Each started workflow ' +
      'waits for a signal, as a held refund waits for its slot.\n\n' +
      table([
        {
          side: 'product (requestRefund)',
          workflows: p.accepted,
          allDoneMs: p.allDecidedMs,
          p50Ms: p.latencyP50Ms,
          p99Ms: p.latencyP99Ms,
          loadAvg1: p.loadAvg1,
        },
        floorRow('floor: children of one parent per order', f.children),
        ...(byActivity ? [floorRow('floor: one local activity per order', byActivity)] : []),
        floorRow('floor: direct starts', f.direct),
      ]) +
      `\n\n**All ${r.requests} decided in ${secs(p.allDecidedMs)}: ×${r.ratios.toChildrenFloor} the children floor` +
      (byActivity ? `, ×${r.ratios.toActivityFloor} the activity floor` : '') +
      `, ×${r.ratios.toDirectFloor} the direct floor; goal ≤ ${r.goalMs / 1000} s ${met ? 'met' : 'not met'}.** ` +
      `Reading: starting the ${f.children.workflows} workflows as children of ${r.orders} parents took ` +
      `${secs(f.children.allStartedMs)}` +
      (byActivity ? `, by one local activity per parent ${secs(byActivity.allStartedMs)}` : '') +
      `, from the client alone ${secs(f.direct.allStartedMs)}.` +
      (sqlite && r.ratios.toChildrenFloor <= 1.1
        ? ' On a SQLite file every write is slower, and the children of one parent started all at once contend for ' +
          'it (the server records each child’s start in its parent): the children floor took as long as the ' +
          'product or longer, whose starter sends at most 8 requests per ledger at a time.'
        : '') +
      '\n',
  };
}

const RENDER: Record<string, (s: Saved) => { summary: string; body: string }> = {
  crypto: (s) => {
    const lines = (s.result.lines as string[]).filter((l) => l.trim());
    const ratio = /ratio verifyV3Notification \/ baseline = ([\d.]+)/.exec(lines.join('\n'))?.[1];
    return {
      summary: `| crypto (existing) | verifyV3Notification vs bare crypto.verify + AES-GCM | ${ratio} | protocol layer overhead on the crypto |`,
      body:
        header(s, '0. Notification verify + decrypt (existing bench/crypto.bench.ts)') +
        'Path: `verifyV3Notification` in process. Baseline: crypto.verify + AES-256-GCM from the same wire input, ' +
        'interleaved in the same run.\n\n```\n' +
        lines.join('\n') +
        `\n\`\`\`\n\n**Ratio ${ratio}** (≥ 0.8 is the target): the protocol layer costs ${ratio ? Math.round((1 - Number(ratio)) * 100) : '?'} % on top of the cryptography.\n`,
    };
  },
  'e2e-throughput': (s) => {
    const r = s.result as any;
    return {
      summary: `| 1. end-to-end refunds/s | minimal workflow (1 activity + 1 signal), same server/worker | ${r.ratio} | refund rate is ${Math.round(r.ratio * 100)} % of the floor |`,
      body:
        header(s, '1. End-to-end refunds per second') +
        'Path: **the real product path**: `requestRefund` (src/starter.ts, update-with-start on the order ledger, one ' +
        'order per refund) → ledger starts `refundWorkflow` → `submitRefund` (v3 gateway → in-process simulator, ' +
        'frozen clock, rate limits raised) → once the simulator has answered the create (it tells the bench in ' +
        'process: bench/support/observe.ts) it settles the refund (admin force SUCCESS) and sends the signed, ' +
        'encrypted notification → webhook verifies, decrypts, signals → workflow completed (`handle.result()`). ' +
        'Baseline: `minimalWorkflow` (bench/baseline: one no-op activity, then waits for one signal) started; once ' +
        'its activity has returned (the bench’s own worker tells it in process) signalled; completed ' +
        '(`handle.result()`). Neither side queries the workflows it measures: both learn “the one activity is done” ' +
        'outside Temporal, and on both the signal may arrive before the workflow has recorded that activity’s result. ' +
        `Same in-memory dev server, task queue and worker (in process, maxConcurrentWorkflowTaskExecutions 50), ` +
        `${r.concurrency} in flight on both sides, ${r.rounds} alternating rounds after a warm-up.\n\n` +
        table([r.refund, r.baseline]) +
        `\n\nSimulator calls: \`${JSON.stringify(r.simulatorCalls)}\`, notifications delivered ${r.notificationsDelivered} ` +
        `(warm-up included).\n\n**Ratio refund / baseline = ${r.ratio}.** Reading: a refund costs about ` +
        `${(1 / r.ratio).toFixed(1)}× a minimal activity+signal workflow end to end: it is two workflows (ledger + ` +
        'refund), an update-with-start, a signed v3 create call and a signed, encrypted notification hop through the webhook. ' +
        'Section 9 counts what that costs Temporal (workflow tasks, history events, actions).\n',
    };
  },
  'notify-latency': (s) => {
    const r = s.result as any;
    const ratios = r.ratios as Record<string, { median: number; p99: number }>;
    const rs = Object.entries(ratios)
      .map(([m, v]) => `${m}: median ${v.median}, p99 ${v.p99}`)
      .join('; ');
    return {
      summary: `| 2. notify → completed latency | bare signal → minimal workflow completed | ${rs} | the refund completes on the notification's own workflow task |`,
      body:
        header(s, '2. Notify → completed latency (median, p99)') +
        'Path: refunds requested through the starter (ledger → refund workflow, real activities, v3 gateway) and ' +
        'waiting PROCESSING; then the simulator settles each one and delivers the signed, encrypted notification; ' +
        'webhook verifies, decrypts, signals; latency = workflow close time − start of the HTTP delivery. Baseline: ' +
        'minimal workflows waiting for their signal on the same server and worker; latency = close time − just ' +
        'before `signal()`. sequential = one at a time; burst = all at once. While latencies are measured nothing ' +
        'asks the workflows anything: completion is `handle.result()` on both sides, close times are read once all ' +
        'have closed.\n\n' +
        table(r.results) +
        `\n\n**Ratios refund / baseline: ${rs}.** Reading: in sequence the webhook answers in a few ms (column ` +
        'webhookAnswer); the refund applies the notification and completes in that same workflow task, as the ' +
        'baseline does, and its ledger hears the end as its child’s completion (the lean path, issue 18), so nothing ' +
        'is left between them but the webhook’s verify and decrypt. In a burst both queue behind the same server and ' +
        'worker.\n',
    };
  },
  'api-calls': (s) => {
    const r = s.result as any;
    const rows = r.paths as Row[];
    const notified = rows.find((x) => x.path === 'balance, notified') as any;
    const polled = rows.find((x) => x.path === 'bank card, polled') as any;
    const perQuery =
      notified && polled
        ? (
            (polled.historyEvents - notified.historyEvents) /
            (polled.queriesPerRefund - notified.queriesPerRefund || 1)
          ).toFixed(1)
        : '?';
    return {
      summary: `| 3. WeChat calls per refund | poll schedule's minimum (create + unavoidable queries) | worst ${r.worstRatio} | calls = schedule minimum on every path |`,
      body:
        header(s, '3. WeChat API calls and history events per refund') +
        'Path: the real `refundWorkflow` started directly (no ledger) with the real activities and v3 gateway against ' +
        'the in-process simulator, on the **Java time-skipping test server** (search attributes registered as in ' +
        'test/harness/temporal.ts). The simulator clock is frozen and driven to the test server’s time before every ' +
        'WeChat call and before a notification is due. Each refund is forced to settle at +30 s (balance) or +66 h ' +
        '(bank card, day 3); "polled" paths drop every notification (fault DROP). Calls counted with ' +
        '`sim.admin.calls()`, history with `fetchHistory()`. Minimum = 1 create + the polls of the default schedule ' +
        '(src/domain/poll-schedule.ts) due before settlement (notified) or up to the first poll at/after it (polled).\n\n' +
        table(rows) +
        `\n\nReference: the minimal workflow (1 activity + 1 signal) has ${r.baselineEvents} history events; the ` +
        `balance refund settled by notification has ${notified?.historyEvents} (×${notified ? (notified.historyEvents / r.baselineEvents).toFixed(2) : '?'}). ` +
        `Each scheduled query adds about ${perQuery} events (timer + activity + workflow task).\n\n` +
        `**Ratio calls / minimum: worst ${r.worstRatio}.** Reading: no path makes a WeChat call beyond what the poll ` +
        'schedule requires; a notification saves exactly the queries after settlement, and a day-3 bank-card refund ' +
        'stays far below Temporal’s history limits.\n',
    };
  },
  'webhook-throughput': (s) => {
    const r = s.result as any;
    return {
      summary: `| 4. webhook notifications/s | same app signalling the same workflows without verifying (floor) | ${r.ratio} | verify + decrypt + dedupe + gate cost; bare 200: ${r.ratioToBare} |`,
      body:
        header(s, '4. Webhook notifications per second') +
        'Path: the real webhook (`createWebhookServer`) receiving genuine v3 refund notifications built by the ' +
        'simulator’s payload code (AES-256-GCM under the merchant key) and signed by its WeChat signer (platform ' +
        'certificate and public key alternating), each verified, decrypted, validated and signalled (`refundNotified`) ' +
        `to one of ${r.targets} running signal-sink workflows (bench/baseline) that carry refund workflow IDs, on the ` +
        'in-memory dev server. Every request is a distinct, fresh notification. Baseline (floor): the webhook’s own ' +
        'Fastify app and settings, reading out_refund_no from a plaintext header and signalling the same workflow ' +
        'through the same `signalRefundWorkflow`, client and deadline, with nothing verified or decrypted; second ' +
        'line: the same app answering 200 without signalling. Sides alternate order per round; load average per ' +
        'round in `load1PerRound`. Load: undici Pool, ' +
        `${r.concurrency} in flight, ${r.rounds} alternating rounds of ${r.count}.\n\n` +
        table([r.webhook, r.floor, r.bare]) +
        `\n\nSignals counted by the sinks: ${r.signalsCounted} (webhook accepted ${r.accepted} + floor ${r.floorSignalled}, warm-up included).\n\n` +
        `**Ratio webhook / floor = ${r.ratio}** (target ≥ 0.8); webhook / bare 200 = ${r.ratioToBare}. Reading: ` +
        'verifying and decrypting costs little next to the Temporal signal round trip both sides wait for.\n',
    };
  },
  'in-flight-10k': (s) => {
    const r = s.result as any;
    const mem = r.memory as any[];
    const w = mem[0];
    const sv = mem[1];
    return {
      summary: `| 5. ${r.count} refunds in flight | both processes idle after start-up | worker ×${w.ratio}, server ×${sv.ratio}; drain ${r.drain.allClosedSeconds} s (${r.drain.refundsPerSecond}/s); deliveries/notification ${r.deliveriesPerNotification} | worker memory is the SDK workflow cache; see the observations |`,
      body:
        header(s, `5. Refunds in flight (${r.count} run; the bench's default is 10,000)`) +
        'Path: the real product path with production-like processes: dev server on a SQLite file (as ' +
        'temporal-dev.yml), the real worker `src/cli/worker.ts` as a child process (WXREFUND_* env, prebuilt bundle, ' +
        'INFO logging as by default), ' +
        (r.answerLatencyMs
          ? 'the real webhook `src/cli/webhook.ts` as a child process (read through its /metrics), the simulator ' +
            '(WeChat) in the bench process. '
          : 'simulator + webhook in the bench process. ') +
        'Refunds requested through the starter ' +
        `(${r.concurrency} at a time, one order per refund, paid by bank card ICBC_DEBIT) until every refund workflow ` +
        'is PROCESSING (visibility `RefundStatus = "PROCESSING"`), waiting on bank-card poll timers. Then all settle ' +
        'at the same simulated instant (forced one simulated second ahead, clock moved once) → notifications → webhook → signals; ' +
        "the simulator's clock then follows real time, so a delivery answered 5xx or late is retried on WeChat's schedule; drain timed until visibility counts " +
        'no running refund workflow. Baseline memory: both processes idle after start-up with zero workflows.\n\n' +
        `Requested in ${r.requestSeconds} s (${r.requestsPerSecond}/s); all PROCESSING after ${r.allProcessingSeconds} s; ` +
        `simulator PROCESSING ${r.simulatorProcessing}; ledgers running ${r.ledgersRunning}.\n\n` +
        table(mem) +
        '\n\n' +
        // The drain's "lost" column of earlier runs counted notifications WeChat still held, not lost ones.
        table([
          Object.fromEntries(
            Object.entries(r.drain as Record<string, unknown>).map(([k, v]) => [
              k === 'lost' ? 'unacknowledged' : k,
              v,
            ]),
          ),
        ]) +
        `\n\nWeChat calls while in flight: \`${JSON.stringify(r.callsWhileInFlight)}\`; during the drain: ` +
        `\`${JSON.stringify(r.callsDuringDrain)}\`. Notifications ${r.notifications}, delivery attempts ` +
        `${r.notificationAttempts}, webhook results \`${JSON.stringify(r.webhookResults)}\`; refunds SUCCESS ` +
        `${r.succeeded}; simulator invariants ok: ${r.invariantsOk}. Ledgers still running after the drain: ` +
        `${r.ledgersRunningAfterDrain} (by design: a ledger accepts refunds until the order's one-year window ends).\n\n` +
        `Deliveries per notification ${r.deliveriesPerNotification} (target ≤ 1.2; ${r.webhookAnswered} answered); ` +
        `answers by status \`${JSON.stringify(r.answersByStatus)}\`; reasons \`${JSON.stringify(r.webhookReasons)}\`; ` +
        `unacknowledged when the bench ended (WeChat still holding them for a retry; "lost" in runs before ` +
        `2026-12-03 17:00) ${r.unacknowledged ?? r.lost}; mean signal ${r.signalMeanMs} ms; signal concurrency ` +
        `${r.signalConcurrency}.` +
        (r.outboxRelayed
          ? ` Answered 200 from the webhook's outbox and signalled afterwards by its relay: ` +
            `\`${JSON.stringify(r.outboxRelayed)}\` (webhook result \`deferred\`).`
          : '') +
        (r.answerLatencyMs
          ? ` How long WeChat (the simulator) waited for the answers it got, from sending (ms): ` +
            `\`${JSON.stringify(r.answerLatencyMs)}\`; the webhook's own time from request to answer, cumulative by ` +
            `bucket (s): \`${JSON.stringify(r.webhookAnsweredWithin)}\`.`
          : '') +
        (r.retriedRequests && Object.keys(r.retriedRequests).length > 0
          ? ` Requests repeated by the order service (same out_refund_no): \`${JSON.stringify(r.retriedRequests)}\`.`
          : '') +
        '\n\n' +
        `**Ratios in flight / idle: worker ×${w.ratio} (${w.miBPer1kRefunds} MiB per 1,000 refunds), dev server ` +
        `×${sv.ratio} (${sv.miBPer1kRefunds} MiB per 1,000).** Drain: ${r.drain.refundsPerSecond} refunds/s.\n`,
    };
  },
  'api-vs-library': (s) => {
    const r = s.result as any;
    const x = r.ratios as { throughput: number; p50: number; p99: number; cpuPerDecision: number; perRound: number[] };
    const idle = r.idle as
      { library: Row & { p99Ms: number }; api: Row & { p99Ms: number }; floor: Row; loadAvg: number[] } | undefined;
    const idleMet = idle && idle.library.p99Ms <= r.idleGoalP99Ms && idle.api.p99Ms <= r.idleGoalP99Ms;
    const idleSummary = idle
      ? `; idle stack: library p99 ${idle.library.p99Ms} ms (×${r.idleRatios.libraryP99} the floor), API p99 ${idle.api.p99Ms} ms, goal ≤ ${r.idleGoalP99Ms} ms ${idleMet ? 'met' : 'NOT met'}`
      : '';
    const idleBody = idle
      ? `\n\n**On an idle stack** (issue 18’s goal: a decision’s p99 ≤ ${r.idleGoalP99Ms} ms), before the timed ` +
        'rounds: one request at a time, the three sides taking turns, each after the previous refund reached WeChat ' +
        '(untimed), so nothing else runs beside it. Floor: update-with-start on a fresh workflow that answers its ' +
        'update at once (bench/baseline `decisionFloorWorkflow`, an in-process worker of its own task queue), through ' +
        `the same client. Load average at the end ${la(idle.loadAvg)}.\n\n` +
        table([
          { side: 'library (requestRefund)', ...idle.library },
          { side: 'api (POST /v1/refunds)', ...idle.api },
          { side: 'floor (update-with-start, answered at once)', ...idle.floor },
        ]) +
        `\n\n**Idle p99: library ${idle.library.p99Ms} ms, API ${idle.api.p99Ms} ms: goal ≤ ${r.idleGoalP99Ms} ms ` +
        `${idleMet ? 'met' : 'not met'}.** Ratios to the floor: library p50 ×${r.idleRatios.libraryP50}, p99 ` +
        `×${r.idleRatios.libraryP99}; API p99 ×${r.idleRatios.apiP99}. A decision is more than the floor by design: ` +
        'the ledger reads the order at WeChat (one activity) and starts the refund workflow before it answers.'
      : '';
    return {
      summary: `| 6. API decisions/s and latency | the TypeScript library (requestRefund), same run, server, worker | decisions/s ${x.throughput}, p50 ${x.p50}, p99 ${x.p99}; CPU per decision ${x.cpuPerDecision}${idleSummary} | what HTTP and the API process add to a decision |`,
      body:
        header(s, '6. Refund decisions through the HTTP API vs the TypeScript library') +
        'Path: `POST /v1/refunds` to the real API program (`src/cli/api.ts`, its own process; access logs at info as ' +
        'by default) → `requestRefund` → update-with-start on the order ledger (reads the order from the simulated ' +
        'WeChat, checks the rules, starts the refund workflow) → receipt, which names the request that created the ' +
        'refund → 201 (no further read; only a repeat reads the ledger for its current state). Baseline: `requestRefund` called from the bench process (a Node order service) with exactly ' +
        'the fields the API passes. Same dev server (in memory), worker (`src/cli/worker.ts`, own process), simulator, ' +
        `a fresh paid order per refund, ${r.concurrency} in flight on both sides (closed loop), ${r.rounds} alternating ` +
        'rounds (the side that goes first alternates) after a warm-up of each; between batches the bench waits until ' +
        'WeChat has every refund of the batch. A decision = the ledger’s answer; latency = request sent → answer ' +
        'received. CPU ms per decision from /proc for each process; the client’s event-loop delay p99 and CPU share ' +
        'show that it kept up.\n\n' +
        table([r.library, r.api].map(({ cpuTotalMs: _total, ...row }: Row) => row)) +
        '\n\n' +
        table((r.batches as Row[]).map((b: any) => ({ ...b, cpu: JSON.stringify(b.cpu) }))) +
        `\n\n**Ratios API / library: decisions/s ${x.throughput} (per round: ${x.perRound.join(', ')}), p50 ${x.p50}, ` +
        `p99 ${x.p99}; CPU of all four processes per decision ${x.cpuPerDecision}.** Reading: the rates move with the ` +
        'other sessions on the machine (see the per-round ratios and load averages); the CPU ratio is the steadier ' +
        'figure. The decision itself (ledger update-with-start, the order lookup at WeChat, the refund workflow start) dominates ' +
        'both sides; the API adds an HTTP hop and its own process’s work (column cpuMsPerDecision: api).' +
        idleBody +
        '\n',
    };
  },
  'codec-cost': (s) => {
    const r = s.result as any;
    const costPct = Math.round((1 - r.ratio) * 100);
    return {
      summary: `| 7. payload encryption at rest | the same refunds with WXREFUND_PAYLOAD_ENCRYPTION=off, same run | ${r.ratio} | the codec costs ${costPct} % of end-to-end throughput |`,
      body:
        header(s, '7. Payload encryption at rest: end-to-end cost of the codec') +
        'Path: the end-to-end refund of section 1 (starter → ledger → refund workflow → v3 gateway → simulator → ' +
        'settled once the simulator has answered the create, no query to the workflow → signed, encrypted ' +
        'notification → webhook → signal → `handle.result()`) with every payload encrypted by the codec ' +
        '(AES-256-GCM, src/codec/encryption-codec.ts; failure messages moved into encrypted attributes) in the order ' +
        'service’s client, the webhook’s client and the worker. Baseline: the same with ' +
        '`WXREFUND_PAYLOAD_ENCRYPTION=off` (no codec). Same dev server, simulator and webhook; a task queue and an ' +
        `in-process worker per side; ${r.concurrency} in flight; ${r.rounds} alternating rounds (off/on, then on/off) ` +
        'after a warm-up of each; load average (1 min) at the end of every batch. The bench checks afterwards that one ' +
        'refund per side stored what it claims (ciphertext, or clear payloads).\n\n' +
        table([r.off, r.encrypted]) +
        '\n\n' +
        table(r.batches as Row[]) +
        `\n\n**Ratio encrypted / off = ${r.ratio}.** Reading: a refund writes a few dozen payloads of a few hundred ` +
        'bytes; AES-GCM on those is microseconds each, so the difference sits inside the round-to-round spread on a ' +
        'shared machine (compare the per-round rates and load averages before reading anything into it).\n',
    };
  },
  'reconcile-bill': (s) => {
    const r = s.result as any;
    return {
      summary: `| 8. refund bill reconciled (parsed, compared, reported), rows/s and peak RSS | the same file read line by line (readline), same run | reconcile ${r.reconcileRatio}, parse ${r.ratio} | ${r.rows} rows: reconciled at ${r.reconcile.rowsPerSecond} rows/s, peak RSS ${r.reconcile.peakRssMiB} MiB; parsed at ${r.parse.rowsPerSecond} rows/s, RSS growth ≤ ${r.parse.maxRssGrowthMiB} MiB |`,
      body:
        header(s, `8. Refund bill parsing (${r.rows} rows)`) +
        'Path: `parseRefundBill` (src/reconciliation/bill-parser.ts: csv-parse, columns by header name, backticks ' +
        'stripped, yuan → fen by string arithmetic, zod per row, summary checked against the rows) on a generated ' +
        `v3 refund bill of ${r.rows} rows (${r.fileMiB} MiB, WeChat's format: Chinese header, backtick fields, summary ` +
        'header and row), read from disk with createReadStream. The parse side checks the row count and the exact ' +
        '退款总金额 in fen. Baseline (the true floor): the same file read line by line with node:readline, nothing ' +
        `parsed. Each side runs in a fresh child process; ${r.rounds} rounds alternate which side goes first. RSS is ` +
        'sampled every 1,000 rows; growth = peak − RSS before opening the file. The reconcile side is what the ' +
        "reconciliation activity does with a downloaded bill, minus the network: the engine's refunds of the day in a " +
        `map (${r.rows}, one per row), each row compared as it is parsed (src/reconciliation/compare.ts) and its ` +
        'finding streamed to report.jsonl (src/reconciliation/report.ts); it checks that every row matched.\n\n' +
        table([r.reconcile, r.parse, r.readline]) +
        '\n\n' +
        table(
          (r.runs as Row[]).map(({ refundTotalFen: _fen, ...run }: Row) => run),
          ['round', 'side', 'rows', 'ms', 'rssBeforeMiB', 'peakRssMiB', 'rssGrowthMiB', 'load1'],
        ) +
        `\n\nThe same parse with V8's old space capped at ${r.capped.oldSpaceMiB} MiB: ${r.capped.ms} ms, peak RSS ` +
        `${r.capped.peakRssMiB} MiB (+${r.capped.rssGrowthMiB}).\n\n` +
        `**Ratio reconcile / readline = ${r.reconcileRatio}; parse / readline = ${r.ratio}** (per round ` +
        `${r.perRound.join(', ')}). Reading: tokenising CSV ` +
        '(csv-parse, byte by byte, quotes and all) is most of the cost; the floor only splits lines. Memory stays ' +
        'bounded: the parser yields each row as it reads it and keeps nothing but running totals, so the RSS growth is ' +
        'the collector’s slack, not the file; the capped run, which could not hold the file’s rows, completes.\n',
    };
  },
  'temporal-cost': (s) => {
    const r = s.result as any;
    const rows = r.rows as Row[];
    const ratios = r.ratios as Array<{ row: string; workflowTasks: number; historyEvents: number; actions: number }>;
    const worst = ratios.find((x) => x.row.startsWith('one-refund orders, events off')) ?? ratios[0];
    const floorRow = rows[rows.length - 1] as any;
    const goalMet = worst && worst.workflowTasks <= r.goalTasksRatio;
    const ratioText = ratios
      .map((x) => `${x.row}: tasks ×${x.workflowTasks}, events ×${x.historyEvents}, actions ×${x.actions}`)
      .join('; ');
    return {
      summary: `| 9. Temporal cost per refund (workflow tasks, history events, billable actions; ledger share included) | the floor workflow (1 activity + 1 signal), same run | one-refund orders: tasks ×${worst?.workflowTasks}, events ×${worst?.historyEvents}, actions ×${worst?.actions}${r.replay ? `; worker CPU to replay ×${r.replay.ratioPerRefund}` : ''} | goal tasks ≤ ${r.goalTasksRatio}× the floor: ${goalMet ? 'met' : 'NOT met'} |`,
      body:
        header(s, '9. Temporal cost per refund, counted from histories') +
        'Path: the real product path on the in-memory dev server, in-process worker (same settings as section 1): ' +
        '`requestRefund` (update-with-start on the order’s ledger) → the ledger reads the order at WeChat and starts ' +
        'the refund workflow → `submitRefund` (v3 gateway → simulator) → PROCESSING → WeChat settles it → signed, ' +
        'encrypted notification → webhook → signal → SUCCESS. A refund is settled once its workflow says PROCESSING ' +
        '(status query every 250 ms: queries are not in history, so they change no count; nothing is timed here). ' +
        `Rows: ${r.count} refunds each on its own order (the whole ledger is the refund’s share: the worst case); ` +
        `${r.shared} refunds on one order, ${r.sharedGapSeconds ? `each requested ${r.sharedGapSeconds} s after WeChat answered the previous create (none waits for the 60 s spacing)` : 'requested at once (held, granted one per 60 s)'}, ` +
        'the ledger’s cost divided among them; ' +
        (r.events === 'on'
          ? `${r.count} one-refund orders with events to a stand-in order service, each event-delivery workflow’s history counted too (${r.eventsReceived} events received). `
          : 'events off only. ') +
        `Baseline (the floor): ${r.count} minimal workflows (bench/baseline: one no-op activity, then one signal, ` +
        'sent once the activity is done), counted the same way. Every workflow of a refund is found from its ledger ' +
        '(refunds are its children, event deliveries theirs), every run of each (continue-as-new) fetched with ' +
        '`fetchHistory()` once the family is at rest (every scheduled workflow task ended, unchanged for 500 ms). The ' +
        'ledger keeps running after its refunds end (it guards the order’s one-year window): its window timer is ' +
        'counted when started and shown as pending (when it fires: one more workflow task).\n\n' +
        '**Counting.** Workflow tasks = WORKFLOW_TASK_COMPLETED events (scheduled, failed and timed out beside them); ' +
        'history events = all events; billable actions are **an estimate from history** of what Temporal Cloud’s ' +
        'Actions page counts: workflow started (each WorkflowExecutionStarted, children and continue-as-new runs ' +
        'included; a child counted once, as its own start), activity (each ActivityTaskScheduled + each retry, from ' +
        'ActivityTaskStarted’s attempt), local activities (1 per workflow task that recorded ≥ 1 local-activity ' +
        'marker), timer started, signal (each SignalExternalWorkflowExecutionInitiated, and each ' +
        'WorkflowExecutionSignaled sent by a client), update (WorkflowExecutionUpdateAccepted), upsert search ' +
        'attributes, markers other than patches and local activities (side effects). Queries and heartbeats are not ' +
        'in history, so not counted (bench/support/history-cost.ts).\n\n' +
        'Per refund:\n\n' +
        table(rows) +
        '\n\nRatios refund / floor:\n\n' +
        table(ratios as unknown as Row[]) +
        '\n\nWhere it goes, per refund and workflow (actions by kind):\n\n' +
        table(r.breakdown as Row[]) +
        `\n\nLoad average (1/5/15 min) at the start ${la(r.loadAvgStart)}, at the end ${la(r.loadAvgEnd)}.\n\n` +
        `**Ratios refund / floor: ${ratioText}.** Goal (issue 18): workflow tasks per refund ≤ ${r.goalTasksRatio}× ` +
        `the floor’s (${floorRow?.workflowTasks}) for one-refund orders: **${goalMet ? 'met' : 'not met'}**. ` +
        'Reading: counts, not rates, so the machine’s load barely moves them (it can merge two messages into one ' +
        'workflow task: see the range column). A refund is at least two workflows (ledger + refund); what the ledger ' +
        'does once per order (its start, the order lookup, its window timer, its search attributes) is divided among ' +
        'the order’s refunds, what it does for each refund is not (compare the ledger lines of the first two rows).\n' +
        renderReplayCpu(r.replay, r.loadAvgBeforeReplay),
    };
  },
  'scale-cluster': (s) => {
    const section = renderScale(s);
    const measuredOn = `${s.startedAt.slice(0, 10)}, ${(s.result as { count: number }).count} refunds`;
    return {
      ...section,
      body: `${section.body}\n${renderProjection(s.result as unknown as ScaleFigures, measuredOn)}`,
    };
  },
  'scale-cluster-failover': (s) => renderScale(s),
  'hot-orders': renderHotOrders,
  'hot-orders-sqlite': renderHotOrders,
};

interface ReplayCpuSide {
  refunds: number;
  replays: number;
  cpuMsPerRefund: number;
  cpuMsPerWorkflowRun: number;
}

/** Section 9's replay measurement (bench/temporal-cost.ts replayCpu), when the run made one. */
function renderReplayCpu(
  replay:
    | {
        rounds: number;
        floor: ReplayCpuSide;
        refund: ReplayCpuSide;
        ratioPerRefund: number;
        ratioPerWorkflowRun: number;
      }
    | undefined,
  loadAvg: number[] | undefined,
): string {
  if (!replay) return '';
  return (
    '\n**Worker CPU to replay a refund from its first event.** The one-refund orders’ histories (ledger + refund) and ' +
    `the floor’s were replayed ${replay.rounds} times each after the stack was closed (nothing else ran in the ` +
    'process; the side that goes first alternates; a warm-up round and each replay worker’s first replay not ' +
    'counted), one history at a time, CPU time of the process (SDK core and workflow threads) per replay. Each side ' +
    'from its own bundle, as its worker would load it: the refund’s from the product bundle (src/workflows), the ' +
    'floor’s from the baseline workflows alone (bench/baseline/floor-workflows.ts), so the floor pays for none of our ' +
    'modules. This is what a worker pays for every workflow task of a workflow its cache no longer holds, which with ' +
    'thousands in flight and a bounded cache is nearly every task (section 10), and once per workflow it creates. ' +
    `Load average before ${la(loadAvg ?? [])}.\n\n` +
    table([
      { side: 'refund (ledger + refund)', ...replay.refund },
      { side: 'floor (minimal workflow)', ...replay.floor },
    ] as unknown as Row[]) +
    `\n\n**Ratio refund / floor: ×${replay.ratioPerRefund} per refund, ×${replay.ratioPerWorkflowRun} per workflow ` +
    'run.**\n'
  );
}

interface RenderedSection {
  summary: string;
  body: string;
}

/** A section's number as its heading gives it ("0", "5", "10b"). */
function sectionKey(body: string): string {
  return /^## ([0-9]+[a-z]?)\./.exec(body)?.[1] ?? body.split('\n')[0];
}

function compareKeys(a: string, b: string): number {
  const n = (k: string) => Number.parseInt(k, 10);
  return n(a) - n(b) || a.localeCompare(b);
}

/**
 * The numbered sections of an earlier BENCHMARKS.md with their summary rows (the i-th row belongs to the i-th
 * section: render writes them in the same order). Nothing when the two counts differ: better to drop a section than
 * to pair it with another's row.
 */
function earlierSections(text: string): Map<string, RenderedSection> {
  const out = new Map<string, RenderedSection>();
  const lines = text.split('\n');
  const summaryAt = lines.indexOf('## Summary');
  if (summaryAt < 0) return out;
  const rows: string[] = [];
  for (let i = summaryAt + 4; i < lines.length && lines[i].startsWith('| '); i++) rows.push(lines[i]);
  const bodies: string[] = [];
  let current: string[] | undefined;
  for (const line of lines.slice(summaryAt + 1)) {
    if (line.startsWith('## ')) {
      if (!/^## [0-9]+[a-z]?\./.test(line)) break; // bench/NOTES.md starts here
      current = [];
      bodies.push('');
    }
    if (current) {
      current.push(line);
      bodies[bodies.length - 1] = current.join('\n');
    }
  }
  if (rows.length !== bodies.length) return out;
  bodies.forEach((body, i) => out.set(sectionKey(body), { summary: rows[i], body }));
  return out;
}

/** Section 10 (both variants of bench/scale-cluster.ts): the figures of one run, a table each. */
function renderScale(s: Saved): { summary: string; body: string } {
  const r = s.result as any;
  const failover = r.variant === 'failover';
  const c = r.checks;
  const peaks = r.memory.workers.map((w: any) => w.peakMiB);
  const perRefund = r.storage.perRefundInFlight as Row[];
  const bytesPerRefund = perRefund.reduce((sum, x: any) => sum + Math.max(0, x.bytesPerRefund), 0);
  const checkText =
    `refunds SUCCESS ${c.refundsSucceeded} (simulator ${c.simulatorSucceeded}), lost ${c.lost}, paid twice ` +
    `${c.duplicatePayouts}, simulator invariants ok: ${c.invariantsOk}, refunds in MANUAL_REVIEW/ABNORMAL ${c.alerts}, ` +
    `workflows failed/timed out/terminated ${c.failedWorkflows}`;
  const title = failover
    ? `10b. Failover on the PostgreSQL cluster (${r.count} refunds, ${r.workers} workers)`
    : `10. Scale on the PostgreSQL cluster (${r.count} refunds in flight, ${r.workers} workers)`;
  const fo = r.failover;
  const json = (x: unknown) => `\`${JSON.stringify(x)}\``;
  return {
    summary:
      `| ${title.replace(/ \(.*/, '')}: ${r.count} refunds | none (absolute figures; per-refund costs) | ` +
      `accepted ${r.start.requestsPerSecond}/s; worker peak ${Math.max(...peaks)} MiB; drain ${r.drain.allClosedSeconds} s; ` +
      `${bytesPerRefund} B of PostgreSQL per refund | lost ${c.lost}, paid twice ${c.duplicatePayouts}, alerts ${c.alerts} |`,
    body:
      header(s, title) +
      'Path: the real product path on the cluster of docs/cluster.md (Temporal 1.29.1 as four processes, ' +
      `${r.cluster.historyShards} history shards, PostgreSQL for history and visibility; reset before the run), ` +
      `${r.workers} real workers (\`src/cli/worker.ts\`, one process each) with WXREFUND_MAX_CACHED_WORKFLOWS=` +
      `${r.workerSettings.maxCachedWorkflows} and NODE_OPTIONS=--max-old-space-size=${r.workerSettings.maxOldSpaceSizeMB}, ` +
      `the merchant's default budget (${r.workerSettings.budget.createsPerSecond} creates/s, ` +
      `${r.workerSettings.budget.queriesPerSecond} queries/s; each budgeted queue at half). Simulator and webhook in the ` +
      `bench process. Refunds requested through the starter, ${r.concurrency} at a time, one order each, paid by bank ` +
      'card, until every refund workflow is PROCESSING on the bank-card poll schedule; then all forced to SUCCESS ' +
      '→ notifications → webhook → signals, timed until no refund workflow runs.' +
      (failover
        ? ' Failover: 5 s into the drain worker 1 is SIGKILLed, 5 s later worker 2 gets SIGTERM; worker 3 finishes; ' +
          'then the history service restarts and 10 new refunds go through it.'
        : '') +
      `\n\nLoad average (1 min) idle ${r.loadAvg.atStart}, in flight ${r.loadAvg.inFlight}, drained ${r.loadAvg.drained}.\n\n` +
      `**Start:** requested in ${r.start.requestSeconds} s (**${r.start.requestsPerSecond} refunds/s**); all PROCESSING ` +
      `after ${r.start.allProcessingSeconds} s; simulator PROCESSING ${r.start.simulatorProcessing}; ledgers running ` +
      `${r.start.ledgersRunning}.\n\n` +
      'Workers (VmRSS, MiB):\n\n' +
      table(r.memory.workers) +
      '\n\nServer processes (VmRSS; PostgreSQL: Pss of all its processes) and databases (MiB):\n\n' +
      table(r.memory.servers) +
      '\n\n' +
      table(r.memory.databases) +
      '\n\nStorage per refund with all in flight (rows and bytes each table gained: heap, TOAST and indexes; the ' +
      `history events themselves ${r.storage.historyEventBytesPerRefund} B per refund):\n\n` +
      table(perRefund.slice(0, 12)) +
      `\n\nWeChat calls/s at the simulator (highest one-second count; budget ${r.wechatCalls.budgetPerSecond.createsPerSecond} ` +
      `creates/s, ${r.wechatCalls.budgetPerSecond.queriesPerSecond} queries/s): starting ` +
      `${json(r.wechatCalls.peaks.starting.peakPerSecond)}, in flight ${json(r.wechatCalls.peaks.inFlight.peakPerSecond)}, ` +
      `draining ${json(r.wechatCalls.peaks.draining.peakPerSecond)}. Calls while in flight ` +
      `${json(r.wechatCalls.whileInFlight)}, during the drain ${json(r.wechatCalls.duringDrain)}.\n\n` +
      `**Drain:** ${r.drain.allClosedSeconds} s (${r.drain.refundsPerSecond} refunds/s); ${r.drain.notifications} ` +
      `notifications, ${r.drain.deliveryAttempts} deliveries (${r.drain.deliveriesPerNotification} per notification), ` +
      `webhook ${json(r.drain.webhookResults)}; ledgers still running ${r.drain.ledgersRunningAfter} (by design).\n\n` +
      (failover && fo
        ? 'Failover: ' +
          (fo.events as any[])
            .map((e) => `at ${e.atSeconds} s worker ${e.worker} ${e.signal} with ${e.refundsRunning} refunds running`)
            .join('; ') +
          '. ' +
          (fo.afterHistoryRestart
            ? `History restarted in ${fo.afterHistoryRestart.restartSeconds} s; then ${fo.afterHistoryRestart.newRefunds} ` +
              `new refunds settled in ${fo.afterHistoryRestart.newRefundsSeconds} s; checks after: lost ` +
              `${fo.afterHistoryRestart.checks.lost}, alerts ${fo.afterHistoryRestart.checks.alerts}, invariants ok ` +
              `${fo.afterHistoryRestart.checks.invariantsOk}.\n\n`
            : '\n\n')
        : '') +
      `**Checks:** ${checkText}. Worker log lines at WARN/ERROR: ` +
      `${(r.workerLogs as any[]).map((w, i) => `worker ${i + 1} ${w.warn}/${w.error}`).join(', ')}.\n`,
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function temporalVersion(): string {
  try {
    return execFileSync(temporalCliPath(), ['--version'], { encoding: 'utf8' }).trim();
  } catch (e) {
    return `unknown (${(e as Error).message})`;
  }
}

function render(saved: Saved[], ranNow: string[], extraNote: string, previous: string): string {
  const cpus = os.cpus();
  const sections = new Map<string, RenderedSection>();
  for (const s of saved) {
    const out = RENDER[s.name]?.(s);
    if (out) sections.set(sectionKey(out.body), out);
  }
  // A section this machine has no saved result for (a fresh clone, a run of some benchmarks only) keeps the text the
  // existing BENCHMARKS.md has for it, instead of disappearing from the file.
  for (const [key, earlier] of earlierSections(previous)) if (!sections.has(key)) sections.set(key, earlier);
  const ordered = [...sections.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([, v]) => v);
  const summaries = ordered.map((x) => x.summary);
  const bodies = ordered.map((x) => x.body.trimEnd() + '\n');
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run-all.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
      `from the results in .data/bench/ (each section gives its own run${ranNow.length ? `; this invocation ran ${ranNow.join(', ')}` : ''}).`,
    '',
    `**Machine:** ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
      `${os.type()} ${os.release()}, Node ${process.version}, ${temporalVersion()}.`,
    '',
    '**Read the ratios, not the absolute figures.** The machine is shared and noisy: 2 cores, shared with other ' +
      "sessions (their own test suites and Temporal servers) and with the VM's neighbours; the load " +
      'average at each run is given below. Every benchmark therefore measures its baseline in the same run, on the same ' +
      'server and worker settings, interleaved where possible, and prints the ratio.' +
      (extraNote ? ` ${extraNote}` : ''),
    '',
    'Simulator settings for all benchmarks: frozen clock (`timeScale: 0`, settlements forced through the admin API), ' +
      'per-merchant rate limits raised from WeChat’s create 150/s, query 300/s to 1,000,000/s (so the benchmark, not ' +
      'the simulated WeChat, is measured), one order per refund (the 60 s same-order spacing never applies).',
    '',
    '## Summary',
    '',
    '| benchmark | baseline (same run) | ratio | reading |',
    '| --- | --- | --- | --- |',
    ...summaries,
    '',
    ...bodies.flatMap((b) => [b, '']),
    ...(existsSync(NOTES) ? [readFileSync(NOTES, 'utf8').trim(), ''] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'render-only': { type: 'boolean' },
      note: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const only = values.only?.split(',').map((x) => x.trim());
  const steps = values['render-only'] ? [] : PLAN.filter((s) => (only ? only.includes(s.name) : !s.optIn));
  mkdirSync(RESULTS_DIR, { recursive: true });
  const ranNow: string[] = [];
  const failed: string[] = [];
  const t0 = Date.now();
  for (const step of steps) {
    try {
      const saved = await runStep(step);
      writeFileSync(path.join(RESULTS_DIR, `${step.name}.json`), JSON.stringify(saved, null, 2));
      ranNow.push(`${step.name} (${saved.seconds} s)`);
    } catch (e) {
      console.error(`!!! ${step.name}: ${(e as Error).message}`);
      failed.push(step.name);
    }
  }
  const saved = PLAN.map((s) => path.join(RESULTS_DIR, `${s.name}.json`))
    .filter((f) => existsSync(f))
    .map((f) => JSON.parse(readFileSync(f, 'utf8')) as Saved);
  const out = values.out ? path.resolve(values.out) : OUT;
  writeFileSync(out, render(saved, ranNow, values.note ?? '', existsSync(out) ? readFileSync(out, 'utf8') : ''));
  console.log(
    `\n${out === OUT ? 'BENCHMARKS.md' : out} written (${saved.length} results; ran ${ranNow.length} in ${Math.round((Date.now() - t0) / 1000)} s)` +
      (failed.length ? `; FAILED: ${failed.join(', ')}` : ''),
  );
  if (failed.length) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
