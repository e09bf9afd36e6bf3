/**
 * Shared pieces of the webhook tests: a frozen-clock simulator that really sends notifications, the webhook under
 * test on a free port with its log captured, refunds created through the real v3/v2 gateways, and small probes of
 * Temporal history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { merchantScope, refundWorkflowId, type MerchantScope } from '../../src/domain/ids';
import { refundWorkflow } from '../../src/workflows';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/server';
import type { SimulatorConfigInput } from '../../src/simulator/config';
import type { SimRefund } from '../../src/simulator/model';
import { v3NotificationBody } from '../../src/simulator/notification-payloads';
import { DEMO_DIRECT_MCHID } from '../../src/simulator/keys';
import { v2GatewayConfigFor, v3GatewayConfigFor } from '../../src/simulator/manifest';
import { createV2Gateway } from '../../src/wechatpay/v2/gateway';
import { createV3Gateway } from '../../src/wechatpay/v3/gateway';
import type { RefundGateway } from '../../src/wechatpay/gateway';
import type { WebhookConfigInput } from '../../src/webhook/config';
import type { MerchantDirectory } from '../../src/webhook/merchant-directory';
import type { MerchantVerifier } from '../../src/webhook/merchant-verifier';
import { verifiersFromSimulatorManifest } from '../../src/webhook/merchants';
import { createWebhookServer, notifyUrl, type WebhookServer } from '../../src/webhook/server';
import { bundleQuietly, testDataConverter, uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { notificationWaiter } from './fixtures/notification-waiter';

export { DEMO_DIRECT_MCHID, DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID } from '../../src/simulator/keys';

/** Collects pino's JSON lines so tests can check what was (and was not) logged. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      this.raw.push(line);
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not JSON: kept in `raw` only.
      }
    }
    done();
  }
  text(): string {
    return this.raw.join('\n');
  }
}

/** A simulator whose clock only moves when a test advances it: every notification attempt happens on cue. */
export function startFrozenSimulator(extra: SimulatorConfigInput = {}): Promise<SimulatorHandle> {
  return startSimulator({ timeScale: 0, seed: 7, ...extra });
}

export interface WebhookUnderTest {
  server: WebhookServer;
  baseUrl: string;
  logs: LogCapture;
  orphanLogPath: string;
  close(): Promise<void>;
}

export async function startWebhook(
  sim: SimulatorHandle,
  temporal: Client,
  config: Partial<WebhookConfigInput> = {},
  merchants: readonly MerchantVerifier[] | MerchantDirectory = verifiersFromSimulatorManifest(sim.manifest),
): Promise<WebhookUnderTest> {
  const dir = mkdtempSync(path.join(tmpdir(), 'webhook-test-'));
  const orphanLogPath = path.join(dir, 'orphans.jsonl');
  const logs = new LogCapture();
  const server = createWebhookServer({
    // Generous signal deadline: a loaded 2-core CI machine must not turn a slow signal into a (legitimate) 503.
    config: {
      port: 0,
      logLevel: 'debug',
      orphanLogPath,
      signalTimeoutMs: 4_000,
      handlerTimeoutMs: 4_500,
      ...config,
      outbox: { dir: path.join(dir, 'outbox'), ...config.outbox },
    },
    temporal,
    merchants,
    logStream: logs,
  });
  const baseUrl = await server.listen();
  return {
    server,
    baseUrl,
    logs,
    orphanLogPath,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function v3Gateway(sim: SimulatorHandle, mchid: string, webhookBaseUrl: string): RefundGateway {
  return createV3Gateway(
    v3GatewayConfigFor(sim.manifest, mchid, { notifyUrl: notifyUrl(webhookBaseUrl, 'v3', mchid) }),
  );
}

export function v2Gateway(sim: SimulatorHandle, mchid: string, webhookBaseUrl: string): RefundGateway {
  return createV2Gateway(
    v2GatewayConfigFor(sim.manifest, mchid, { notifyUrl: notifyUrl(webhookBaseUrl, 'v2', mchid) }),
  );
}

let counter = 0;
/** Unique order/refund numbers per test run (the shared dev server keeps workflow ids of earlier runs). */
export function uniqueNos(tag: string): { outTradeNo: string; outRefundNo: string } {
  const stamp = `${Date.now().toString(36)}${(counter++).toString(36)}`;
  return { outTradeNo: `T${tag}${stamp}`.slice(0, 32), outRefundNo: `R${tag}${stamp}`.slice(0, 64) };
}

/** Seeds a paid order at the simulator and asks for a refund that will notify the webhook. */
export async function createRefund(
  sim: SimulatorHandle,
  gateway: RefundGateway,
  opts: {
    mchid: string;
    subMchid?: string;
    outTradeNo: string;
    outRefundNo: string;
    totalFen?: number;
    refundFen?: number;
    /** Overrides the gateway's notify_url for this refund. */
    notifyUrl?: string;
  },
): Promise<void> {
  const totalFen = opts.totalFen ?? 1_000;
  await sim.admin.seedOrder({ mchid: opts.mchid, subMchid: opts.subMchid, outTradeNo: opts.outTradeNo, totalFen });
  await gateway.createRefund({
    outRefundNo: opts.outRefundNo,
    outTradeNo: opts.outTradeNo,
    refundFen: opts.refundFen ?? 300,
    totalFen,
    subMchid: opts.subMchid,
    notifyUrl: opts.notifyUrl,
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every delivery attempt the simulator made for this refund's notifications (all copies), oldest first. */
export async function deliveryAttempts(sim: SimulatorHandle, outRefundNo: string) {
  const notes = await sim.admin.notifications({ outRefundNo });
  return notes.flatMap((n) =>
    n.attempts.map((a) => ({ ...a, notificationId: n.id, format: n.format, state: n.state })),
  );
}

/** How many `refundNotified` signals Temporal recorded for the workflow. */
export async function signalsReceived(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'refundNotified',
  ).length;
}

export async function workflowStatus(handle: WorkflowHandle): Promise<string> {
  return (await handle.describe()).status.name;
}

/** A worker running the stand-in refund workflow on its own task queue. */
export async function startStandInWorker(env: TestWorkflowEnvironment) {
  const taskQueue = uniqueTaskQueue('webhook');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundleQuietly(require.resolve('./fixtures/notification-waiter')),
    dataConverter: testDataConverter(),
  });
  const running = worker.run();
  return {
    taskQueue,
    /** Starts `refund-<out_refund_no>` (or the ID of `scope`'s merchant: domain/ids.ts) waiting for its notification. */
    startWaiter(outRefundNo: string, scope?: MerchantScope): Promise<WorkflowHandle<typeof notificationWaiter>> {
      return this.startWaiterAt(refundWorkflowId(outRefundNo, scope));
    },
    startWaiterAt(workflowId: string): Promise<WorkflowHandle<typeof notificationWaiter>> {
      return env.client.workflow.start(notificationWaiter, { taskQueue, workflowId });
    },
    async close() {
      worker.shutdown();
      await running;
    },
  };
}

export interface CapturedRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Stands where the webhook would be and records what WeChat (the simulator) sends, byte for byte, answering 500 so
 * nothing is acknowledged. Tests then replay, tamper with or repeat those genuine requests against the webhook.
 */
export async function startCaptureServer() {
  const captured: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      captured.push({ path: req.url ?? '/', headers, body: Buffer.concat(chunks) });
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    captured,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A worker running the real refund workflow with the real activities over `gateway` (whose notify_url points at the
 * webhook under test). `start` seeds a paid order, starts `refund-<out_refund_no>` and resolves once the simulator
 * has accepted the create, i.e. the refund is PROCESSING and its notification will follow when it settles.
 */
export async function startRefundWorker(
  env: TestWorkflowEnvironment,
  sim: SimulatorHandle,
  gateway: RefundGateway,
  owner: { mchid: string; subMchid?: string },
) {
  const taskQueue = uniqueTaskQueue('webhook-refund');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ gateway }),
    dataConverter: testDataConverter(),
  });
  const running = worker.run();
  return {
    async start(tag: string, opts: { beforeCreate?: (outRefundNo: string) => Promise<unknown> } = {}) {
      const nos = uniqueNos(tag);
      await opts.beforeCreate?.(nos.outRefundNo);
      await sim.admin.seedOrder({
        mchid: owner.mchid,
        subMchid: owner.subMchid,
        outTradeNo: nos.outTradeNo,
        totalFen: 1_000,
      });
      const handle = await env.client.workflow.start(refundWorkflow, {
        taskQueue,
        // The manifest's webhook takes the first direct merchant as the default: only the others' IDs name them.
        workflowId: refundWorkflowId(nos.outRefundNo, merchantScope(owner.mchid, owner.subMchid, DEMO_DIRECT_MCHID)),
        args: [{ ...nos, subMchid: owner.subMchid, refundFen: 300, totalFen: 1_000, payerBankType: 'OTHERS' }],
      });
      await waitFor('create accepted by the simulator', async () =>
        (await sim.admin.refunds({ outTradeNo: nos.outTradeNo })).length > 0 ? true : undefined,
      );
      return { ...nos, handle };
    },
    async close() {
      worker.shutdown();
      await running;
    },
  };
}

let serial = 0;
/**
 * A genuine v3 SUCCESS notification for `outRefundNo`, as WeChat would send it right now: the simulator's own payload
 * code (resource encrypted under the merchant's APIv3 key) and signer; a fresh notification id each call.
 */
export function genuineV3Notification(
  sim: SimulatorHandle,
  mchid: string,
  outRefundNo: string,
): { headers: Record<string, string>; body: string } {
  serial += 1;
  const merchant = sim.merchants.find((m) => m.mchid === mchid);
  if (!merchant?.apiV3Key) throw new Error(`simulator has no v3 merchant ${mchid}`);
  const refund = {
    mchid,
    outTradeNo: `T${outRefundNo.slice(1)}`.slice(0, 32),
    transactionId: `4200000${String(1_000_000_000_000_000n + BigInt(serial)).slice(0, 21)}`,
    outRefundNo,
    refundId: `50000000382024${String(serial).padStart(15, '0')}`,
    successAt: Date.now(),
    userReceivedAccount: '支付用户零钱',
    amount: { total: 1_000, refund: 100, payerTotal: 1_000, payerRefund: 100 },
  } as unknown as SimRefund;
  const body = v3NotificationBody(`EV-${outRefundNo}-${serial}`, Date.now(), refund, 'SUCCESS', merchant.apiV3Key);
  return {
    body,
    headers: { ...sim.core.signer.signHeaders(body), 'content-type': 'application/json', 'user-agent': 'Mozilla/4.0' },
  };
}
