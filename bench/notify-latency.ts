/**
 * Bench 2: notify → workflow-completed latency on a real Temporal dev server, next to a bare signal → completed
 * latency measured in the same run.
 *
 * Refund side: the real refund workflow (started through the starter: order ledger → refund child; real activities,
 * v3 gateway) submits N refunds to the simulator (frozen clock) and waits in PROCESSING. Then, per refund, the refund
 * is settled (admin "force SUCCESS now"), the simulator delivers the signed, encrypted v3 notification to the webhook,
 * the webhook verifies, decrypts and signals, and the workflow completes.
 * Latency = workflow close time (Temporal) − start of the notification's HTTP delivery (simulator).
 *
 * Baseline: N minimal workflows (one activity, then wait for one signal) waiting on the same server and worker; the
 * bench signals them directly. Latency = workflow close time − just before the signal call.
 *
 *   sequential: one notification (signal) in flight at a time (the latency one notification sees)
 *   burst:      all N at once (WeChat catching up after an outage)
 *
 * Ratio = refund median / baseline median (and the same for p99), per mode.
 *
 * Nothing asks the workflows anything while latencies are measured: completion is `handle.result()` on both sides,
 * and close times are read (describe, simulator records) only once every workflow of the batch has closed. Getting
 * ready (not measured) knows that WeChat has each create from the simulator itself (support/observe.ts), and the
 * baseline's activity return from the bench's own worker, then checks once per 250 ms that each workflow is waiting.
 *
 * Usage: npx ts-node --transpile-only bench/notify-latency.ts [--count 150] [--mode both|sequential|burst]
 * Uses TEMPORAL_ADDRESS when set, else starts an in-memory dev server of its own.
 */
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../src/workflows/definitions';
import { baselineNotifiedSignal, baselineStageQuery, minimalWorkflow } from './baseline/workflows';
import { baselineSubmitted, createsAnswered } from './support/observe';
import {
  benchRefunds,
  refundResult,
  requestBenchRefund,
  seedOrders,
  settleAtWechat,
  waitForState,
  type BenchRefund,
} from './support/refunds';
import { runTag, runWorker, startBenchStack, type BenchStack } from './support/stack';
import { emitResult, intFlag, mapLimit, percentile, round, runMain } from './support/util';

/** Getting ready (not measured): how often a workflow is asked whether it waits yet. */
const READY_CHECK_MS = 250;

interface Sample {
  /** Delivery (or signal) start → workflow closed. */
  totalMs: number;
  /** Refund side: delivery start → webhook's 200 received by the sender (verify + decrypt + signal accepted). */
  answerMs?: number;
}

function summary(side: string, mode: string, samples: Sample[], wallMs: number) {
  const s = samples.map((x) => x.totalMs).sort((a, b) => a - b);
  const a = samples.flatMap((x) => (x.answerMs === undefined ? [] : [x.answerMs])).sort((x, y) => x - y);
  return {
    side,
    mode,
    n: s.length,
    medianMs: percentile(s, 50),
    p90Ms: percentile(s, 90),
    p99Ms: percentile(s, 99),
    maxMs: s[s.length - 1],
    ...(a.length ? { webhookAnswerMedianMs: percentile(a, 50), webhookAnswerP99Ms: percentile(a, 99) } : {}),
    throughputPerSec: round((s.length / wallMs) * 1000, 1),
  };
}

async function refundSide(stack: BenchStack, taskQueue: string, mode: string, count: number) {
  const refunds = benchRefunds(runTag(`N${mode[0]}`), count);
  // Preparation (not measured): every refund requested through the starter, accepted by WeChat, PROCESSING in its
  // workflow.
  const paidAt = await seedOrders(stack.sim, refunds, 'OTHERS');
  const creates = createsAnswered(stack.sim);
  await mapLimit(refunds, 20, async (r) => {
    const answered = creates.wait(r.outRefundNo);
    await requestBenchRefund(stack.client, taskQueue, r, paidAt, 'OTHERS');
    await answered;
  });
  await mapLimit(refunds, 20, (r) =>
    waitForState(stack.client.workflow.getHandle(r.workflowId), statusQuery, 'PROCESSING', 120_000, READY_CHECK_MS),
  );

  const settleAndAwait = async (r: BenchRefund) => {
    await settleAtWechat(stack.sim, r);
    await refundResult(stack.client, r);
  };
  const started = Date.now();
  if (mode === 'sequential') {
    for (const r of refunds) await settleAndAwait(r);
  } else {
    await Promise.all(refunds.map(settleAndAwait));
  }
  const wallMs = Date.now() - started;

  // Every workflow has closed: now read when, and when its notification's delivery started.
  const samples = await mapLimit(refunds, 20, async (r): Promise<Sample> => {
    const closeTime = (await stack.client.workflow.getHandle(r.workflowId).describe()).closeTime;
    const [note] = await stack.sim.admin.notifications({ outRefundNo: r.outRefundNo });
    const delivered = note?.attempts.find((a) => a.ok);
    if (!closeTime || !delivered) throw new Error(`${r.outRefundNo}: no delivered notification or close time`);
    return { totalMs: closeTime.getTime() - delivered.realAt, answerMs: delivered.latencyMs };
  });
  return summary('refund: notification → webhook → signal', mode, samples, wallMs);
}

async function baselineSide(stack: BenchStack, taskQueue: string, mode: string, count: number) {
  const tag = runTag(`NB${mode[0]}`);
  const handles: WorkflowHandle[] = await mapLimit(
    Array.from({ length: count }, (_, i) => `baseline-${tag}-${i}`),
    20,
    async (id) => {
      const submitted = baselineSubmitted.wait(id);
      const handle = await stack.client.workflow.start(minimalWorkflow, { taskQueue, workflowId: id, args: [id] });
      await submitted;
      return handle;
    },
  );
  await mapLimit(handles, 20, (h) => waitForState(h, baselineStageQuery, 'waiting', 120_000, READY_CHECK_MS));

  const sentAt = new Map<string, number>();
  const signalAndAwait = async (handle: WorkflowHandle) => {
    sentAt.set(handle.workflowId, Date.now());
    await handle.signal(baselineNotifiedSignal, { sentAt: sentAt.get(handle.workflowId) });
    await handle.result();
  };
  const started = Date.now();
  if (mode === 'sequential') {
    for (const h of handles) await signalAndAwait(h);
  } else {
    await Promise.all(handles.map(signalAndAwait));
  }
  const wallMs = Date.now() - started;

  const samples = await mapLimit(handles, 20, async (handle): Promise<Sample> => {
    const closeTime = (await handle.describe()).closeTime;
    if (!closeTime) throw new Error(`${handle.workflowId}: no close time`);
    return { totalMs: closeTime.getTime() - sentAt.get(handle.workflowId)! };
  });
  return summary('baseline: bare signal', mode, samples, wallMs);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' }, mode: { type: 'string', default: 'both' } } });
  const count = intFlag('count', values.count, 150);
  const modes = values.mode === 'both' ? ['sequential', 'burst'] : [values.mode as string];
  if (!modes.every((m) => m === 'sequential' || m === 'burst')) throw new Error('--mode: sequential | burst | both');

  const stack = await startBenchStack();
  const taskQueue = `bench-notify-${Date.now()}`;
  const results: ReturnType<typeof summary>[] = [];
  const ratios: Record<string, { median: number; p99: number }> = {};
  await runWorker(stack.temporal!, stack.gateway, taskQueue, async () => {
    for (const mode of modes) {
      const base = await baselineSide(stack, taskQueue, mode, count);
      const refund = await refundSide(stack, taskQueue, mode, count);
      results.push(refund, base);
      ratios[mode] = { median: round(refund.medianMs / base.medianMs), p99: round(refund.p99Ms / base.p99Ms) };
    }
  });

  const rejected = (await stack.webhook.metrics.notifications.get()).values.filter(
    (v) => v.labels.result !== 'accepted' && v.value > 0,
  );
  console.log('notify → workflow-completed latency (refund: real workflows via the starter; baseline: bare signal)');
  console.table(results);
  for (const [mode, r] of Object.entries(ratios)) {
    console.log(`ratio refund / baseline, ${mode}: median ${r.median}, p99 ${r.p99}`);
  }
  if (rejected.length) console.log('non-accepted notifications:', rejected);
  emitResult({ bench: 'notify-latency', count, results, ratios, nonAccepted: rejected.length });
  await stack.close();
}

runMain(main);
