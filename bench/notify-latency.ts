/**
 * Notify → workflow-completed latency on a real Temporal dev server.
 *
 * The real refund workflow (real activities, v3 gateway) submits N refunds to the simulator (frozen clock) and waits
 * in PROCESSING. Then, per refund, the refund is settled (admin "force SUCCESS now"), the simulator delivers the
 * signed, encrypted v3 notification to the webhook, the webhook verifies, decrypts and signals, and the workflow
 * completes. Latency = workflow close time (Temporal) − start of the notification's HTTP delivery (simulator).
 *
 *   sequential: one notification in flight at a time (the latency one notification sees)
 *   burst:      all N settled at once (WeChat catching up after an outage)
 *
 * Usage: npx ts-node --transpile-only bench/notify-latency.ts [--count 200] [--mode both|sequential|burst]
 * Uses TEMPORAL_ADDRESS when set, else starts an in-memory dev server of its own.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { loadStackConfig } from '../src/config/stack-config';
import { refundWorkflowId } from '../src/domain/ids';
import { DEMO_DIRECT_MCHID } from '../src/simulator/keys';
import { v3GatewayConfigFor } from '../src/simulator/manifest';
import { startSimulator, type SimulatorHandle } from '../src/simulator/server';
import { startDevServer, type DevServerHandle } from '../src/stack/dev-server';
import { freePort } from '../src/stack/free-port';
import { createV3Gateway } from '../src/wechatpay/v3/gateway';
import { verifiersFromSimulatorManifest } from '../src/webhook/merchants';
import { createWebhookServer, notifyUrl } from '../src/webhook/server';
import { refundWorkflow } from '../src/workflows';

const noop = () => undefined;

function percentile(sorted: number[], p: number): number {
  // Nearest-rank: the smallest value with at least p% of samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

interface Sample {
  /** Delivery start → workflow closed. */
  totalMs: number;
  /** Delivery start → webhook's 200 received by the sender (verify + decrypt + signal accepted by Temporal). */
  answerMs: number;
}

function summary(label: string, samples: Sample[], wallMs: number) {
  const s = samples.map((x) => x.totalMs).sort((a, b) => a - b);
  const a = samples.map((x) => x.answerMs).sort((x, y) => x - y);
  return {
    mode: label,
    refunds: s.length,
    medianMs: percentile(s, 50),
    p90Ms: percentile(s, 90),
    p99Ms: percentile(s, 99),
    maxMs: s[s.length - 1],
    webhookAnswerMedianMs: percentile(a, 50),
    webhookAnswerP99Ms: percentile(a, 99),
    throughputPerSec: Number(((s.length / wallMs) * 1000).toFixed(1)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '200' }, mode: { type: 'string', default: 'both' } },
  });
  const count = Number(values.count);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error('--count: must be a positive integer');
  const modes = values.mode === 'both' ? ['sequential', 'burst'] : [values.mode as string];
  if (!modes.every((m) => m === 'sequential' || m === 'burst')) throw new Error('--mode: sequential | burst | both');

  Runtime.install({ logger: new DefaultLogger('WARN') });
  let devServer: DevServerHandle | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    const cfg = loadStackConfig().temporal;
    devServer = await startDevServer(
      { ...cfg, port: await freePort() },
      { ui: false, inMemory: true, stdio: 'ignore' },
    );
    address = devServer.address;
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const nativeConnection = await NativeConnection.connect({ address });
  const sim: SimulatorHandle = await startSimulator({ timeScale: 0, seed: 99 });
  const webhook = createWebhookServer({
    config: { port: 0, logLevel: 'warn', orphanLogPath: '/dev/null' },
    temporal: client,
    merchants: verifiersFromSimulatorManifest(sim.manifest),
  });
  const baseUrl = await webhook.listen();
  const gateway = createV3Gateway(
    v3GatewayConfigFor(sim.manifest, DEMO_DIRECT_MCHID, { notifyUrl: notifyUrl(baseUrl, 'v3', DEMO_DIRECT_MCHID) }),
  );
  const taskQueue = `notify-latency-${Date.now()}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: { trace: noop, debug: noop, info: noop, log: noop, warn: console.warn, error: console.error },
    }),
    activities: createActivities({ gateway }),
    maxConcurrentWorkflowTaskExecutions: 50,
  });
  const results: ReturnType<typeof summary>[] = [];

  await worker.runUntil(async () => {
    for (const mode of modes) {
      const run = `${mode[0]}${Date.now().toString(36)}`;
      const refunds = Array.from({ length: count }, (_, i) => ({
        outTradeNo: `TB${run}${i}`,
        outRefundNo: `RB${run}${i}`,
      }));
      // Preparation (not measured): every refund submitted and PROCESSING at the simulator.
      for (let i = 0; i < refunds.length; i += 25) {
        await Promise.all(
          refunds.slice(i, i + 25).map(async (r) => {
            await sim.admin.seedOrder({ mchid: DEMO_DIRECT_MCHID, outTradeNo: r.outTradeNo, totalFen: 1_000 });
            await client.workflow.start(refundWorkflow, {
              taskQueue,
              workflowId: refundWorkflowId(r.outRefundNo),
              args: [{ ...r, refundFen: 100, totalFen: 1_000, payerBankType: 'OTHERS' }],
            });
          }),
        );
      }
      for (;;) {
        const processing = (await sim.admin.refunds({ owner: DEMO_DIRECT_MCHID, status: 'PROCESSING' })).filter((r) =>
          r.outRefundNo.startsWith(`RB${run}`),
        );
        if (processing.length === count) break;
        await new Promise((r) => setTimeout(r, 200));
      }

      const latencyOf = async (outRefundNo: string): Promise<Sample> => {
        const handle = client.workflow.getHandle(refundWorkflowId(outRefundNo));
        const outcome = await handle.result();
        if (outcome.state !== 'SUCCESS') throw new Error(`${outRefundNo} ended ${outcome.state}`);
        const closeTime = (await handle.describe()).closeTime;
        const [note] = await sim.admin.notifications({ outRefundNo });
        const delivered = note?.attempts.find((a) => a.ok);
        if (!closeTime || !delivered) throw new Error(`${outRefundNo}: no delivered notification or close time`);
        return { totalMs: closeTime.getTime() - delivered.realAt, answerMs: delivered.latencyMs };
      };

      const started = Date.now();
      let latencies: Sample[];
      if (mode === 'sequential') {
        latencies = [];
        for (const r of refunds) {
          await sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: 0 });
          latencies.push(await latencyOf(r.outRefundNo));
        }
      } else {
        await Promise.all(
          refunds.map((r) => sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: 0 })),
        );
        latencies = await Promise.all(refunds.map((r) => latencyOf(r.outRefundNo)));
      }
      results.push(summary(mode, latencies, Date.now() - started));
    }
  });

  const rejected = (await webhook.metrics.notifications.get()).values.filter((v) => v.labels.result !== 'accepted');
  console.log('notify → workflow-completed latency (real refund workflow, dev server, v3 notifications)');
  console.table(results);
  if (rejected.some((v) => v.value > 0)) console.log('non-accepted notifications:', rejected);
  console.log(JSON.stringify({ bench: 'notify-latency', results }));

  await webhook.close();
  await sim.close();
  await nativeConnection.close();
  await connection.close();
  await devServer?.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
