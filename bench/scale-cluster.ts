/**
 * Bench 10: refunds in flight on the production-shaped cluster (docs/cluster.md: Temporal's four services as separate
 * processes, PostgreSQL for history and visibility), served by several worker processes with bounded memory, then
 * drained; with `--failover`, workers are lost mid-drain and the history service is restarted afterwards.
 *
 * Path: the real product path. `src/stack/cluster` brings the cluster up (fresh: `reset` first unless --keep); the
 * simulator (frozen clock, its rate limits raised as in every benchmark) and the real webhook run in this process; W
 * real workers (`src/cli/worker.ts`, one child process each, TEMPORAL_ADDRESS = the cluster's frontend) serve one task
 * queue. Each worker's memory is bounded by two settings, both production settings:
 *   WXREFUND_MAX_CACHED_WORKFLOWS (`--cache`, default 250): workflows kept in memory between tasks; an evicted one
 *     replays its history at its next timer or signal.
 *   NODE_OPTIONS=--max-old-space-size (`--heap`, default 384 MB): without it V8 keeps the memory of evicted workflows
 *     until heap pressure, so the cache bound alone does not bound the process (bench/NOTES.md, observation 1).
 * The merchant's WeChat call budget is production's default (docs/merchants.md: 100 creates/s, 200 queries/s; each
 * budgeted queue runs at half of it, enforced by the server across all workers).
 *
 * Refunds are requested through the starter (update-with-start on one ledger per order), `--concurrency` at a time,
 * paid by bank card, so each refund sits in PROCESSING on the bank-card poll schedule (+1 min, +5 min, +30 min …; the
 * polls that fall due are made and answer PROCESSING). Every 10 s the bench records each worker's RSS, each server
 * process's RSS, PostgreSQL's memory (Pss of all its processes), both databases' sizes, estimated row counts and the
 * WeChat calls so far; the simulator's counters are read every second for the peak calls per second. With all in
 * flight, exact rows and bytes of every table (→ per refund). Drain: all forced to SUCCESS at once; notifications →
 * webhook → signals; timed until visibility counts no running refund workflow; the simulator's clock steps 60 s every
 * 5 s so notifications answered 5xx are retried as WeChat would. Checks: every refund SUCCESS in its workflow and at
 * the simulator, simulator invariants (nothing paid twice, nothing over the paid total), no refund in MANUAL_REVIEW or
 * ABNORMAL, no workflow failed, timed out or terminated.
 *
 * Usage: npx ts-node --transpile-only bench/scale-cluster.ts [--count 10000] [--concurrency 50] [--workers 3]
 *          [--cache 250] [--heap 384] [--hold 60] [--failover] [--keep] [--keep-up]
 * --failover (default count 1,000): 5 s into the drain one worker is SIGKILLed, 5 s later another gets SIGTERM; the
 * rest finish; then `restart history`, and the checks run again, plus a few new refunds through the restarted service.
 * --keep: use the cluster's data as it is (no reset). --keep-up: leave the cluster running at the end.
 * Each run's result is also kept as .data/bench/scale/<variant>-<count>-<time>.json, with the worker logs beside it.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { REPO_ROOT } from '../src/config/tools';
import { loadStackConfig } from '../src/config/stack-config';
import { stackConfigFile } from '../src/config/stack-paths';
import { clusterSection, down, reset, restart, up } from '../src/stack/cluster/cluster';
import { freePort } from '../src/stack/free-port';
import { CallRateMeter } from './support/call-rate';
import {
  clusterMemory,
  deadRows,
  estimatedRows,
  historyPayloadBytes,
  tableFigures,
  type TableFigure,
} from './support/cluster-probe';
import {
  benchRefunds,
  countWorkflows as count,
  PROCESSING_REFUNDS,
  REFUNDS,
  requestBenchRefund,
  requestWithRetry,
  RUNNING_LEDGERS,
  RUNNING_REFUNDS,
  seedOrders,
  type BenchRefund,
} from './support/refunds';
import { MCHID, runTag, startBenchStack, type BenchStack } from './support/stack';
import { BenchWorkerProcess, writeWorkflowBundle } from './support/worker-process';
import { emitResult, intFlag, mapLimit, round, rssMiB, runMain, sleep, waitUntil } from './support/util';

const BANK_TYPE = 'ICBC_DEBIT';
/** Production's default budget when the registry names none (docs/merchants.md). */
const DEFAULT_BUDGET = { createsPerSecond: 100, queriesPerSecond: 200 };

const load1 = () => round(os.loadavg()[0], 2);
const log = (line: string) => console.log(`[scale] ${line}`);

interface Checks {
  refundsSucceeded: number;
  simulatorSucceeded: number;
  alerts: number;
  failedWorkflows: number;
  invariantsOk: boolean;
  duplicatePayouts: number;
  lost: number;
}

/** What "nothing lost, nothing paid twice, no alert" means, counted at the engine and at the simulated WeChat. */
async function checkOutcome(stack: BenchStack, n: number): Promise<Checks> {
  const client = stack.client;
  const simRefunds = await stack.sim.admin.refunds({ owner: MCHID, status: 'SUCCESS' });
  const invariants = await stack.sim.admin.invariants();
  const refundsSucceeded = await count(client, `${REFUNDS} AND RefundStatus = "SUCCESS"`);
  return {
    refundsSucceeded,
    simulatorSucceeded: simRefunds.length,
    alerts: await count(client, `${REFUNDS} AND RefundStatus IN ("MANUAL_REVIEW", "ABNORMAL")`),
    failedWorkflows: await count(client, `ExecutionStatus IN ("Failed", "TimedOut", "Terminated")`),
    invariantsOk: invariants.ok,
    duplicatePayouts: invariants.duplicatePayouts.length,
    lost: n - Math.min(refundsSucceeded, simRefunds.length),
  };
}

const sumRows = (figures: TableFigure[]) =>
  Object.fromEntries(figures.map((f) => [`${f.database}.${f.table}`, { rows: f.rows, bytes: f.bytes }]));

/** Rows and bytes each table gained per refund between two snapshots (tables that grew by at least one row per 100). */
function perRefund(before: TableFigure[], after: TableFigure[], n: number) {
  const key = (f: TableFigure) => `${f.database}.${f.table}`;
  const base = new Map(before.map((f) => [key(f), f]));
  return after
    .map((f) => ({
      table: key(f),
      rowsPerRefund: round((f.rows - (base.get(key(f))?.rows ?? 0)) / n, 2),
      bytesPerRefund: Math.round((f.bytes - (base.get(key(f))?.bytes ?? 0)) / n),
    }))
    .filter((r) => r.rowsPerRefund >= 0.01 || r.bytesPerRefund >= 100)
    .sort((a, b) => b.bytesPerRefund - a.bytesPerRefund);
}

/** Lines at WARN or ERROR in a worker's log (the SDK's and the product's). */
function warnings(file: string): { warn: number; error: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { warn: 0, error: 0 };
  }
  // The SDK core's lines are coloured (" WARN" between escape codes), the product's are "[WARN]": count words.
  return { warn: (text.match(/\bWARN\b/g) ?? []).length, error: (text.match(/\bERROR\b/g) ?? []).length };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      concurrency: { type: 'string' },
      workers: { type: 'string' },
      cache: { type: 'string' },
      heap: { type: 'string' },
      hold: { type: 'string' },
      failover: { type: 'boolean' },
      keep: { type: 'boolean' },
      'keep-up': { type: 'boolean' },
    },
  });
  const failover = values.failover ?? false;
  const n = intFlag('count', values.count, failover ? 1_000 : 10_000);
  const concurrency = intFlag('concurrency', values.concurrency, 50);
  const workerCount = intFlag('workers', values.workers, 3);
  const cache = intFlag('cache', values.cache, 250);
  const heapMB = intFlag('heap', values.heap, 384);
  const holdSeconds = intFlag('hold', values.hold, 60);
  if (failover && workerCount < 3) throw new Error('--failover needs --workers 3 or more (one killed, one stopped)');
  const variant = failover ? 'failover' : 'in-flight';

  const stackFile = stackConfigFile();
  const stackConfig = loadStackConfig(stackFile);
  const cluster = clusterSection(stackConfig, stackFile);
  const tag = runTag('S');
  const runDir = path.join(REPO_ROOT, '.data', 'bench', 'scale', `${variant}-${n}-${tag}`);
  mkdirSync(runDir, { recursive: true });

  const t0 = Date.now();
  const loadAvgBefore = os.loadavg().map((x) => round(x, 2));
  if (!values.keep) await reset(cluster, (l) => log(`cluster: ${l}`));
  const upReport = await up(stackConfig, cluster, (l) => log(`cluster: ${l}`));
  log(`cluster up in ${round(upReport.ms / 1000, 1)} s at ${upReport.address} (server ${upReport.serverVersion})`);
  // The bench's client and webhook (support/stack.ts) and the workers connect through Temporal's env convention.
  process.env.TEMPORAL_ADDRESS = upReport.address;
  process.env.TEMPORAL_NAMESPACE = upReport.namespace;

  const keysDir = path.join(runDir, 'keys');
  const stack = await startBenchStack({
    keysDir,
    webhookPort: await freePort(),
    webhook: { signalTimeoutMs: 3_000 },
  });
  const client = stack.client;
  const taskQueue = `bench-scale-${Date.now()}`;
  const bundleFile = await writeWorkflowBundle(path.join(runDir, 'workflow-bundle.js'));
  const workers = Array.from({ length: workerCount }, (_, i) => {
    const dir = path.join(runDir, `worker-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    return new BenchWorkerProcess({
      dir,
      keysDir,
      webhookUrl: stack.webhookUrl,
      temporalAddress: upReport.address,
      namespace: upReport.namespace,
      taskQueue,
      bundleFile,
      env: {
        // BENCH_WORKER_NODE_OPTIONS adds to it (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where a worker's CPU goes).
        NODE_OPTIONS: [`--max-old-space-size=${heapMB}`, process.env.BENCH_WORKER_NODE_OPTIONS]
          .filter(Boolean)
          .join(' '),
        WXREFUND_MAX_CACHED_WORKFLOWS: String(cache),
        // One worker keeps the reconciliation schedules; the others need not race to create them.
        ...(i > 0 ? { WXREFUND_RECONCILE_SCHEDULES: 'off' } : {}),
      },
    });
  });
  const meter = new CallRateMeter(stack.sim);
  const timeline: Record<string, unknown>[] = [];
  let started = 0;
  const sample = async (phase: string, extra: Record<string, unknown> = {}) => {
    const [mem, rows] = await Promise.all([clusterMemory(cluster), estimatedRows(cluster).catch(() => ({}))]);
    const calls = Object.fromEntries(Object.entries(stack.sim.core.calls.snapshot()).map(([k, v]) => [k, v.total]));
    const row = {
      phase,
      atSeconds: round((Date.now() - t0) / 1000, 1),
      load1: load1(),
      started,
      workersMiB: workers.map((w) => rssMiB(w.pid) ?? null),
      serverMiB: mem.processMiB,
      databaseMiB: mem.databaseMiB,
      estimatedRows: rows,
      calls,
      ...extra,
    };
    timeline.push(row);
    console.log(JSON.stringify(row));
    return row;
  };
  let ticking: NodeJS.Timeout | undefined;
  let currentPhase = 'idle';
  const tick = () => {
    ticking = setTimeout(() => {
      sample(currentPhase)
        .catch((e: unknown) => log(`sample failed: ${String(e)}`))
        .finally(() => ticking && tick());
    }, 10_000);
  };

  try {
    await Promise.all(workers.map((w) => w.start()));
    log(`${workerCount} workers polling ${taskQueue} (cache ${cache} workflows, heap ${heapMB} MB each)`);
    const refunds = benchRefunds(tag, n);
    const paidAt = await seedOrders(stack.sim, refunds, BANK_TYPE, 50);
    await sleep(10_000);
    const idle = [await sample('idle'), (await sleep(3_000), await sample('idle'))];
    const idleTables = await tableFigures(cluster);
    tick();

    // Start: every refund requested, `concurrency` at a time.
    currentPhase = 'starting';
    meter.start();
    const startT = Date.now();
    const retries = new Map<string, number>();
    await mapLimit(refunds, concurrency, async (r) => {
      await requestWithRetry(() => requestBenchRefund(client, taskQueue, r, paidAt, BANK_TYPE), retries, log);
      started += 1;
    });
    const requestSeconds = (Date.now() - startT) / 1000;
    log(`${n} requested in ${round(requestSeconds, 1)} s (${round(n / requestSeconds, 1)}/s), load ${load1()}`);
    await waitUntil(
      'all refunds PROCESSING',
      async () => (await count(client, PROCESSING_REFUNDS)) >= n,
      30 * 60_000,
      2_000,
    );
    const allProcessingSeconds = (Date.now() - startT) / 1000;
    const startPeaks = meter.reset();

    // In flight: hold, sampling, so the bank-card polls that fall due are made.
    currentPhase = 'in flight';
    const simProcessing = (await stack.sim.admin.refunds({ owner: MCHID, status: 'PROCESSING' })).length;
    await sleep(holdSeconds * 1_000);
    const inFlight = await sample('in flight');
    const inFlightTables = await tableFigures(cluster);
    const historyBytes = await historyPayloadBytes(cluster);
    const deadInFlight = await deadRows(cluster).catch(() => ({}));
    const ledgersRunning = await count(client, RUNNING_LEDGERS);
    const inFlightPeaks = meter.reset();
    const callsBefore = stack.sim.core.calls.snapshot();

    // Drain: every refund settles at once.
    currentPhase = 'draining';
    const drainT = Date.now();
    const stepper = setInterval(() => void stack.sim.admin.advance({ seconds: 60 }).catch(() => undefined), 5_000);
    const failoverEvents: Record<string, unknown>[] = [];
    const failoverDone = failover ? loseWorkers(workers, client, drainT, failoverEvents) : Promise.resolve();
    await mapLimit(refunds, concurrency, (r: BenchRefund) =>
      stack.sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: 0 }),
    );
    const settleCallsSeconds = (Date.now() - drainT) / 1000;
    await waitUntil('all refunds closed', async () => (await count(client, RUNNING_REFUNDS)) === 0, 40 * 60_000, 1_000);
    const drainSeconds = (Date.now() - drainT) / 1000;
    clearInterval(stepper);
    await failoverDone;
    const drainPeaks = meter.reset();
    currentPhase = 'drained';
    const drained = await sample('drained');
    const callsAfter = stack.sim.core.calls.snapshot();
    const notes = await stack.sim.admin.notifications();
    const deliveryAttempts = notes.reduce((s, x) => s + x.attempts.length, 0);
    const webhookResults = Object.fromEntries(
      (await stack.webhook.metrics.notifications.get()).values.map((v) => [v.labels.result, v.value]),
    );
    const drainedTables = await tableFigures(cluster);
    const checks = await checkOutcome(stack, n);
    log(`drained in ${round(drainSeconds, 1)} s; checks ${JSON.stringify(checks)}`);

    // Failover, last act: the history service restarts; nothing may be lost, and new refunds go through.
    let afterHistoryRestart: Record<string, unknown> | undefined;
    if (failover) {
      const restartT = Date.now();
      await restart(cluster, 'history', (l) => log(`cluster: ${l}`));
      const restartSeconds = (Date.now() - restartT) / 1000;
      const extra = benchRefunds(runTag('P'), 10);
      const extraPaidAt = await seedOrders(stack.sim, extra, BANK_TYPE, 10);
      const extraT = Date.now();
      await mapLimit(extra, 10, (r) =>
        requestWithRetry(() => requestBenchRefund(client, taskQueue, r, extraPaidAt, BANK_TYPE), retries, log),
      );
      await waitUntil(
        'new refunds PROCESSING',
        async () => (await count(client, PROCESSING_REFUNDS)) >= 10,
        5 * 60_000,
        1_000,
      );
      await mapLimit(extra, 10, (r) =>
        stack.sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: 0 }),
      );
      await waitUntil(
        'new refunds closed',
        async () => (await count(client, RUNNING_REFUNDS)) === 0,
        5 * 60_000,
        1_000,
      );
      afterHistoryRestart = {
        restartSeconds: round(restartSeconds, 1),
        newRefunds: extra.length,
        newRefundsSeconds: round((Date.now() - extraT) / 1000, 1),
        checks: await checkOutcome(stack, n + extra.length),
        load1: load1(),
      };
      log(`after history restart: ${JSON.stringify(afterHistoryRestart)}`);
    }
    clearTimeout(ticking);
    ticking = undefined;

    const idleWorkers = workers.map((_, i) => Math.min(...idle.map((r) => (r.workersMiB[i] as number) ?? Infinity)));
    const maxOf = (pick: (row: Record<string, unknown>) => number | undefined) =>
      Math.max(0, ...timeline.map((r) => pick(r) ?? 0));
    const workerPeakMiB = workers.map((_, i) => maxOf((r) => (r.workersMiB as (number | null)[])[i] ?? undefined));
    const serverNames = Object.keys(idle[0].serverMiB);
    const servers = serverNames.map((name) => {
      const idleMiB = Math.min(...idle.map((r) => r.serverMiB[name] ?? Infinity));
      const inFlightMiB = inFlight.serverMiB[name];
      const peakMiB = maxOf((r) => (r.serverMiB as Record<string, number | undefined>)[name]);
      return {
        process: name,
        idleMiB,
        inFlightMiB,
        peakMiB,
        drainedMiB: drained.serverMiB[name],
        miBPer1kRefunds: inFlightMiB === undefined ? undefined : round(((inFlightMiB - idleMiB) / n) * 1000, 1),
      };
    });
    const databases = Object.keys(idle[0].databaseMiB).map((db) => ({
      database: db,
      idleMiB: idle[0].databaseMiB[db],
      inFlightMiB: inFlight.databaseMiB[db],
      drainedMiB: drained.databaseMiB[db],
      miBPer1kRefunds: round(((inFlight.databaseMiB[db] - idle[0].databaseMiB[db]) / n) * 1000, 2),
    }));
    const callDelta = (after: typeof callsAfter, before: typeof callsBefore) =>
      Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v.total - (before[k]?.total ?? 0)]));
    const result = {
      bench: 'scale-cluster',
      variant,
      count: n,
      concurrency,
      workers: workerCount,
      workerSettings: { maxCachedWorkflows: cache, maxOldSpaceSizeMB: heapMB, budget: DEFAULT_BUDGET },
      cluster: {
        serverVersion: upReport.serverVersion,
        historyShards: cluster.numHistoryShards,
        upSeconds: round(upReport.ms / 1000, 1),
      },
      loadAvg: {
        atStart: idle[0].load1,
        inFlight: inFlight.load1,
        drained: drained.load1,
        before: loadAvgBefore,
        after: os.loadavg().map((x) => round(x, 2)),
      },
      start: {
        requestSeconds: round(requestSeconds, 1),
        requestsPerSecond: round(n / requestSeconds, 1),
        allProcessingSeconds: round(allProcessingSeconds, 1),
        simulatorProcessing: simProcessing,
        ledgersRunning,
        retriedRequests: Object.fromEntries(retries),
      },
      memory: {
        workers: workers.map((_, i) => ({
          worker: i + 1,
          idleMiB: idleWorkers[i],
          inFlightMiB: inFlight.workersMiB[i],
          peakMiB: workerPeakMiB[i],
        })),
        servers,
        databases,
      },
      storage: {
        historyEventBytes: historyBytes,
        historyEventBytesPerRefund: Math.round(historyBytes / n),
        perRefundInFlight: perRefund(idleTables, inFlightTables, n),
        perRefundDrained: perRefund(idleTables, drainedTables, n),
        tablesInFlight: sumRows(inFlightTables),
        deadRowVersionsInFlight: deadInFlight,
      },
      wechatCalls: {
        budgetPerSecond: DEFAULT_BUDGET,
        queueRatePerSecond: { create: DEFAULT_BUDGET.createsPerSecond / 2, query: DEFAULT_BUDGET.queriesPerSecond / 2 },
        peaks: { starting: startPeaks, inFlight: inFlightPeaks, draining: drainPeaks },
        whileInFlight: Object.fromEntries(Object.entries(callsBefore).map(([k, v]) => [k, v.total])),
        duringDrain: callDelta(callsAfter, callsBefore),
      },
      drain: {
        settleCallsSeconds: round(settleCallsSeconds, 1),
        allClosedSeconds: round(drainSeconds, 1),
        refundsPerSecond: round(n / drainSeconds, 1),
        notifications: notes.length,
        deliveryAttempts,
        deliveriesPerNotification: round(deliveryAttempts / Math.max(1, notes.length), 2),
        webhookResults,
        ledgersRunningAfter: await count(client, RUNNING_LEDGERS),
      },
      checks,
      failover: failover ? { events: failoverEvents, afterHistoryRestart } : undefined,
      workerLogs: workers.map((w) => ({ log: path.relative(REPO_ROOT, w.logFile), ...warnings(w.logFile) })),
      timeline,
    };
    console.log(
      `${n} refunds on the cluster: accepted ${result.start.requestsPerSecond}/s; drain ${result.drain.allClosedSeconds} s; ` +
        `worker peaks ${workerPeakMiB.join(', ')} MiB; checks ${JSON.stringify(checks)}`,
    );
    writeFileSync(path.join(runDir, 'result.json'), JSON.stringify(result, null, 2));
    copyFileSync(path.join(runDir, 'result.json'), `${runDir}.json`);
    emitResult(result);
  } catch (e) {
    // Said before the clean-up: closing the connections can end the process with an error of its own.
    console.error(`[scale] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    throw e;
  } finally {
    clearTimeout(ticking);
    ticking = undefined;
    meter.stop();
    await Promise.all(workers.map((w) => w.stop()));
    await stack.close();
    rmSync(keysDir, { recursive: true, force: true });
    rmSync(bundleFile, { force: true });
    if (!values['keep-up']) await down(cluster, (l) => log(`cluster: ${l}`));
  }
}

/**
 * The failover of issue 19: 5 s into the drain the first worker is SIGKILLed (a host lost: its activities die
 * mid-call, its cached workflows are gone, its sticky queue goes unanswered), 5 s later the second gets SIGTERM (a
 * deploy: polling stops, running activities finish). What each left behind is recorded.
 */
async function loseWorkers(
  workers: BenchWorkerProcess[],
  client: Client,
  drainT: number,
  events: Record<string, unknown>[],
): Promise<void> {
  const at = () => round((Date.now() - drainT) / 1000, 1);
  await sleep(5_000);
  const runningAtKill = await count(client, RUNNING_REFUNDS);
  await workers[0].kill('SIGKILL');
  events.push({ atSeconds: at(), worker: 1, signal: 'SIGKILL', refundsRunning: runningAtKill });
  log(`worker 1 SIGKILLed with ${runningAtKill} refunds running`);
  await sleep(5_000);
  const runningAtTerm = await count(client, RUNNING_REFUNDS);
  const termT = Date.now();
  await workers[1].kill('SIGTERM');
  events.push({
    atSeconds: at(),
    worker: 2,
    signal: 'SIGTERM',
    refundsRunning: runningAtTerm,
    exitSeconds: round((Date.now() - termT) / 1000, 1),
  });
  log(`worker 2 stopped by SIGTERM with ${runningAtTerm} refunds running`);
}

runMain(main);
