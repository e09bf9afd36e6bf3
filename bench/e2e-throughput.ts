/**
 * Bench 1: end-to-end refunds per second on the local dev server, next to a minimal workflow measured in the same run.
 *
 *   refund:   requestRefund (update-with-start on the order ledger) → ledger starts the refund workflow → submitRefund
 *             (v3 gateway → simulator) → once the simulator has answered the create (it tells the bench in process:
 *             support/observe.ts) it settles the refund (admin force SUCCESS) and sends the signed, encrypted
 *             notification → webhook (verify, decrypt, signal) → workflow completed SUCCESS (`handle.result()`).
 *   baseline: start a minimal workflow with one (no-op) activity; once that activity has returned (the bench's own
 *             worker tells it in process) signal it once; workflow completed (`handle.result()`).
 *
 * Neither side asks the workflow anything while it runs: the bench learns "the one activity is done" from WeChat's
 * side of it (the simulator, or the baseline activity itself), as the real order service would learn nothing at all,
 * and the notification (signal) may reach the workflow before it has recorded that activity's result, on both sides.
 *
 * Both run on the same dev server, task queue and worker settings, with the same number of requests in flight
 * (`--concurrency`), in alternating rounds so machine noise hits both alike. Ratio = refund rate / baseline rate.
 *
 * Usage: npx ts-node --transpile-only bench/e2e-throughput.ts [--count 300] [--concurrency 20] [--rounds 2]
 */
import { parseArgs } from 'node:util';
import { baselineNotifiedSignal, minimalWorkflow } from './baseline/workflows';
import { baselineSubmitted, createsAnswered } from './support/observe';
import {
  benchRefunds,
  refundResult,
  requestBenchRefund,
  seedOrders,
  settleAtWechat,
  type BenchRefund,
} from './support/refunds';
import { runTag, runWorker, startBenchStack, type BenchStack } from './support/stack';
import { emitResult, intFlag, mapLimit, percentile, round, runMain } from './support/util';

interface Batch {
  n: number;
  wallMs: number;
  latencies: number[];
}

async function refundBatch(stack: BenchStack, taskQueue: string, n: number, concurrency: number): Promise<Batch> {
  const refunds = benchRefunds(runTag('E'), n);
  // Preparation (not timed): the paid orders at the simulator.
  const paidAt = await seedOrders(stack.sim, refunds, 'OTHERS');
  const creates = createsAnswered(stack.sim);
  const latencies: number[] = [];
  const started = Date.now();
  await mapLimit(refunds, concurrency, async (r: BenchRefund) => {
    const t0 = Date.now();
    const answered = creates.wait(r.outRefundNo);
    await requestBenchRefund(stack.client, taskQueue, r, paidAt, 'OTHERS');
    // WeChat settles the refund once it has accepted it: the simulator then sends the signed, encrypted notification
    // to the webhook, which verifies, decrypts and signals.
    await answered;
    await settleAtWechat(stack.sim, r);
    await refundResult(stack.client, r);
    latencies.push(Date.now() - t0);
  });
  return { n, wallMs: Date.now() - started, latencies };
}

async function baselineBatch(stack: BenchStack, taskQueue: string, n: number, concurrency: number): Promise<Batch> {
  const tag = runTag('B');
  const latencies: number[] = [];
  const started = Date.now();
  await mapLimit(
    Array.from({ length: n }, (_, i) => `baseline-${tag}-${i}`),
    concurrency,
    async (id) => {
      const t0 = Date.now();
      const submitted = baselineSubmitted.wait(id);
      const handle = await stack.client.workflow.start(minimalWorkflow, { taskQueue, workflowId: id, args: [id] });
      // The same step as the refund side: once the activity is done (known in process), signal.
      await submitted;
      await handle.signal(baselineNotifiedSignal, { id });
      await handle.result();
      latencies.push(Date.now() - t0);
    },
  );
  return { n, wallMs: Date.now() - started, latencies };
}

function summarize(label: string, batches: Batch[]) {
  const n = batches.reduce((s, b) => s + b.n, 0);
  const wallMs = batches.reduce((s, b) => s + b.wallMs, 0);
  const lat = batches.flatMap((b) => b.latencies).sort((a, b) => a - b);
  return {
    side: label,
    completed: n,
    wallSeconds: round(wallMs / 1000, 1),
    perSecond: round((n / wallMs) * 1000, 2),
    latencyMedianMs: percentile(lat, 50),
    latencyP99Ms: percentile(lat, 99),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const count = intFlag('count', values.count, 300);
  const concurrency = intFlag('concurrency', values.concurrency, 20);
  const rounds = intFlag('rounds', values.rounds, 2);
  const perRound = Math.ceil(count / rounds);

  const stack = await startBenchStack();
  const taskQueue = `bench-e2e-${Date.now()}`;
  const t = stack.temporal!;
  const [refund, baseline] = await runWorker(t, stack.gateway, taskQueue, async () => {
    // Warm-up (not counted): bundles loaded, connections open, JIT warm on both paths.
    await baselineBatch(stack, taskQueue, 10, concurrency);
    await refundBatch(stack, taskQueue, 10, concurrency);
    const r: Batch[] = [];
    const b: Batch[] = [];
    for (let i = 0; i < rounds; i++) {
      b.push(await baselineBatch(stack, taskQueue, perRound, concurrency));
      r.push(await refundBatch(stack, taskQueue, perRound, concurrency));
    }
    return [
      summarize('refund (starter → ledger → refund → notification)', r),
      summarize('baseline (1 activity + 1 signal)', b),
    ];
  });
  const calls = await stack.sim.admin.calls();
  const notes = await stack.sim.admin.notifications({ state: 'DELIVERED' });
  await stack.close();

  const ratio = round(refund.perSecond / baseline.perSecond, 3);
  console.log(`end-to-end throughput, ${concurrency} in flight, ${rounds} alternating rounds (+ warm-up)`);
  console.table([refund, baseline]);
  console.log(`ratio refund / baseline throughput = ${ratio}`);
  emitResult({
    bench: 'e2e-throughput',
    count: perRound * rounds,
    concurrency,
    rounds,
    refund,
    baseline,
    ratio,
    simulatorCalls: Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v.total])),
    notificationsDelivered: notes.length,
  });
}

runMain(main);
