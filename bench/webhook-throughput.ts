/**
 * Bench 4: webhook notifications per second with verification, decryption and signalling, next to a server that
 * signals the same workflows the same way without verifying or decrypting anything (the floor).
 *
 *   webhook:  the real webhook (createWebhookServer) receiving genuine WeChat Pay v3 refund notifications: bodies built
 *             by the simulator's own payload code (AES-256-GCM resource under the merchant's APIv3 key) and signed
 *             by the simulator's WeChat signer (alternating platform certificate / public key, as WeChat in
 *             migration). Each one is verified, decrypted, validated and signalled (`refundNotified`) to a running
 *             workflow on the dev server: `--targets` signal-sink workflows (bench/baseline) with refund workflow IDs,
 *             so the signal path is the real one and every notification is a distinct, fresh one (no dedupe hits).
 *   floor:    the same Fastify app (createHttpApp, same config, same raw-body parser) receiving the same requests plus
 *             a plaintext `x-bench-out-refund-no` header; it reads the refund number from it, skips verification and
 *             decryption, and signals the same workflow through the same function (signalRefundWorkflow), the same
 *             client and the same deadline, with a notification of the same shape (one decoded once at start-up).
 *             What separates the two sides is what the webhook adds: signature check, AES-GCM, zod, dedupe memory,
 *             the signal gate, metrics and the log line.
 *   bare:     (second line, context only) the same app answering 200 without signalling.
 *
 * Load: undici Pool, `--concurrency` requests in flight, `--count` requests per side per round, rounds alternating
 * the side that goes first. Ratio = webhook rate / floor rate (target ≥ 0.8). The 1-minute load average is printed
 * with every round. At the end, the sinks' signal counts must equal the signals both sides answered 200 for.
 *
 * Usage: npx ts-node --transpile-only bench/webhook-throughput.ts [--count 1000] [--concurrency 32] [--rounds 3]
 *                                                                   [--targets 50] [--signal-concurrency N]
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { Pool } from 'undici';
import { refundWorkflowId } from '../src/domain/ids';
import type { RefundNotification } from '../src/wechatpay/gateway';
import { webhookConfigSchema } from '../src/webhook/config';
import { createHttpApp } from '../src/webhook/http-app';
import { verifiersFromSimulatorManifest } from '../src/webhook/merchants';
import { V3_NOTIFY_PATH } from '../src/webhook/server';
import { signalRefundWorkflow } from '../src/webhook/signal-refund';
import { genuineV3Notification } from '../test/webhook/helpers';
import { baselineStopSignal, signalCountQuery, signalSinkWorkflow } from './baseline/workflows';
import { MCHID, runTag, runWorker, startBenchStack } from './support/stack';
import { emitResult, intFlag, mapLimit, percentile, round, runMain } from './support/util';

const OUT_REFUND_NO_HEADER = 'x-bench-out-refund-no';
const load1 = () => round(os.loadavg()[0], 2);

interface Wire {
  headers: Record<string, string>;
  body: string;
}

interface SideResult {
  requests: number;
  seconds: number;
  latencies: number[];
  statuses: Record<string, number>;
  /** 1-minute load average when the round ended. */
  load1: number;
}

/** The webhook's own Fastify app and settings, with one route: `handle` answers the notification route's requests. */
async function sameFramework(
  webhookConfig: Record<string, unknown>,
  handle: RouteHandlerMethod,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = createHttpApp(webhookConfigSchema.parse(webhookConfig));
  app.post(`${V3_NOTIFY_PATH}/:mchid`, handle);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${V3_NOTIFY_PATH}/${MCHID}` };
}

/**
 * The floor: signals `refund-<x-bench-out-refund-no>` exactly as the webhook does (same function, client, deadline and
 * payload shape), with nothing verified or decrypted; 503 when the signal fails, as the webhook would answer.
 */
function floorHandler(client: Client, template: RefundNotification, signalTimeoutMs: number): RouteHandlerMethod {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const outRefundNo = String(req.headers[OUT_REFUND_NO_HEADER]);
    const notification = { ...template, outRefundNo, notificationId: String(req.headers['request-id']) };
    try {
      await signalRefundWorkflow(client, refundWorkflowId(outRefundNo), notification, Date.now() + signalTimeoutMs);
      return reply.code(200).send('{"code":"SUCCESS","message":"OK"}');
    } catch {
      return reply.code(503).send('{"code":"FAIL","message":"temporarily unavailable, retry later"}');
    }
  };
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
  return { requests: wires.length, seconds, latencies, statuses, load1: load1() };
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
    perRound: parts.map((p) => round(p.requests / p.seconds, 1)).join(' / '),
    load1PerRound: parts.map((p) => p.load1).join(' / '),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      targets: { type: 'string' },
      'signal-concurrency': { type: 'string' },
    },
  });
  const count = intFlag('count', values.count, 1000);
  const concurrency = intFlag('concurrency', values.concurrency, 32);
  const rounds = intFlag('rounds', values.rounds, 3);
  const targets = intFlag('targets', values.targets, 50);

  const signalConcurrency =
    values['signal-concurrency'] === undefined
      ? undefined
      : intFlag('signal-concurrency', values['signal-concurrency'], 1);
  const webhookConfig = { signalTimeoutMs: 3_000, ...(signalConcurrency ? { signalConcurrency } : {}) };
  const stack = await startBenchStack({ webhook: webhookConfig });
  const webhookUrl = `${stack.webhookUrl}${V3_NOTIFY_PATH}/${MCHID}`;
  // The floor's and the bare server's app is the webhook's own: same factory, same parsed settings.
  const appConfig = { ...stack.webhook.config, port: 0 };

  const tag = runTag('W');
  const outRefundNos = Array.from({ length: targets }, (_, i) => `R${tag}${i}`);
  const taskQueue = `bench-webhook-${Date.now()}`;
  let serial = 0;
  /** Genuine notifications, fresh (timestamp window, distinct ids), one per request. */
  const notifications = (n: number): Wire[] =>
    Array.from({ length: n }, () => {
      serial += 1;
      const i = serial % targets;
      const { body, headers } = genuineV3Notification(stack.sim, MCHID, outRefundNos[i]);
      return {
        body,
        headers: {
          ...headers,
          'Request-ID': randomUUID(),
          // Read by the floor only; the webhook ignores headers it does not know.
          [OUT_REFUND_NO_HEADER]: outRefundNos[i],
        },
      };
    });

  // The floor signals a notification of the webhook's own shape: one genuine notification decoded once, here.
  const sample = notifications(1)[0];
  const verifier = verifiersFromSimulatorManifest(stack.sim.manifest).find((m) => m.mchid === MCHID)!;
  const template = await verifier.verifyV3!({
    headers: Object.fromEntries(Object.entries(sample.headers).map(([k, v]) => [k.toLowerCase(), v])),
    rawBody: Buffer.from(sample.body),
    now: new Date(),
  });
  const floor = await sameFramework(
    appConfig,
    floorHandler(stack.client, template, stack.webhook.config.signalTimeoutMs),
  );
  const bare = await sameFramework(appConfig, async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.code(200).send(),
  );

  type Side = 'webhook' | 'floor' | 'bare';
  const urls: Record<Side, string> = { webhook: webhookUrl, floor: floor.url, bare: bare.url };
  const parts: Record<Side, SideResult[]> = { webhook: [], floor: [], bare: [] };
  const signalled = await runWorker(stack.temporal!, stack.gateway, taskQueue, async () => {
    const sinks = await mapLimit(outRefundNos, 50, (no) =>
      stack.client.workflow.start(signalSinkWorkflow, { taskQueue, workflowId: refundWorkflowId(no) }),
    );
    // Warm-up (not counted), then rounds over the same requests, the order of the sides alternating.
    const warm = notifications(100);
    for (const side of ['bare', 'floor', 'webhook'] as const) await fire(urls[side], warm, concurrency);
    for (let r = 0; r < rounds; r++) {
      const wires = notifications(count);
      const order: Side[] = r % 2 === 0 ? ['floor', 'webhook', 'bare'] : ['webhook', 'floor', 'bare'];
      for (const side of order) {
        const result = await fire(urls[side], wires, concurrency);
        parts[side].push(result);
        console.log(
          `round ${r + 1} ${side}: ${round(result.requests / result.seconds, 1)}/s, statuses ` +
            `${JSON.stringify(result.statuses)}, load average (1 min) ${result.load1}`,
        );
      }
    }
    // Bounded, so that a run with thousands of targets does not time out its own queries.
    const counts = await mapLimit(sinks, 50, (h) => h.query(signalCountQuery));
    await mapLimit(sinks, 50, (h) => h.signal(baselineStopSignal));
    await mapLimit(sinks, 50, (h) => h.result());
    return counts.reduce((sum, c) => sum + c, 0);
  });
  const accepted = (await stack.webhook.metrics.notifications.get()).values
    .filter((v) => v.labels.result === 'accepted')
    .reduce((sum, v) => sum + v.value, 0);
  // Every 200 of the floor is one signal too (warm-up included on both sides: 100 each).
  const floorSignalled = parts.floor.reduce((sum, p) => sum + (p.statuses['200'] ?? 0), 0) + 100;
  await floor.app.close();
  await bare.app.close();
  await stack.close();

  const withAll = summarize('webhook: verify + decrypt + signal', parts.webhook);
  const floorRow = summarize('floor: same app, signal only', parts.floor);
  const bareRow = summarize('bare: same app, 200 only', parts.bare);
  const ratio = round(withAll.perSecond / floorRow.perSecond, 3);
  const ratioToBare = round(withAll.perSecond / bareRow.perSecond, 3);
  console.log(
    `webhook notifications/s, ${concurrency} in flight, ${rounds} rounds of ${count} per side (+ warm-up); ` +
      `load average (1/5/15 min) at the end ${os
        .loadavg()
        .map((x) => round(x, 2))
        .join(' / ')}`,
  );
  console.table([withAll, floorRow, bareRow]);
  console.log(
    `ratio webhook / floor = ${ratio} (target ≥ 0.8); webhook / bare 200 = ${ratioToBare}; signals counted by the ` +
      `sink workflows: ${signalled} (webhook accepted ${accepted} + floor ${floorSignalled})`,
  );
  if (signalled !== accepted + floorSignalled) {
    throw new Error(`sinks counted ${signalled} signals, the servers answered 200 for ${accepted + floorSignalled}`);
  }
  emitResult({
    bench: 'webhook-throughput',
    count,
    concurrency,
    rounds,
    targets,
    webhook: withAll,
    floor: floorRow,
    bare: bareRow,
    ratio,
    ratioToBare,
    signalConcurrency: stack.webhook.config.signalConcurrency,
    signalsCounted: signalled,
    accepted,
    floorSignalled,
    loadAvgEnd: os.loadavg().map((x) => round(x, 2)),
  });
}

runMain(main);
