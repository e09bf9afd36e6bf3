/**
 * Bench 4: webhook notifications per second with verification, decryption and signalling, next to the same machine
 * answering the same requests without them.
 *
 *   webhook:  the real webhook (createWebhookServer) receiving genuine WeChat Pay v3 refund notifications: bodies built
 *             by the simulator's own payload code (AES-256-GCM resource under the merchant's APIv3 key) and signed
 *             by the simulator's WeChat signer (alternating platform certificate / public key, as WeChat in
 *             migration). Each one is verified, decrypted, validated and signalled (`refundNotified`) to a running
 *             workflow on the dev server: `--targets` signal-sink workflows (bench/baseline) with refund workflow IDs,
 *             so the signal path is the real one and every notification is a distinct, fresh one (no dedupe hits).
 *   baseline: a bare Fastify server on the same machine, same body parser, answering 200 to the same requests.
 *
 * Load: undici Pool, `--concurrency` requests in flight, `--count` requests per side per round, alternating rounds.
 * Ratio = webhook rate / bare rate. At the end, the sinks' signal counts must equal the notifications accepted.
 *
 * Usage: npx ts-node --transpile-only bench/webhook-throughput.ts [--count 1000] [--concurrency 32] [--rounds 3]
 *                                                                   [--targets 50]
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { refundWorkflowId } from '../src/domain/ids';
import type { SimRefund } from '../src/simulator/model';
import { v3NotificationBody } from '../src/simulator/notification-payloads';
import { V3_NOTIFY_PATH } from '../src/webhook/server';
import { baselineStopSignal, signalCountQuery, signalSinkWorkflow } from './baseline/workflows';
import { MCHID, runTag, runWorker, startBenchStack } from './support/stack';
import { emitResult, intFlag, percentile, round, runMain } from './support/util';

interface Wire {
  headers: Record<string, string>;
  body: string;
}

interface SideResult {
  requests: number;
  seconds: number;
  latencies: number[];
  statuses: Record<string, number>;
}

async function fire(url: string, wires: Wire[], concurrency: number): Promise<SideResult> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const started = process.hrtime.bigint();
  const lane = async () => {
    for (let i = next++; i < wires.length; i = next++) {
      const t0 = process.hrtime.bigint();
      const res = await pool.request({
        path: u.pathname,
        method: 'POST',
        headers: wires[i].headers,
        body: wires[i].body,
      });
      await res.body.text();
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return { requests: wires.length, seconds, latencies, statuses };
}

function summarize(side: string, parts: SideResult[]) {
  const requests = parts.reduce((s, p) => s + p.requests, 0);
  const seconds = parts.reduce((s, p) => s + p.seconds, 0);
  const lat = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    side,
    requests,
    seconds: round(seconds, 2),
    perSecond: round(requests / seconds, 1),
    latencyMedianMs: round(percentile(lat, 50), 1),
    latencyP99Ms: round(percentile(lat, 99), 1),
    statuses: JSON.stringify(statuses),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      targets: { type: 'string' },
    },
  });
  const count = intFlag('count', values.count, 1000);
  const concurrency = intFlag('concurrency', values.concurrency, 32);
  const rounds = intFlag('rounds', values.rounds, 3);
  const targets = intFlag('targets', values.targets, 50);

  const stack = await startBenchStack();
  const merchant = stack.sim.merchants.find((m) => m.mchid === MCHID)!;
  const webhookUrl = `${stack.webhookUrl}${V3_NOTIFY_PATH}/${MCHID}`;

  const bare = Fastify({ logger: false });
  bare.removeAllContentTypeParsers();
  bare.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  bare.post(`${V3_NOTIFY_PATH}/:mchid`, async (_req, reply) => reply.code(200).send());
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}${V3_NOTIFY_PATH}/${MCHID}`;

  const tag = runTag('W');
  const outRefundNos = Array.from({ length: targets }, (_, i) => `R${tag}${i}`);
  const taskQueue = `bench-webhook-${Date.now()}`;
  let serial = 0;
  /** Genuine notifications, fresh (timestamp window, distinct ids), one per request. */
  const notifications = (n: number): Wire[] =>
    Array.from({ length: n }, () => {
      serial += 1;
      const i = serial % targets;
      const refund = {
        mchid: MCHID,
        outTradeNo: `T${tag}${i}`,
        transactionId: `4200000${String(1_000_000_000_000_000n + BigInt(serial)).slice(0, 21)}`,
        outRefundNo: outRefundNos[i],
        refundId: `50000000382024${String(serial).padStart(15, '0')}`,
        successAt: Date.now(),
        userReceivedAccount: '支付用户零钱',
        amount: { total: 1_000, refund: 100, payerTotal: 1_000, payerRefund: 100 },
      } as unknown as SimRefund;
      const body = v3NotificationBody(`EV-${tag}-${serial}`, Date.now(), refund, 'SUCCESS', merchant.apiV3Key);
      return {
        body,
        headers: {
          ...stack.sim.core.signer.signHeaders(body),
          'Content-Type': 'application/json',
          'User-Agent': 'Mozilla/4.0',
          'Request-ID': randomUUID(),
        },
      };
    });

  const [full, base, signalled] = await runWorker(stack.temporal!, stack.gateway, taskQueue, async () => {
    const sinks = await Promise.all(
      outRefundNos.map((no) =>
        stack.client.workflow.start(signalSinkWorkflow, { taskQueue, workflowId: refundWorkflowId(no) }),
      ),
    );
    // Warm-up (not counted), then alternating rounds over the same requests.
    const warm = notifications(100);
    await fire(bareUrl, warm, concurrency);
    await fire(webhookUrl, warm, concurrency);
    const fullParts: SideResult[] = [];
    const bareParts: SideResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const wires = notifications(count);
      bareParts.push(await fire(bareUrl, wires, concurrency));
      fullParts.push(await fire(webhookUrl, wires, concurrency));
    }
    const counts = await Promise.all(sinks.map((h) => h.query(signalCountQuery)));
    await Promise.all(sinks.map((h) => h.signal(baselineStopSignal)));
    await Promise.all(sinks.map((h) => h.result()));
    return [fullParts, bareParts, counts.reduce((s, c) => s + c, 0)] as const;
  });
  const accepted = (await stack.webhook.metrics.notifications.get()).values
    .filter((v) => v.labels.result === 'accepted')
    .reduce((s, v) => s + v.value, 0);
  await bare.close();
  await stack.close();

  const withAll = summarize('webhook: verify + decrypt + signal', full);
  const without = summarize('bare Fastify: 200', base);
  const ratio = round(withAll.perSecond / without.perSecond, 3);
  console.log(
    `webhook notifications/s, ${concurrency} in flight, ${rounds} alternating rounds of ${count} (+ warm-up)`,
  );
  console.table([withAll, without]);
  console.log(
    `ratio webhook / bare = ${ratio}; signals counted by the sink workflows: ${signalled}, accepted ${accepted}`,
  );
  emitResult({
    bench: 'webhook-throughput',
    count,
    concurrency,
    rounds,
    targets,
    webhook: withAll,
    bare: without,
    ratio,
    signalsCounted: signalled,
    accepted,
  });
}

runMain(main);
