/**
 * Temporal down, with the outbox (the default) → the webhook stores the verified notification, answers 200, and
 * signals it once Temporal is back, even from a webhook restarted meanwhile: one delivery, the refund completes.
 * Without the outbox → it answers 5xx so WeChat keeps the notification and retries; once Temporal is back, the retry
 * is signalled and the refund completes. Either way nothing is lost, nothing is recorded as an orphan.
 *
 * Uses a dev server of its own (SQLite file, so the workflow survives the restart) rather than the shared one.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { request } from 'undici';
import { loadStackConfig } from '../../src/config/stack-config';
import { refundWorkflowId } from '../../src/domain/ids';
import type { SimulatorHandle } from '../../src/simulator/server';
import { startDevServer, type DevServerHandle } from '../../src/stack/dev-server';
import { freePort } from '../../src/stack/free-port';
import { bundleQuietly, testDataConverter, uniqueTaskQueue } from '../harness/temporal';
import { notificationWaiter } from './fixtures/notification-waiter';
import {
  DEMO_DIRECT_MCHID,
  createRefund,
  deliveryAttempts,
  signalsReceived,
  startFrozenSimulator,
  startWebhook,
  uniqueNos,
  v3Gateway,
  waitFor,
  type WebhookUnderTest,
} from './helpers';

jest.setTimeout(180_000);

const OUTAGE_TIMEOUTS = { signalTimeoutMs: 1_000, handlerTimeoutMs: 2_000, healthTimeoutMs: 500 };

let dir: string;
let temporal: DevServerHandle | undefined;
let connection: Connection;
let client: Client;
let sim: SimulatorHandle;
let webhook: WebhookUnderTest;

async function startOwnTemporal(port: number): Promise<DevServerHandle> {
  const base = loadStackConfig().temporal;
  return startDevServer(
    { ...base, port, dbFile: path.join(dir, 'temporal.sqlite') },
    { ui: false, stdio: 'ignore', readyTimeoutMs: 90_000 },
  );
}

beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') }); // the SDK's INFO chatter drowns the report
  } catch {
    // Already installed in this jest worker.
  }
  dir = mkdtempSync(path.join(tmpdir(), 'webhook-outage-'));
  temporal = await startOwnTemporal(await freePort());
  // Lazy: the webhook keeps running (and reconnects by itself) while the server is away.
  connection = Connection.lazy({ address: temporal.address });
  client = new Client({ connection, namespace: temporal.namespace, dataConverter: testDataConverter() });
  sim = await startFrozenSimulator({ seed: 23 });
  webhook = await startWebhook(sim, client, { ...OUTAGE_TIMEOUTS, outbox: { enabled: false } });
});

afterAll(async () => {
  await webhook?.close();
  await sim?.close();
  await connection?.close();
  await temporal?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function health(): Promise<number> {
  const res = await request(`${webhook.baseUrl}/healthz`);
  await res.body.dump();
  return res.statusCode;
}

/** Serves `taskQueue` until the waiter has its notification; returns it. */
async function runWaiterToEnd(taskQueue: string, handle: WorkflowHandle<typeof notificationWaiter>) {
  const workerConnection = await NativeConnection.connect({ address: temporal!.address });
  try {
    const worker = await Worker.create({
      connection: workerConnection,
      namespace: temporal!.namespace,
      taskQueue,
      workflowBundle: await bundleQuietly(require.resolve('./fixtures/notification-waiter')),
      dataConverter: testDataConverter(),
    });
    return await worker.runUntil(handle.result());
  } finally {
    await workerConnection.close();
  }
}

it('without the outbox: answers 503 while Temporal is down; WeChat’s retry after it is back is signalled and the refund completes', async () => {
  const address = temporal!.address;
  const port = Number(address.split(':').pop());
  const taskQueue = uniqueTaskQueue('outage');
  const nos = uniqueNos('down');
  const handle = await client.workflow.start(notificationWaiter, {
    taskQueue,
    workflowId: refundWorkflowId(nos.outRefundNo),
  });
  await createRefund(sim, v3Gateway(sim, DEMO_DIRECT_MCHID, webhook.baseUrl), { mchid: DEMO_DIRECT_MCHID, ...nos });
  expect(await health()).toBe(200);

  await temporal!.stop();
  temporal = undefined;
  expect(await health()).toBe(503);

  // The refund settles; WeChat's first delivery reaches the webhook while Temporal is away.
  const started = Date.now();
  await sim.admin.advance({ seconds: 30 });
  const [first] = await deliveryAttempts(sim, nos.outRefundNo);
  expect(first).toMatchObject({ statusCode: 503, ok: false });
  expect(first.latencyMs).toBeLessThan(5_000); // inside WeChat's 5 s, so it is a clean "retry later"
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(JSON.parse(first.error!.replace(/^receiver answered 503: /, ''))).toEqual({
    code: 'FAIL',
    message: 'temporarily unavailable, retry later',
  });
  expect(webhook.logs.lines.find((l) => l.outRefundNo === nos.outRefundNo)?.result).toBe('temporal_unavailable');

  temporal = await startOwnTemporal(port);
  await waitFor('webhook sees Temporal again', async () => ((await health()) === 200 ? true : undefined), 30_000);

  // WeChat's retry, 15 s later (§4.6).
  await sim.admin.advance({ seconds: 15 });
  const attempts = await deliveryAttempts(sim, nos.outRefundNo);
  expect(attempts.map((a) => a.statusCode)).toEqual([503, 200]);

  const notification = await runWaiterToEnd(taskQueue, handle);
  expect(notification).toMatchObject({ outRefundNo: nos.outRefundNo, status: 'SUCCESS', apiVersion: 'v3' });
  expect(await signalsReceived(handle)).toBe(1);
  expect(webhook.server.orphans.recent()).toEqual([]);
});

it('with the outbox: answers 200 while Temporal is down, and a restarted webhook signals it once Temporal is back', async () => {
  const port = Number(temporal!.address.split(':').pop());
  const outboxDir = path.join(dir, 'outbox');
  const withOutbox = { ...OUTAGE_TIMEOUTS, outbox: { dir: outboxDir, maxBackoffMs: 500 } };
  const taskQueue = uniqueTaskQueue('outbox');
  const nos = uniqueNos('stored');
  const handle = await client.workflow.start(notificationWaiter, {
    taskQueue,
    workflowId: refundWorkflowId(nos.outRefundNo),
  });
  const first = await startWebhook(sim, client, withOutbox);
  await createRefund(sim, v3Gateway(sim, DEMO_DIRECT_MCHID, first.baseUrl), { mchid: DEMO_DIRECT_MCHID, ...nos });

  await temporal!.stop();
  temporal = undefined;
  await sim.admin.advance({ seconds: 30 });
  const [delivery] = await deliveryAttempts(sim, nos.outRefundNo);
  expect(delivery).toMatchObject({ statusCode: 200, ok: true });
  expect(delivery.latencyMs).toBeLessThan(2_000);
  expect(first.logs.lines.find((l) => l.outRefundNo === nos.outRefundNo)?.result).toBe('deferred');
  expect(readdirSync(outboxDir)).toHaveLength(1);
  await first.close(); // the relay stops; the entry stays on disk

  temporal = await startOwnTemporal(port);
  const second = await startWebhook(sim, client, withOutbox); // its relay picks the entry up
  try {
    const notification = await runWaiterToEnd(taskQueue, handle);
    expect(notification).toMatchObject({ outRefundNo: nos.outRefundNo, status: 'SUCCESS', apiVersion: 'v3' });
    await second.server.outbox!.idle();
    expect(readdirSync(outboxDir)).toEqual([]);
    expect(await signalsReceived(handle)).toBe(1);
    // WeChat delivered once: no retry was needed.
    await sim.admin.advance({ seconds: 15 });
    expect((await deliveryAttempts(sim, nos.outRefundNo)).map((a) => a.statusCode)).toEqual([200]);
    expect(second.server.orphans.recent()).toEqual([]);
  } finally {
    await second.close();
  }
});
