/**
 * Bench 5: 10,000 refunds in flight at once, waiting on bank-card timers: worker and dev-server memory, then the time
 * to drain them when they all settle.
 *
 * Path: the real product path. The Temporal dev server (SQLite file, as temporal-dev.yml runs it), the real worker
 * (`src/cli/worker.ts`, a child process with WXREFUND_* env: its RSS is its own) and the real webhook
 * (`src/cli/webhook.ts`, read through its /metrics) are separate processes; the simulator (frozen clock, create/query
 * budgets raised), which plays WeChat, runs in this process. (Until 2026-12-03 the webhook ran in this process too,
 * and a burst of notifications starved the loop both shared: deliveries timed out before the webhook saw them.)
 * Refunds are requested through the starter (update-with-start on one ledger per order), `--concurrency` at a time,
 * paid by bank card (ICBC_DEBIT), so each refund workflow sits in PROCESSING on the bank-card poll schedule (+1 min,
 * +5 min, +30 min, +2 h …; the polls that fall due during the run are made, and answer PROCESSING).
 *
 * Memory: VmRSS of the worker and the dev server, idle after start-up with zero workflows (baseline), and with every
 * refund PROCESSING; reported as ratio in-flight/idle and MiB per 1,000 refunds.
 * Drain: every refund settles at the same simulated instant: each is forced to SUCCESS one simulated second ahead
 * (the simulator's clock is frozen, so nothing settles while the `--concurrency` admin calls run), then the clock is
 * moved by that second and all `--count` notifications leave at once, as WeChat's would after a bank's batch. Each one
 * goes to the webhook → signal → workflow completes (and tells its ledger). Timed until visibility counts no running
 * refund workflow (never a per-refund status query). (Ledgers stay open by design until the order's one-year refund
 * window closes; their count is reported.) The simulator's clock then follows real time (stepped 5 s every 5 s) so
 * that a notification the webhook answered with 5xx, or not within 5 s, is retried when WeChat would (15 s, 15 s,
 * 30 s, 3 min …). Until 2026-12-03 it was stepped 60 s every 5 s: that compressed the schedule ~12×, and while the
 * simulator and the webhook starved this process's event loop in a burst, every late answer came back as a retry
 * within the next 5 s (16,344 delivery attempts for 2,000 notifications), far faster than WeChat retries.
 *
 * Deliveries per notification = notification requests the webhook answered during the drain / refunds (target
 * ≤ 1.2: each extra one is a 503 WeChat had to retry); the answers are reported by HTTP status as WeChat saw them (the
 * simulator's attempt log, "none" = no reply within 5 s) and by the webhook's result. After the drain the bench waits
 * (up to 2 minutes) until no notification is still due for a retry; one WeChat still holds then (no 200 seen in time,
 * a retry scheduled) is counted as "unacknowledged": not lost (every refund's outcome is checked apart), but one
 * more delivery to come. (Until 2026-12-03 this count was called "lost".)
 *
 * Usage: npx ts-node --transpile-only bench/in-flight-10k.ts [--count 10000] [--concurrency 50]
 *                                                             [--signal-concurrency <webhook.signalConcurrency>]
 *                                                             [--signal-timeout-ms <webhook.signalTimeoutMs, 3000>]
 */
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/stack/free-port';
import { webhookConfigSchema } from '../src/webhook/config';
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
} from './support/refunds';
import { MCHID, runTag, startBenchStack, tempDir } from './support/stack';
import { BenchWebhookProcess, type MetricSample } from './support/webhook-process';
import { BenchWorkerProcess } from './support/worker-process';
import { emitResult, intFlag, mapLimit, percentile, round, rssMiB, runMain, sleep, waitUntil } from './support/util';

/** `after` − `before`, key by key. */
function bucketDelta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

function countBy(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** Sums a counter's samples by one label (e.g. the webhook's answers by `result`). */
function sumBy(samples: readonly MetricSample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples.filter((x) => x.name === name)) out[s.labels[label]] = (out[s.labels[label]] ?? 0) + s.value;
  return out;
}

/** Answers the webhook gave within each bucket bound (seconds, cumulative), all API versions and results summed. */
function answerBuckets(samples: readonly MetricSample[]): Record<string, number> {
  return sumBy(
    samples.filter((x) => x.labels.le !== undefined),
    'wechatpay_webhook_notification_duration_seconds_bucket',
    'le',
  );
}

/** What the webhook process's /metrics says so far: its answers by result, refusals, signals, outbox relays. */
async function webhookCounters(webhook: BenchWebhookProcess) {
  const samples = await webhook.metrics();
  const byResult = sumBy(samples, 'wechatpay_webhook_notifications_total', 'result');
  const pick = (name: string) => samples.find((x) => x.name === name)?.value ?? 0;
  return {
    answered: { total: Object.values(byResult).reduce((a, b) => a + b, 0), byResult },
    // Why the webhook refused what it refused (HANDLER_TIMEOUT, NO_TIME_TO_SIGNAL, …).
    refusals: sumBy(samples, 'wechatpay_webhook_rejections_total', 'reason'),
    signals: {
      count: pick('wechatpay_webhook_signal_duration_seconds_count'),
      sum: pick('wechatpay_webhook_signal_duration_seconds_sum'),
    },
    // Notifications answered 200 from the outbox and signalled afterwards by its relay, by the signal's outcome.
    outboxRelayed: sumBy(samples, 'wechatpay_webhook_outbox_relayed_total', 'outcome'),
    // The webhook's own time from request received to answer (every result): cumulative count per bucket bound.
    answeredWithin: answerBuckets(samples),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      concurrency: { type: 'string' },
      'signal-concurrency': { type: 'string' },
      'signal-timeout-ms': { type: 'string' },
    },
  });
  const n = intFlag('count', values.count, 10_000);
  const signalTimeoutMs = intFlag('signal-timeout-ms', values['signal-timeout-ms'], 3_000);
  const concurrency = intFlag('concurrency', values.concurrency, 50);
  const signalConcurrency =
    values['signal-concurrency'] === undefined
      ? undefined
      : intFlag('signal-concurrency', values['signal-concurrency'], 1);
  const bankType = 'ICBC_DEBIT';

  const tmp = tempDir('inflight');
  const keysDir = path.join(tmp.dir, 'keys');
  const webhookPort = await freePort();
  const stack = await startBenchStack({
    keysDir,
    webhookPort,
    webhookElsewhere: true,
    dbFile: path.join(tmp.dir, 'temporal.sqlite'),
  });
  const t = stack.temporal!;
  const serverPid = t.devServer?.process.pid;
  const webhookSettings = { signalTimeoutMs, ...(signalConcurrency ? { signalConcurrency } : {}) };
  const webhook = new BenchWebhookProcess({
    dir: tmp.dir,
    keysDir,
    port: webhookPort,
    temporalAddress: t.address,
    namespace: t.namespace,
    webhook: webhookSettings,
  });
  const effectiveSignalConcurrency = webhookConfigSchema.parse(webhookSettings).signalConcurrency;
  const taskQueue = `bench-inflight-${Date.now()}`;
  const worker = BenchWorkerProcess.onStack(stack, { dir: tmp.dir, keysDir, taskQueue });
  const client = stack.client;
  const timeline: Record<string, unknown>[] = [];
  const sample = (phase: string, extra: Record<string, unknown> = {}) => {
    const row = {
      phase,
      atSeconds: round((Date.now() - t0) / 1000, 1),
      workerMiB: rssMiB(worker.pid),
      serverMiB: rssMiB(serverPid),
      webhookMiB: rssMiB(webhook.pid),
      benchMiB: round(process.memoryUsage().rss / 2 ** 20, 1),
      load1: round(os.loadavg()[0], 2),
      ...extra,
    };
    timeline.push(row);
    console.log(JSON.stringify(row));
    return row;
  };
  const t0 = Date.now();
  try {
    await Promise.all([worker.start(), webhook.start()]);
    const refunds = benchRefunds(runTag('F'), n);
    const paidAt = await seedOrders(stack.sim, refunds, bankType, 50);
    await sleep(5_000);
    const idle = [sample('idle'), (await sleep(2_000), sample('idle')), (await sleep(2_000), sample('idle'))];
    const idleWorker = Math.min(...idle.map((r) => r.workerMiB ?? Infinity));
    const idleServer = Math.min(...idle.map((r) => r.serverMiB ?? Infinity));

    // Start all refunds, `concurrency` requests in flight; sample memory every 10 s.
    let started = 0;
    const startT = Date.now();
    const ticker = setInterval(() => sample('starting', { started }), 10_000);
    const retries = new Map<string, number>();
    await mapLimit(refunds, concurrency, async (r) => {
      await requestWithRetry(() => requestBenchRefund(client, taskQueue, r, paidAt, bankType), retries, console.log);
      started += 1;
    });
    clearInterval(ticker);
    const requestSeconds = (Date.now() - startT) / 1000;
    // Every refund accepted by WeChat and PROCESSING in its workflow.
    await waitUntil(
      'all refunds PROCESSING',
      async () => (await count(client, PROCESSING_REFUNDS)) >= n,
      30 * 60_000,
      2_000,
    );
    const allProcessingSeconds = (Date.now() - startT) / 1000;
    const simProcessing = (await stack.sim.admin.refunds({ owner: MCHID, status: 'PROCESSING' })).length;
    await sleep(10_000);
    const loaded = [
      sample('in flight'),
      (await sleep(3_000), sample('in flight')),
      (await sleep(3_000), sample('in flight')),
    ];
    const loadedWorker = Math.max(...loaded.map((r) => r.workerMiB ?? 0));
    const loadedServer = Math.max(...loaded.map((r) => r.serverMiB ?? 0));
    const runningLedgers = await count(client, RUNNING_LEDGERS);
    const callsBefore = await stack.sim.admin.calls();

    // Drain: every refund settles at the same simulated instant, then time until nothing runs.
    const forceT = Date.now();
    await mapLimit(refunds, concurrency, (r) =>
      stack.sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: 1 }),
    );
    const settleCallsSeconds = (Date.now() - forceT) / 1000;
    const before = await webhookCounters(webhook);
    const answeredBefore = before.answered;
    const drainT = Date.now();
    // The simulator (WeChat: signing, sending) runs in this process; a starved loop here would send late.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    // Not awaited: advance() resolves once every delivery it started has been answered.
    void stack.sim.clock.advance(1_000).catch(() => undefined);
    const stepper = setInterval(() => void stack.sim.clock.advance(5_000).catch(() => undefined), 5_000);
    const drainTicker = setInterval(() => sample('draining'), 10_000);
    await waitUntil('all refunds closed', async () => (await count(client, RUNNING_REFUNDS)) === 0, 30 * 60_000, 1_000);
    const drainSeconds = (Date.now() - drainT) / 1000;
    clearInterval(drainTicker);
    loopDelay.disable();
    const after = sample('drained');
    // A refund can close on its own poll while its notification still waits for a retry: count those deliveries too.
    const pending = async () =>
      (await stack.sim.admin.notifications()).filter((x) => x.state === 'SCHEDULED' || x.state === 'IN_FLIGHT');
    await waitUntil(
      'no notification due for a retry',
      async () => (await pending()).length === 0,
      120_000,
      1_000,
    ).catch((err: Error) => console.warn(err.message));
    clearInterval(stepper);
    const callsAfter = await stack.sim.admin.calls();
    const notes = await stack.sim.admin.notifications();
    const deliveryAttempts = notes.reduce((s, x) => s + x.attempts.length, 0);
    const notificationStates = countBy(notes.map((x) => x.state));
    const answersByStatus = countBy(notes.flatMap((x) => x.attempts.map((a) => String(a.statusCode ?? 'none'))));
    // How long WeChat (the simulator) waited for each answer it got, from sending the request.
    const answerLatencies = notes
      .flatMap((x) => x.attempts.filter((a) => a.statusCode !== undefined).map((a) => a.latencyMs))
      .sort((a, b) => a - b);
    const answerLatencyMs = {
      p50: percentile(answerLatencies, 50),
      p99: percentile(answerLatencies, 99),
      max: answerLatencies[answerLatencies.length - 1],
    };
    const counters = await webhookCounters(webhook);
    const answeredAfter = counters.answered;
    const webhookResults = Object.fromEntries(
      Object.entries(answeredAfter.byResult).map(([k, v]) => [k, v - (answeredBefore.byResult[k] ?? 0)]),
    );
    const webhookAnswered = answeredAfter.total - answeredBefore.total;
    const webhookReasons = counters.refusals;
    const signalTime = counters.signals;
    const outboxRelayed = counters.outboxRelayed;
    const ledgersAfterDrain = await count(client, RUNNING_LEDGERS);
    const succeeded = await count(client, `${REFUNDS} AND RefundStatus = "SUCCESS"`);
    const invariants = await stack.sim.admin.invariants();

    const per1k = (loadedV: number, idleV: number) => round(((loadedV - idleV) / n) * 1000, 1);
    const memory = [
      {
        process: 'worker (src/cli/worker.ts)',
        idleMiB: idleWorker,
        inFlightMiB: loadedWorker,
        drainedMiB: after.workerMiB,
        ratio: round(loadedWorker / idleWorker),
        miBPer1kRefunds: per1k(loadedWorker, idleWorker),
      },
      {
        process: 'Temporal dev server',
        idleMiB: idleServer,
        inFlightMiB: loadedServer,
        drainedMiB: after.serverMiB,
        ratio: round(loadedServer / idleServer),
        miBPer1kRefunds: per1k(loadedServer, idleServer),
      },
    ];
    const drain = {
      refunds: n,
      settleCallsSeconds: round(settleCallsSeconds, 1),
      allClosedSeconds: round(drainSeconds, 1),
      refundsPerSecond: round(n / drainSeconds, 1),
      webhookAnswered,
      deliveriesPerNotification: round(webhookAnswered / n, 2),
      answersByStatus: JSON.stringify(answersByStatus),
      unacknowledged: notes.filter((x) => x.state !== 'DELIVERED').length,
      signalMeanMs: round((signalTime.sum / Math.max(1, signalTime.count)) * 1000, 1),
      signalsStarted: signalTime.count,
      benchLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
      benchLoopDelayMaxMs: round(loopDelay.max / 1e6, 1),
      load1: round(os.loadavg()[0], 2),
    };
    console.log(`${n} bank-card refunds in flight (${concurrency} requests at a time)`);
    console.log(
      `requested in ${round(requestSeconds, 1)} s (${round(n / requestSeconds, 1)}/s); all PROCESSING after ` +
        `${round(allProcessingSeconds, 1)} s; simulator PROCESSING ${simProcessing}; ledgers running ${runningLedgers}`,
    );
    console.table(memory);
    console.table([drain]);
    console.log(
      `drain: ${n} refunds settled at once, all closed in ${round(drainSeconds, 1)} s (${drain.refundsPerSecond}/s); ` +
        `${webhookAnswered} notification requests answered = ${drain.deliveriesPerNotification} per notification ` +
        `(target ≤ 1.2); answers by status ${JSON.stringify(answersByStatus)}, as WeChat waited for them (ms) ` +
        `${JSON.stringify(answerLatencyMs)}; webhook answered within (s, cumulative) ` +
        `${JSON.stringify(bucketDelta(counters.answeredWithin, before.answeredWithin))}; webhook results ` +
        `${JSON.stringify(webhookResults)}, reasons ${JSON.stringify(webhookReasons)}; relayed from the outbox ` +
        `${JSON.stringify(outboxRelayed)}; notification states ` +
        `${JSON.stringify(notificationStates)}; signal concurrency ${effectiveSignalConcurrency}; ` +
        `load average (1/5/15 min) ${os
          .loadavg()
          .map((x) => round(x, 2))
          .join(' / ')}`,
    );
    const callDelta = (after: typeof callsAfter, before: typeof callsBefore) =>
      Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v.total - (before[k]?.total ?? 0)]));
    emitResult({
      bench: 'in-flight-10k',
      count: n,
      concurrency,
      requestSeconds: round(requestSeconds, 1),
      requestsPerSecond: round(n / requestSeconds, 1),
      allProcessingSeconds: round(allProcessingSeconds, 1),
      simulatorProcessing: simProcessing,
      ledgersRunning: runningLedgers,
      ledgersRunningAfterDrain: ledgersAfterDrain,
      memory,
      drain,
      succeeded,
      callsWhileInFlight: Object.fromEntries(Object.entries(callsBefore).map(([k, v]) => [k, v.total])),
      callsDuringDrain: callDelta(callsAfter, callsBefore),
      notificationAttempts: deliveryAttempts,
      notifications: notes.length,
      notificationStates,
      answersByStatus,
      webhookAnswered,
      deliveriesPerNotification: drain.deliveriesPerNotification,
      unacknowledged: drain.unacknowledged,
      webhookResults,
      webhookReasons,
      signalMeanMs: drain.signalMeanMs,
      signalsStarted: drain.signalsStarted,
      outboxRelayed,
      retriedRequests: Object.fromEntries(retries),
      benchLoopDelayP99Ms: drain.benchLoopDelayP99Ms,
      benchLoopDelayMaxMs: drain.benchLoopDelayMaxMs,
      answerLatencyMs,
      webhookAnsweredWithin: bucketDelta(counters.answeredWithin, before.answeredWithin),
      signalConcurrency: effectiveSignalConcurrency,
      signalTimeoutMs,
      loadAvgEnd: os.loadavg().map((x) => round(x, 2)),
      invariantsOk: (invariants as { ok?: boolean }).ok,
      timeline,
    });
  } finally {
    await Promise.all([worker.stop(), webhook.stop()]);
    await stack.close();
    tmp.remove();
  }
}

runMain(main);
