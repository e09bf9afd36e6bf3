/**
 * Temporal down → the webhook answers 5xx so WeChat keeps the notification and retries; once Temporal is back, the
 * retry is signalled and the refund completes. Nothing is lost, nothing is recorded as an orphan.
 *
 * Uses a dev server of its own (SQLite file, so the workflow survives the restart) rather than the shared one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
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
  webhook = await startWebhook(sim, client, { signalTimeoutMs: 1_000, handlerTimeoutMs: 2_000, healthTimeoutMs: 500 });
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

it('answers 503 while Temporal is down; WeChat’s retry after it is back is signalled and the refund completes', async () => {
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

  const workerConnection = await NativeConnection.connect({ address });
  try {
    const worker = await Worker.create({
      connection: workerConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle: await bundleQuietly(require.resolve('./fixtures/notification-waiter')),
      dataConverter: testDataConverter(),
    });
    const notification = await worker.runUntil(handle.result());
    expect(notification).toMatchObject({ outRefundNo: nos.outRefundNo, status: 'SUCCESS', apiVersion: 'v3' });
  } finally {
    await workerConnection.close();
  }
  expect(await signalsReceived(handle)).toBe(1);
  expect(webhook.server.orphans.recent()).toEqual([]);
});
