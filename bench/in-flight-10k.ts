/**
 * Bench 5: 10,000 refunds in flight at once, waiting on bank-card timers: worker and dev-server memory, then the time
 * to drain them when they all settle.
 *
 * Path: the real product path. The Temporal dev server (SQLite file, as temporal-dev.yml runs it) and the real worker
 * (`src/cli/worker.ts`, a child process with WXREFUND_* env: its RSS is its own) are separate processes; the simulator
 * (frozen clock, create/query budgets raised) and the webhook run in this process. Refunds are requested through the
 * starter (update-with-start on one ledger per order), `--concurrency` at a time, paid by bank card (ICBC_DEBIT), so
 * each refund workflow sits in PROCESSING on the bank-card poll schedule (+1 min, +5 min, +30 min, +2 h …; the polls
 * that fall due during the run are made, and answer PROCESSING).
 *
 * Memory: VmRSS of the worker and the dev server, idle after start-up with zero workflows (baseline), and with every
 * refund PROCESSING; reported as ratio in-flight/idle and MiB per 1,000 refunds.
 * Drain: every refund forced to SUCCESS at the simulator at once (bounded by `--concurrency` admin calls); each
 * notification goes to the webhook → signal → workflow completes (and tells its ledger). Timed until visibility counts
 * no running refund workflow. (Ledgers stay open by design until the order's one-year refund window closes; their
 * count is reported.) The simulator's clock is stepped by 60 s every 5 s during the drain so
 * that a notification the webhook answered with 5xx (Temporal too slow) is retried as WeChat would.
 *
 * Usage: npx ts-node --transpile-only bench/in-flight-10k.ts [--count 10000] [--concurrency 50]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { freePort } from '../src/stack/free-port';
import { benchRefunds, requestBenchRefund, seedOrders } from './support/refunds';
import { MCHID, runTag, startBenchStack, tempDir } from './support/stack';
import { BenchWorkerProcess } from './support/worker-process';
import { emitResult, intFlag, mapLimit, round, rssMiB, runMain, sleep, waitUntil } from './support/util';

const count = (client: Client, query: string) => client.workflow.count(query).then((c) => c.count);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' }, concurrency: { type: 'string' } } });
  const n = intFlag('count', values.count, 10_000);
  const concurrency = intFlag('concurrency', values.concurrency, 50);
  const bankType = 'ICBC_DEBIT';

  const tmp = tempDir('inflight');
  const keysDir = path.join(tmp.dir, 'keys');
  const webhookPort = await freePort();
  const stack = await startBenchStack({
    keysDir,
    webhookPort,
    dbFile: path.join(tmp.dir, 'temporal.sqlite'),
    webhook: { signalTimeoutMs: 3_000 },
  });
  const t = stack.temporal!;
  const serverPid = t.devServer?.process.pid;
  const taskQueue = `bench-inflight-${Date.now()}`;
  const worker = new BenchWorkerProcess({
    dir: tmp.dir,
    keysDir,
    webhookUrl: stack.webhookUrl,
    temporalAddress: t.address,
    namespace: t.namespace,
    taskQueue,
  });
  const client = stack.client;
  const timeline: Record<string, unknown>[] = [];
  const sample = (phase: string, extra: Record<string, unknown> = {}) => {
    const row = {
      phase,
      atSeconds: round((Date.now() - t0) / 1000, 1),
      workerMiB: rssMiB(worker.pid),
      serverMiB: rssMiB(serverPid),
      benchMiB: round(process.memoryUsage().rss / 2 ** 20, 1),
      ...extra,
    };
    timeline.push(row);
    console.log(JSON.stringify(row));
    return row;
  };
  const t0 = Date.now();
  try {
    await worker.start();
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
    await mapLimit(refunds, concurrency, async (r) => {
      await requestBenchRefund(client, taskQueue, r, paidAt, bankType);
      started += 1;
    });
    clearInterval(ticker);
    const requestSeconds = (Date.now() - startT) / 1000;
    // Every refund accepted by WeChat and PROCESSING in its workflow (search attribute RefundStatus).
    const processingQuery = `WorkflowType = "refundWorkflow" AND ExecutionStatus = "Running" AND RefundStatus = "PROCESSING"`;
    await waitUntil(
      'all refunds PROCESSING',
      async () => (await count(client, processingQuery)) >= n,
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
    const runningLedgers = await count(client, `WorkflowType = "orderLedgerWorkflow" AND ExecutionStatus = "Running"`);
    const callsBefore = await stack.sim.admin.calls();

    // Drain: settle everything, time until nothing runs.
    const drainT = Date.now();
    const stepper = setInterval(() => void stack.sim.admin.advance({ seconds: 60 }).catch(() => undefined), 5_000);
    const drainTicker = setInterval(() => sample('draining'), 10_000);
    await mapLimit(refunds, concurrency, (r) =>
      stack.sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: 0 }),
    );
    const settleCallsSeconds = (Date.now() - drainT) / 1000;
    await waitUntil(
      'all refunds closed',
      async () => (await count(client, `WorkflowType = "refundWorkflow" AND ExecutionStatus = "Running"`)) === 0,
      30 * 60_000,
      1_000,
    );
    const drainSeconds = (Date.now() - drainT) / 1000;
    clearInterval(stepper);
    clearInterval(drainTicker);
    const after = sample('drained');
    const callsAfter = await stack.sim.admin.calls();
    const notes = await stack.sim.admin.notifications();
    const deliveryAttempts = notes.reduce((s, x) => s + x.attempts.length, 0);
    const webhookResults = Object.fromEntries(
      (await stack.webhook.metrics.notifications.get()).values.map((v) => [v.labels.result, v.value]),
    );
    const ledgersAfterDrain = await count(
      client,
      `WorkflowType = "orderLedgerWorkflow" AND ExecutionStatus = "Running"`,
    );
    const succeeded = await count(client, `WorkflowType = "refundWorkflow" AND RefundStatus = "SUCCESS"`);
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
    };
    console.log(`${n} bank-card refunds in flight (${concurrency} requests at a time)`);
    console.log(
      `requested in ${round(requestSeconds, 1)} s (${round(n / requestSeconds, 1)}/s); all PROCESSING after ` +
        `${round(allProcessingSeconds, 1)} s; simulator PROCESSING ${simProcessing}; ledgers running ${runningLedgers}`,
    );
    console.table(memory);
    console.table([drain]);
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
      webhookResults,
      invariantsOk: (invariants as { ok?: boolean }).ok,
      timeline,
    });
  } finally {
    await worker.stop();
    await stack.close();
    tmp.remove();
  }
}

runMain(main);
