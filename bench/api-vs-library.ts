/**
 * Bench 6: refund decisions per second and latency through the HTTP API, next to the TypeScript library it wraps,
 * in ONE run on one dev server, worker, simulator and API.
 *
 *   library: requestRefund (src/starter.ts) called in this process, as a Node order service does: update-with-start
 *            on the order's ledger, which reads the order from WeChat (the simulator), checks the rules, starts the
 *            refund workflow and answers with the receipt.
 *   api:     POST /v1/refunds to the real API program (src/cli/api.ts, a child process), which calls the same
 *            requestRefund, whose receipt names the request that created the refund; the answer must be 201.
 *
 * A decision is the ledger's answer to one request; latency = from sending the request to having the answer. Both
 * sides send the same request (a fresh paid order per refund, 100 fen of 1,000, reason "bench"; the library is given
 * exactly the fields the API passes it), with the same number in flight (`--concurrency`), the same decision timeout
 * (60 s), in alternating rounds (the side that goes first alternates too) after a warm-up of each, so noise and the
 * growing number of open workflows hit both alike. Between batches the bench waits (untimed) until WeChat has every
 * refund of the batch, so one batch's submissions do not spill into the next one's timing.
 *
 * Not starving what is measured: the worker (src/cli/worker.ts) and the API (src/cli/api.ts) run as their own
 * processes, as in production, so this process's event loop (client, simulator, webhook) never delays them; the client
 * is closed-loop (exactly `--concurrency` requests in flight, the next sent only when one is answered), over kept-alive
 * connections (an undici Pool of `--concurrency` connections; one gRPC connection for the library), and does no work
 * per request beyond sending it and parsing the answer; orders are seeded before each timed batch, not during it.
 * The client's own event-loop delay (p99) and CPU share are measured during each side and printed, with the CPU
 * seconds the API, worker and dev server spent, so a reader can see whether the client kept up.
 *
 * Idle stack (issue 18's goal, decisions p99 ≤ 250 ms): before the timed rounds, `--idle-count` decisions per side one
 * at a time (idleDecisions), next to the floor of a decision: update-with-start on a fresh workflow that answers at
 * once (bench/baseline/workflows.ts decisionFloorWorkflow).
 *
 * Usage: npx ts-node --transpile-only bench/api-vs-library.ts [--count 200] [--concurrency 20] [--rounds 4]
 *                                                              [--idle-count 40]
 *   --count is per side (split over the rounds); warm-up: 10 per side, not counted.
 */
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort } from '../src/stack/free-port';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { requestRefund } from '../src/starter';
import { decideUpdate, decisionFloorWorkflow } from './baseline/workflows';
import { BenchApiProcess, cpuSeconds } from './support/api-process';
import { benchRefunds, REFUND_FEN, seedOrders, type BenchRefund } from './support/refunds';
import { runTag, runWorker, startBenchStack, tempDir, type BenchStack } from './support/stack';
import { emitResult, intFlag, mapLimit, percentile, round, runMain, waitUntil } from './support/util';
import { BenchWorkerProcess } from './support/worker-process';

const DECISION_TIMEOUT_MS = 60_000;
const REASON = 'bench';
const API_KEY = `bench-${runTag('K')}-key`;

type Side = 'library' | 'api';

interface Batch {
  /** 0 = warm-up. */
  round: number;
  side: Side;
  n: number;
  wallMs: number;
  latencies: number[];
  loadAvg1: number;
  clientLoopDelayP99Ms: number;
  clientCpuShare: number;
  cpu: Record<string, number>;
}

interface Procs {
  api: BenchApiProcess;
  worker: BenchWorkerProcess;
  devServerPid?: number;
}

/** The library side: what the API's createRefund passes to requestRefund, nothing more. */
function libraryDecision(stack: BenchStack, taskQueue: string) {
  return async (r: BenchRefund) => {
    const receipt = await requestRefund(
      { client: stack.client, taskQueue, decisionTimeoutMs: DECISION_TIMEOUT_MS },
      {
        order: { outTradeNo: r.outTradeNo },
        refund: { outRefundNo: r.outRefundNo, amountFen: REFUND_FEN, reason: REASON, requestedBy: 'bench:library' },
      },
    );
    if (receipt.outRefundNo !== r.outRefundNo) throw new Error(`library: receipt for ${receipt.outRefundNo}`);
  };
}

function apiDecision(pool: Pool) {
  return async (r: BenchRefund) => {
    const res = await pool.request({
      method: 'POST',
      path: '/v1/refunds',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        out_trade_no: r.outTradeNo,
        out_refund_no: r.outRefundNo,
        amount_fen: REFUND_FEN,
        reason: REASON,
      }),
    });
    const body = (await res.body.json()) as { out_refund_no?: string };
    if (res.statusCode !== 201 || body.out_refund_no !== r.outRefundNo) {
      throw new Error(`api: ${r.outRefundNo} answered ${res.statusCode} ${JSON.stringify(body)}`);
    }
  };
}

async function batch(
  roundNo: number,
  side: Side,
  stack: BenchStack,
  procs: Procs,
  n: number,
  concurrency: number,
  decide: (r: BenchRefund) => Promise<void>,
): Promise<Batch> {
  const refunds = benchRefunds(runTag(side === 'api' ? 'VA' : 'VL'), n);
  // Preparation (not timed): the paid orders at the simulator, and what WeChat already holds.
  await seedOrders(stack.sim, refunds, 'OTHERS');
  const atWechatBefore = (await stack.sim.admin.refunds()).length;

  const pids = { api: procs.api.pid, worker: procs.worker.pid, devServer: procs.devServerPid, bench: process.pid };
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) ?? 0]));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const ownCpu = process.cpuUsage();
  const latencies: number[] = [];
  const started = Date.now();
  await mapLimit(refunds, concurrency, async (r) => {
    const t0 = performance.now();
    await decide(r);
    latencies.push(performance.now() - t0);
  });
  const wallMs = Date.now() - started;
  const own = process.cpuUsage(ownCpu);
  loop.disable();
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, round((cpuSeconds(pid) ?? 0) - cpuBefore[k], 2)]),
  );

  // Not timed: the batch's refunds reach WeChat before the next batch starts.
  await waitUntil(
    `${n} ${side} refunds at WeChat`,
    async () => (await stack.sim.admin.refunds()).length >= atWechatBefore + n,
    120_000,
    200,
  );
  return {
    round: roundNo,
    side,
    n,
    wallMs,
    latencies,
    loadAvg1: round(os.loadavg()[0], 2),
    clientLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 1),
    clientCpuShare: round((own.user + own.system) / 1000 / wallMs, 2),
    cpu,
  };
}

type IdleSide = Side | 'floor';

/** The floor of a decision: update-with-start on a fresh workflow that answers at once (bench/baseline). */
function floorDecision(stack: BenchStack, taskQueue: string) {
  return async (r: BenchRefund) => {
    const answer = await stack.client.workflow.executeUpdateWithStart(decideUpdate, {
      args: [r.outRefundNo],
      startWorkflowOperation: new WithStartWorkflowOperation(decisionFloorWorkflow, {
        workflowId: `decision-floor-${r.outRefundNo}`,
        taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    if (answer !== r.outRefundNo) throw new Error(`floor: answered ${answer}`);
  };
}

/**
 * Decisions on an idle stack (issue 18's goal: p99 ≤ 250 ms): one request at a time, the sides taking turns, and
 * before each the previous refund has reached WeChat (untimed), so no submission of an earlier decision runs beside
 * it. The floor: update-with-start on a fresh workflow that answers at once, on an in-process worker of its own task
 * queue, through the same client.
 */
async function idleDecisions(
  stack: BenchStack,
  decide: Record<IdleSide, (r: BenchRefund) => Promise<void>>,
  n: number,
): Promise<Record<IdleSide, number[]>> {
  const sides: IdleSide[] = ['library', 'api', 'floor'];
  const refunds = Object.fromEntries(sides.map((s) => [s, benchRefunds(runTag(`I${s[0].toUpperCase()}`), n)]));
  await seedOrders(stack.sim, [...refunds.library, ...refunds.api], 'OTHERS');
  const latencies: Record<IdleSide, number[]> = { library: [], api: [], floor: [] };
  for (let i = 0; i < n; i++) {
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
      const atWechat = (await stack.sim.admin.refunds()).length;
      const t0 = performance.now();
      await decide[side](refunds[side][i]);
      latencies[side].push(performance.now() - t0);
      if (side === 'floor') continue;
      await waitUntil(
        `idle ${side} refund at WeChat`,
        async () => (await stack.sim.admin.refunds()).length > atWechat,
        60_000,
        20,
      );
    }
  }
  return latencies;
}

function latencySummary(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    decisions: sorted.length,
    p50Ms: Math.round(percentile(sorted, 50)),
    p99Ms: Math.round(percentile(sorted, 99)),
    maxMs: Math.round(sorted[sorted.length - 1]),
  };
}

/** Issue 18's goal for a decision on an idle stack. */
const IDLE_P99_GOAL_MS = 250;

const p50Of = (latencies: number[]) => latencySummary(latencies).p50Ms;
const rateOf = (b: Pick<Batch, 'n' | 'wallMs'>) => round((b.n / b.wallMs) * 1000, 2);
const PROCESSES = ['api', 'worker', 'devServer', 'bench'] as const;

function summarize(side: Side, batches: Batch[]) {
  const mine = batches.filter((b) => b.side === side);
  const n = mine.reduce((s, b) => s + b.n, 0);
  const wallMs = mine.reduce((s, b) => s + b.wallMs, 0);
  const lat = mine.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const cpuMs = Object.fromEntries(
    PROCESSES.map((p) => [p, round((mine.reduce((s, b) => s + (b.cpu[p] ?? 0), 0) / n) * 1000, 1)]),
  );
  const cpuTotalMs = round(
    PROCESSES.reduce((s, p) => s + cpuMs[p], 0),
    1,
  );
  return {
    side: side === 'api' ? 'api (POST /v1/refunds → API process → requestRefund)' : 'library (requestRefund)',
    decisions: n,
    wallSeconds: round(wallMs / 1000, 1),
    perSecond: round((n / wallMs) * 1000, 2),
    latencyP50Ms: Math.round(percentile(lat, 50)),
    latencyP99Ms: Math.round(percentile(lat, 99)),
    loadAvg1: mine.map((b) => b.loadAvg1).join(' / '),
    clientLoopDelayP99Ms: Math.max(...mine.map((b) => b.clientLoopDelayP99Ms)),
    clientCpuShare: Math.max(...mine.map((b) => b.clientCpuShare)),
    cpuMsPerDecision: `total ${cpuTotalMs} = api ${cpuMs.api} + worker ${cpuMs.worker} + server ${cpuMs.devServer} + bench ${cpuMs.bench}`,
    cpuTotalMs,
  };
}

const la = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      'idle-count': { type: 'string' },
    },
  });
  const idleCount = intFlag('idle-count', values['idle-count'], 40);
  const count = intFlag('count', values.count, 200);
  const concurrency = intFlag('concurrency', values.concurrency, 20);
  const rounds = intFlag('rounds', values.rounds, 4);
  const perRound = Math.ceil(count / rounds);
  const loadAvgBefore = os.loadavg();
  console.log(`load average (1/5/15 min) at start: ${la()}`);

  const tmp = tempDir('api-vs-library');
  const keysDir = path.join(tmp.dir, 'keys');
  const stack = await startBenchStack({ keysDir, webhookPort: await freePort() });
  const t = stack.temporal!;
  const taskQueue = `bench-api-vs-library-${Date.now()}`;
  const worker = BenchWorkerProcess.onStack(stack, { dir: tmp.dir, keysDir, taskQueue });
  const api = new BenchApiProcess({
    dir: tmp.dir,
    temporalAddress: t.address,
    namespace: t.namespace,
    taskQueue,
    key: API_KEY,
    decisionTimeoutMs: DECISION_TIMEOUT_MS,
  });
  let pool: Pool | undefined;
  try {
    await Promise.all([worker.start(), api.start()]);
    pool = new Pool(api.baseUrl, { connections: concurrency, pipelining: 1 });
    const procs: Procs = { api, worker, devServerPid: t.devServer?.process.pid };
    const sides: Record<Side, (r: BenchRefund) => Promise<void>> = {
      library: libraryDecision(stack, taskQueue),
      api: apiDecision(pool),
    };

    // Warm-up (not counted): ts-node caches, connections, the worker's and the API's JIT, on both paths.
    await batch(0, 'library', stack, procs, 10, concurrency, sides.library);
    await batch(0, 'api', stack, procs, 10, concurrency, sides.api);

    // The idle stack first: nothing else in flight, no open workflows from the timed rounds yet.
    const floorQueue = `${taskQueue}-floor`;
    const idleRaw = await runWorker(t, stack.gateway, floorQueue, async () => {
      await idleDecisions(stack, { ...sides, floor: floorDecision(stack, floorQueue) }, 3); // warm-up
      return idleDecisions(stack, { ...sides, floor: floorDecision(stack, floorQueue) }, idleCount);
    });
    const idle = {
      library: latencySummary(idleRaw.library),
      api: latencySummary(idleRaw.api),
      floor: latencySummary(idleRaw.floor),
      loadAvg: os.loadavg().map((x) => round(x, 2)),
    };
    const idleRatios = {
      libraryP99: round(idle.library.p99Ms / idle.floor.p99Ms, 2),
      apiP99: round(idle.api.p99Ms / idle.floor.p99Ms, 2),
      libraryP50: round(idle.library.p50Ms / idle.floor.p50Ms, 2),
    };
    console.log(`\ndecisions on an idle stack, one at a time (goal p99 ≤ ${IDLE_P99_GOAL_MS} ms)`);
    console.table([
      { side: 'library (requestRefund)', ...idle.library },
      { side: 'api (POST /v1/refunds)', ...idle.api },
      { side: 'floor (update-with-start, answered at once)', ...idle.floor },
    ]);
    console.log(
      `ratio to the floor: library p50 ${idleRatios.libraryP50}, p99 ${idleRatios.libraryP99}; api p99 ` +
        `${idleRatios.apiP99} (load average ${la()})`,
    );

    const batches: Batch[] = [];
    for (let i = 0; i < rounds; i++) {
      const order: Side[] = i % 2 === 0 ? ['library', 'api'] : ['api', 'library'];
      for (const side of order) {
        const b = await batch(i + 1, side, stack, procs, perRound, concurrency, sides[side]);
        batches.push(b);
        console.log(
          `round ${i + 1} ${side}: ${b.n} decisions in ${round(b.wallMs / 1000, 1)} s ` +
            `(${rateOf(b)}/s), p50 ${p50Of(b.latencies)} ms; ` +
            `load average ${la()}; client loop delay p99 ${b.clientLoopDelayP99Ms} ms, client CPU ${b.clientCpuShare}`,
        );
      }
    }

    const library = summarize('library', batches);
    const viaApi = summarize('api', batches);
    const ratios = {
      throughput: round(viaApi.perSecond / library.perSecond, 3),
      p50: round(viaApi.latencyP50Ms / library.latencyP50Ms, 3),
      p99: round(viaApi.latencyP99Ms / library.latencyP99Ms, 3),
      // CPU all four processes spent per decision: far less sensitive to the other sessions on the machine than rates.
      cpuPerDecision: round(viaApi.cpuTotalMs / library.cpuTotalMs, 3),
      // Each round's api rate / library rate: how much the headline ratio moves with the machine's noise.
      perRound: Array.from({ length: rounds }, (_, i) => {
        const [a, l] = (['api', 'library'] as const).map((side) => batches.filter((b) => b.side === side)[i]);
        return round(rateOf(a) / rateOf(l), 3);
      }),
    };
    console.log(
      `\nrefund decisions, ${concurrency} in flight, ${perRound} per batch, ${rounds} alternating rounds (+ warm-up)`,
    );
    console.table([library, viaApi]);
    console.log(
      `ratio api / library: decisions/s ${ratios.throughput} (per round ${ratios.perRound.join(', ')}), ` +
        `p50 ${ratios.p50}, p99 ${ratios.p99}, CPU per decision ${ratios.cpuPerDecision} (load average ${la()})`,
    );
    emitResult({
      bench: 'api-vs-library',
      count: perRound * rounds,
      concurrency,
      rounds,
      library,
      api: viaApi,
      ratios,
      idle,
      idleRatios,
      idleGoalP99Ms: IDLE_P99_GOAL_MS,
      batches: batches.map(({ latencies, ...b }) => ({ ...b, perSecond: rateOf(b), latencyP50Ms: p50Of(latencies) })),
      loadAvgBefore: loadAvgBefore.map((x) => round(x, 2)),
      loadAvgAfter: os.loadavg().map((x) => round(x, 2)),
    });
  } catch (e) {
    console.error(`worker log: ${worker.logFile}; API log: ${api.logFile}`);
    throw e;
  } finally {
    await pool?.close();
    await api.stop();
    await worker.stop();
    await stack.close();
  }
  tmp.remove();
}

runMain(main);
