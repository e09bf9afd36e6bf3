/**
 * Bench 11: hot orders. 1,000 refund requests sent at once at 20 orders (reliability scenario 4's workload), decided
 * by the real product, next to the floor of the work those decisions must do, in ONE run on one dev server.
 *
 *   product:        `requestRefund` (src/starter.ts) from this process, all 1,000 at once, to 20 paid orders: 10 bound
 *                   by their paid total (3 to 35 refunds fit) and 10 by the count (50 fit). Every request gets its
 *                   exact decision (checked: per order exactly min(50, floor(paid / amount)) accepted, the rest M4 or
 *                   M6). Each accepted refund's workflow is started by its ledger before the receipt is given (that
 *                   binds its out_refund_no, M7), so the decisions start as many workflows as they accept.
 *   children floor: 20 parent workflows, each starting the same number of children at once as its order accepted,
 *                   each child waiting for a signal as a held refund waits for its slot (bench/baseline
 *                   childStarterWorkflow); done when every parent has seen all its children started. The same shape
 *                   as the product's binding: children of one workflow per order.
 *   activity floor: 20 parents again, each starting its workflows with one local activity through the client
 *                   (bench/baseline activityBinderWorkflow): the floor of binding the numbers without children.
 *   direct floor:   the same number of workflows started from this process's client, all at once (no parent).
 *
 * The two floors say what bounds the goal (issue 18: 1,000 requests on 20 orders all decided within 5 s): the server
 * records each child's start in its parent, one change of the parent at a time, so 700 children of 20 parents take
 * far longer than 700 workflows started on their own. One dev server for all three (in memory; on a SQLite file with
 * --sqlite, as the reliability stack runs it), the product's worker in its own process (src/cli/worker.ts), the
 * floors on an in-process worker of their own task queue; floors first, so the product's leftover refunds (held, one
 * submission per order per minute) run beside nothing that is timed.
 *
 * Usage: npx ts-node --transpile-only bench/hot-orders.ts [--requests 1000] [--sqlite]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/stack/free-port';
import { MAX_REFUNDS_PER_ORDER } from '../src/domain/refund-caps';
import { RefundRejected, requestRefund } from '../src/starter';
import { Worker } from '@temporalio/worker';
import { createBindingActivities } from './baseline/activities';
import { activityBinderWorkflow, childStarterWorkflow, heldChildWorkflow } from './baseline/floor-workflows';
import {
  benchDataConverter,
  floorWorkflowBundle,
  MCHID,
  runTag,
  startBenchStack,
  tempDir,
  WORKER_SETTINGS,
  type BenchStack,
} from './support/stack';
import { emitResult, intFlag, percentile, round, runMain } from './support/util';
import { BenchWorkerProcess } from './support/worker-process';

const DECISION_TIMEOUT_MS = 300_000;

interface OrderPlan {
  outTradeNo: string;
  paidTotalFen: number;
  amountFen: number;
  requests: number;
  expectedAccepted: number;
}

/** Scenario 4's orders: 10 bound by the paid total (3 to 35 fit), 10 by the count (100 would fit by amount). */
function planOrders(tag: string, total: number): OrderPlan[] {
  const amountBound = [3, 6, 10, 14, 18, 22, 26, 29, 32, 35];
  const perAmountOrder = Math.floor((total * 0.4) / amountBound.length);
  const perCountOrder = Math.floor((total - perAmountOrder * amountBound.length) / 10);
  const plans = amountBound.map((fits, i) => {
    const amountFen = 37 + i * 11;
    return {
      outTradeNo: `T${tag}A${i}`,
      paidTotalFen: fits * amountFen + (i % 3) * 7,
      amountFen,
      requests: perAmountOrder,
    };
  });
  for (let i = 0; i < 10; i++) {
    const amountFen = 10 + i;
    const requests = i === 9 ? total - perAmountOrder * 10 - perCountOrder * 9 : perCountOrder;
    plans.push({ outTradeNo: `T${tag}C${i}`, paidTotalFen: amountFen * 100, amountFen, requests });
  }
  return plans.map((p) => ({
    ...p,
    expectedAccepted: Math.min(MAX_REFUNDS_PER_ORDER, Math.floor(p.paidTotalFen / p.amountFen), p.requests),
  }));
}

/** Interleaves the orders' requests, as independent callers would send them. */
function interleaved(plans: OrderPlan[]): Array<{ plan: OrderPlan; outRefundNo: string }> {
  const out: Array<{ plan: OrderPlan; outRefundNo: string }> = [];
  const most = Math.max(...plans.map((p) => p.requests));
  for (let i = 0; i < most; i++) {
    for (const plan of plans) {
      if (i < plan.requests) out.push({ plan, outRefundNo: `R${plan.outTradeNo.slice(1)}-${i}` });
    }
  }
  return out;
}

async function productPhase(stack: BenchStack, taskQueue: string, plans: OrderPlan[]) {
  const paidAt = new Date(stack.sim.clock.now() - 3_600_000).toISOString();
  for (const p of plans) {
    await stack.sim.admin.seedOrder({
      mchid: MCHID,
      outTradeNo: p.outTradeNo,
      totalFen: p.paidTotalFen,
      paidAt,
      payer: { bankType: 'OTHERS' },
    });
  }
  const accepted = new Map<string, number>();
  const refusedBy = new Map<string, number>();
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    interleaved(plans).map(async ({ plan, outRefundNo }) => {
      const t0 = performance.now();
      try {
        const receipt = await requestRefund(
          { client: stack.client, taskQueue, decisionTimeoutMs: DECISION_TIMEOUT_MS, busyRetryMs: DECISION_TIMEOUT_MS },
          {
            order: { outTradeNo: plan.outTradeNo },
            refund: { outRefundNo, amountFen: plan.amountFen, requestedBy: 'bench:hot-orders' },
          },
        );
        if (receipt.outRefundNo !== outRefundNo)
          throw new Error(`receipt for ${receipt.outRefundNo}, not ${outRefundNo}`);
        accepted.set(plan.outTradeNo, (accepted.get(plan.outTradeNo) ?? 0) + 1);
      } catch (err) {
        if (!(err instanceof RefundRejected) || (err.rule !== 'M4' && err.rule !== 'M6')) throw err;
        refusedBy.set(err.rule, (refusedBy.get(err.rule) ?? 0) + 1);
      }
      latencies.push(performance.now() - t0);
    }),
  );
  const wallMs = performance.now() - started;
  const wrong = plans.filter((p) => (accepted.get(p.outTradeNo) ?? 0) !== p.expectedAccepted);
  if (wrong.length > 0) {
    throw new Error(
      `decisions not exact: ${wrong.map((p) => `${p.outTradeNo} accepted ${accepted.get(p.outTradeNo) ?? 0}, expected ${p.expectedAccepted}`).join('; ')}`,
    );
  }
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    accepted: [...accepted.values()].reduce((a, b) => a + b, 0),
    refused: Object.fromEntries(refusedBy),
    allDecidedMs: Math.round(wallMs),
    latencyP50Ms: Math.round(percentile(latencies, 50)),
    latencyP99Ms: Math.round(percentile(latencies, 99)),
    loadAvg1: round(os.loadavg()[0], 2),
  };
}

/** How long `start` took to start `workflows` workflows (one floor's figures). */
async function timedFloor(workflows: number, start: () => Promise<unknown>) {
  const started = performance.now();
  await start();
  return {
    workflows,
    allStartedMs: Math.round(performance.now() - started),
    loadAvg1: round(os.loadavg()[0], 2),
  };
}

/**
 * One parent per order, each starting as many workflows as its order accepted and completing once they have all
 * started: as its children (childStarterWorkflow) or by one local activity (activityBinderWorkflow).
 */
function parentsFloor(
  stack: BenchStack,
  taskQueue: string,
  plans: OrderPlan[],
  tag: string,
  parent: typeof childStarterWorkflow | typeof activityBinderWorkflow,
) {
  return timedFloor(sum(plans), () =>
    Promise.all(
      plans.map((p, i) =>
        stack.client.workflow.execute(parent, {
          taskQueue,
          workflowId: `hot-${parent.name}-${tag}-${i}`,
          args: [`hot-${parent.name}-${tag}-${i}-started`, p.expectedAccepted],
        }),
      ),
    ),
  );
}

function directFloor(stack: BenchStack, taskQueue: string, plans: OrderPlan[], tag: string) {
  const ids = plans.flatMap((p, i) =>
    Array.from({ length: p.expectedAccepted }, (_, k) => `hot-direct-${tag}-${i}-${k}`),
  );
  return timedFloor(ids.length, () =>
    Promise.all(ids.map((workflowId) => stack.client.workflow.start(heldChildWorkflow, { taskQueue, workflowId }))),
  );
}

const sum = (plans: OrderPlan[]) => plans.reduce((s, p) => s + p.expectedAccepted, 0);

const la = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string' }, sqlite: { type: 'boolean' } } });
  const total = intFlag('requests', values.requests, 1_000);
  const loadAvgBefore = os.loadavg();
  console.log(`load average (1/5/15 min) at start: ${la()}`);

  const tmp = tempDir('hot-orders');
  const keysDir = path.join(tmp.dir, 'keys');
  const stack = await startBenchStack({
    keysDir,
    webhookPort: await freePort(),
    // --sqlite: the server on a SQLite file, as the reliability stack runs it (concurrent-caps), not in memory.
    ...(values.sqlite ? { dbFile: path.join(tmp.dir, 'temporal.sqlite') } : {}),
  });
  const t = stack.temporal!;
  const taskQueue = `bench-hot-orders-${Date.now()}`;
  const worker = BenchWorkerProcess.onStack(stack, {
    dir: tmp.dir,
    keysDir,
    taskQueue,
    // e.g. `--require bench/support/cpu-profile.js` with BENCH_CPU_PROFILE_DIR: where the worker's CPU goes.
    ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { env: { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } } : {}),
  });
  try {
    await worker.start();
    const tag = runTag('H');
    const plans = planOrders(tag, total);
    const floorQueue = `${taskQueue}-floor`;
    // The floors' own worker: the baseline workflows alone, and the binding activity (it starts workflows through
    // this process's client, on the same task queue).
    const floorWorker = await Worker.create({
      connection: t.nativeConnection,
      namespace: t.namespace,
      taskQueue: floorQueue,
      workflowBundle: await floorWorkflowBundle(),
      activities: createBindingActivities((workflowId) =>
        stack.client.workflow.start(heldChildWorkflow, { taskQueue: floorQueue, workflowId }),
      ),
      dataConverter: benchDataConverter(),
      ...WORKER_SETTINGS,
    });
    const floors = await floorWorker.runUntil(async () => {
      // Warm-up (not counted): the floor worker's bundle and caches.
      await parentsFloor(stack, floorQueue, plans.slice(0, 2), `${tag}w`, childStarterWorkflow);
      const children = await parentsFloor(stack, floorQueue, plans, tag, childStarterWorkflow);
      console.log(
        `children floor: ${children.workflows} children of ${plans.length} parents started in ${children.allStartedMs} ms (load ${la()})`,
      );
      const byActivity = await parentsFloor(stack, floorQueue, plans, tag, activityBinderWorkflow);
      console.log(
        `activity floor: ${byActivity.workflows} workflows started by one local activity per parent in ${byActivity.allStartedMs} ms (load ${la()})`,
      );
      const direct = await directFloor(stack, floorQueue, plans, tag);
      console.log(`direct floor: ${direct.workflows} workflows started in ${direct.allStartedMs} ms (load ${la()})`);
      return { children, byActivity, direct };
    });
    // Warm-up (not counted): the product worker's bundle, one order's 8 requests decided (3 fit).
    const warm = planOrders(`${tag}w`, 200).slice(0, 1);
    await productPhase(stack, taskQueue, warm);
    const product = await productPhase(stack, taskQueue, plans);
    console.log(
      `product: ${product.requests} requests on ${plans.length} orders all decided in ${product.allDecidedMs} ms ` +
        `(p50 ${product.latencyP50Ms} ms, p99 ${product.latencyP99Ms} ms), ${product.accepted} accepted (load ${la()})`,
    );
    const ratios = {
      toChildrenFloor: round(product.allDecidedMs / floors.children.allStartedMs, 2),
      toActivityFloor: round(product.allDecidedMs / floors.byActivity.allStartedMs, 2),
      toDirectFloor: round(product.allDecidedMs / floors.direct.allStartedMs, 2),
    };
    console.log(`ratio all decided / children floor ${ratios.toChildrenFloor}, / direct floor ${ratios.toDirectFloor}`);
    emitResult({
      bench: 'hot-orders',
      orders: plans.length,
      requests: total,
      server: values.sqlite ? 'dev server on a SQLite file' : 'dev server in memory',
      product,
      floors,
      ratios,
      goalMs: 5_000,
      loadAvgBefore: loadAvgBefore.map((x) => round(x, 2)),
      loadAvgAfter: os.loadavg().map((x) => round(x, 2)),
    });
  } catch (e) {
    console.error(`worker log: ${worker.logFile}`);
    throw e;
  } finally {
    await worker.stop();
    await stack.close();
  }
  tmp.remove();
}

runMain(main);
