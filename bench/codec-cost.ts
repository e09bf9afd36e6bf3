/**
 * Bench 7: what payload encryption at rest (docs/encryption.md) costs end to end: refunds per second and latency with
 * the key ring (AES-256-GCM codec + encrypted failure attributes) and with WXREFUND_PAYLOAD_ENCRYPTION=off, in the same
 * run, on the same dev server, simulator and webhook.
 *
 *   path (both sides): requestRefund (update-with-start on the order ledger) → ledger starts the refund workflow →
 *   submitRefund (v3 gateway → simulator) → once the simulator has answered the create (it tells the bench in process,
 *   support/observe.ts: no query to the workflow) it settles the refund and sends the signed, encrypted notification
 *   → webhook (verify, decrypt, signal) → workflow completed SUCCESS (`handle.result()`).
 *   The sides differ only in the data converter of the order service's client, the webhook's client and the worker.
 *
 * Rounds alternate (off, on, on, off, …) so machine noise hits both alike; each side has its own task queue and a
 * worker started for its rounds only, with the same settings. The load average (1 min) is printed with every figure:
 * on a shared machine a difference smaller than the spread between rounds of one side means nothing.
 *
 * Usage: npx ts-node --transpile-only bench/codec-cost.ts [--count 160] [--concurrency 20] [--rounds 4]
 *   (--count per side, split over the rounds)
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { PAYLOAD_ENCRYPTION_ENV } from '../src/codec/payload-keys';
import { inspectHistory, unencryptedPayloads } from '../test/support/raw-history';
import { createsAnswered } from './support/observe';
import {
  benchRefunds,
  refundResult,
  requestBenchRefund,
  seedOrders,
  settleAtWechat,
  type BenchRefund,
} from './support/refunds';
import {
  benchDataConverter,
  runTag,
  runWorker,
  startBenchStack,
  startTemporal,
  type BenchStack,
} from './support/stack';
import { emitResult, intFlag, mapLimit, percentile, round, runMain } from './support/util';

type Side = 'off' | 'encrypted';

interface Batch {
  side: Side;
  round: number;
  n: number;
  wallMs: number;
  latencies: number[];
  /** 1-minute load average when the batch ended. */
  load1: number;
  /** One refund of the batch, to check afterwards that the side stored what it claims. */
  sampleWorkflowId: string;
}

const load1 = () => round(os.loadavg()[0], 2);

async function refundBatch(
  stack: BenchStack,
  client: Client,
  taskQueue: string,
  n: number,
  concurrency: number,
): Promise<Omit<Batch, 'side' | 'round'>> {
  const refunds = benchRefunds(runTag('C'), n);
  const paidAt = await seedOrders(stack.sim, refunds, 'OTHERS'); // not timed
  const creates = createsAnswered(stack.sim);
  const latencies: number[] = [];
  const started = Date.now();
  await mapLimit(refunds, concurrency, async (r: BenchRefund) => {
    const t0 = Date.now();
    const answered = creates.wait(r.outRefundNo);
    await requestBenchRefund(client, taskQueue, r, paidAt, 'OTHERS');
    await answered;
    await settleAtWechat(stack.sim, r);
    await refundResult(client, r);
    latencies.push(Date.now() - t0);
  });
  return { n, wallMs: Date.now() - started, latencies, load1: load1(), sampleWorkflowId: refunds[0].workflowId };
}

function summarize(side: Side, batches: Batch[]) {
  const mine = batches.filter((b) => b.side === side);
  const n = mine.reduce((s, b) => s + b.n, 0);
  const wallMs = mine.reduce((s, b) => s + b.wallMs, 0);
  const lat = mine.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const rates = mine.map((b) => (b.n / b.wallMs) * 1000);
  return {
    side,
    completed: n,
    wallSeconds: round(wallMs / 1000, 1),
    perSecond: round((n / wallMs) * 1000, 2),
    roundRates: rates.map((r) => round(r, 2)).join(' / '),
    latencyMedianMs: percentile(lat, 50),
    latencyP99Ms: percentile(lat, 99),
    load1: mine.map((b) => b.load1).join(' / '),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { count: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' } },
  });
  const count = intFlag('count', values.count, 160);
  const concurrency = intFlag('concurrency', values.concurrency, 20);
  const rounds = intFlag('rounds', values.rounds, 4);
  const perRound = Math.ceil(count / rounds);

  const converters: Record<Side, DataConverter> = {
    off: benchDataConverter({ [PAYLOAD_ENCRYPTION_ENV]: 'off' }),
    encrypted: benchDataConverter(),
  };
  const temporal = await startTemporal();
  const clients: Record<Side, Client> = {
    off: new Client({ connection: temporal.connection, namespace: temporal.namespace, dataConverter: converters.off }),
    encrypted: new Client({
      connection: temporal.connection,
      namespace: temporal.namespace,
      dataConverter: converters.encrypted,
    }),
  };
  // The webhook signals through the client of the side being measured: a worker without the codec could not read a
  // signal encrypted by it. One webhook for both sides, its client switched between rounds (no signal is in flight
  // then: every refund of a batch has completed).
  let current: Side = 'off';
  const webhookClient = new Proxy({} as Client, {
    get: (_target, prop) => Reflect.get(clients[current], prop, clients[current]) as unknown,
  });
  const stack = await startBenchStack({ temporal: { client: webhookClient } });
  const queues: Record<Side, string> = {
    off: `bench-codec-off-${Date.now()}`,
    encrypted: `bench-codec-on-${Date.now()}`,
  };

  const runSide = (side: Side, n: number) => {
    current = side;
    return runWorker(
      temporal,
      stack.gateway,
      queues[side],
      () => refundBatch(stack, clients[side], queues[side], n, concurrency),
      converters[side],
    );
  };

  const batches: Batch[] = [];
  try {
    // Warm-up (not counted): bundle loaded, connections open, JIT warm on both paths.
    await runSide('off', 10);
    await runSide('encrypted', 10);
    for (let i = 0; i < rounds; i++) {
      const order: Side[] = i % 2 === 0 ? ['off', 'encrypted'] : ['encrypted', 'off'];
      for (const side of order) {
        const b: Batch = { side, round: i + 1, ...(await runSide(side, perRound)) };
        batches.push(b);
        const rate = round((b.n / b.wallMs) * 1000, 2);
        const sorted = [...b.latencies].sort((x, y) => x - y);
        console.log(
          `round ${b.round} ${side.padEnd(9)}: ${b.n} refunds in ${round(b.wallMs / 1000, 1)} s = ${rate}/s, ` +
            `latency median ${percentile(sorted, 50)} ms, p99 ${percentile(sorted, 99)} ms; load average (1 min) ${b.load1}`,
        );
      }
    }
    // The sides measured what they claim: ciphertext stored on one, clear payloads on the other.
    for (const b of batches.filter((x) => x.round === 1)) {
      const stored = inspectHistory(await clients[b.side].workflow.getHandle(b.sampleWorkflowId).fetchHistory());
      const clear = unencryptedPayloads(stored).length;
      if (b.side === 'encrypted' ? clear !== 0 : clear !== stored.payloads.length) {
        throw new Error(`${b.side} side stored ${clear} of ${stored.payloads.length} payloads in clear`);
      }
    }
  } finally {
    await stack.close();
    await temporal.close();
  }

  const off = summarize('off', batches);
  const encrypted = summarize('encrypted', batches);
  const ratio = round(encrypted.perSecond / off.perSecond, 3);
  console.log(
    `\ncodec cost end to end, ${concurrency} in flight, ${rounds} alternating rounds of ${perRound} (+ warm-up)`,
  );
  console.table([off, encrypted]);
  console.log(
    `ratio encrypted / off throughput = ${ratio}; median latency ${encrypted.latencyMedianMs} vs ${off.latencyMedianMs} ms; ` +
      `load average (1/5/15 min) at the end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' / ')}`,
  );
  emitResult({
    bench: 'codec-cost',
    count: perRound * rounds,
    concurrency,
    rounds,
    off,
    encrypted,
    ratio,
    batches: batches.map(({ latencies, sampleWorkflowId: _sample, ...b }) => ({
      ...b,
      perSecond: round((b.n / b.wallMs) * 1000, 2),
      latencyMedianMs: percentile(
        [...latencies].sort((x, y) => x - y),
        50,
      ),
    })),
    loadAvgEnd: os.loadavg(),
  });
}

runMain(main);
