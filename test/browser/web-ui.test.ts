/**
 * The operator's view: the Temporal Web UI of a real dev server, driven by Debian's Chromium through playwright-core.
 * Refunds run for real (starter → ledger → refund workflow → v3 gateway → simulator), their payloads encrypted with the
 * run's key ring (docs/encryption.md); the dev server's Web UI decodes them through the codec server
 * (src/codec/codec-server.ts, started here on loopback with the run's ring; `--ui-codec-endpoint`), as `npm run dev`
 * wires it. The tests filter the workflow list by the RefundStatus search attribute (search attributes stay clear),
 * open a refund and find its summary and its input decoded while the server stores only ciphertext.
 * Screenshots go to test-output/browser/.
 */
import { PassThrough } from 'node:stream';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { chromium, type Browser } from 'playwright-core';
import { createActivities } from '../../src/activities';
import { startCodecServer, type CodecServer } from '../../src/codec/codec-server';
import { loadPayloadKeys } from '../../src/codec/payload-keys';
import { loadStackConfig } from '../../src/config/stack-config';
import { refundWorkflowId } from '../../src/domain/ids';
import { listRefunds, refundStatus } from '../../src/ops/refund-ops';
import { startDevServer, type DevServerHandle } from '../../src/stack/dev-server';
import { freePort } from '../../src/stack/free-port';
import type { SimulatorHandle } from '../../src/simulator/server';
import { requestRefund } from '../../src/starter';
import { OUTPUT_DIR } from '../harness/paths';
import { testDataConverter, uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { storedHistory, storedText, unencryptedPayloads } from '../support/raw-history';
import { closeGateways, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';

jest.setTimeout(120_000);

const SHOTS = path.join(OUTPUT_DIR, 'browser');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Flags that keep Chromium from calling out to Google's services on a machine without internet.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server: DevServerHandle;
let codec: CodecServer;
/** The codec server's log lines: which requests the Web UI made. */
const codecLog: string[] = [];
let sim: SimulatorHandle;
let connection: Connection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
let browser: Browser;
const taskQueue = uniqueTaskQueue('web-ui');
// Query almost at once, so the refunds settle by poll within seconds (the schedule is configurable per order).
const quickPolling = {
  balance: { initialOffsetsMs: [1_000], thenEveryMs: 2_000, horizon: { calendarDays: 1, businessDays: 0 } },
};

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const cfg = loadStackConfig();
  const uiPort = await freePort();
  // As the local stack runs it: loopback only, the dev UI's origins allowed without a key (it has no login to take
  // one from), the run's key ring from the env.
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => codecLog.push(chunk.toString('utf8')));
  codec = await startCodecServer({
    host: '127.0.0.1',
    port: 0,
    keys: loadPayloadKeys({ env: process.env })!,
    allowedOrigins: [`http://${cfg.temporal.ip}:${uiPort}`, `http://localhost:${uiPort}`],
    namespaces: ['default'],
    apiKeys: [],
    allowOriginWithoutKey: true,
    logStream,
  });
  server = await startDevServer(
    { ...cfg.temporal, port: await freePort(), uiPort },
    { ui: true, inMemory: true, stdio: 'ignore', codecEndpoint: codec.url },
  );
  // A running clock (a simulated day per real minute), so forced outcomes fall due on their own.
  sim = await startTestSimulator({ timeScale: 1440, startTime: new Date().toISOString() });
  const native = await NativeConnection.connect({ address: server.address });
  worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ gateway: v3Gateway(sim) }),
    dataConverter: testDataConverter(),
  });
  running = worker.run().finally(() => native.close());
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, dataConverter: testDataConverter() });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  worker?.shutdown();
  await running;
  await connection?.close();
  await closeGateways();
  await sim?.close();
  await server?.stop();
  await codec?.close();
});

async function refundThatEnds(
  status: 'SUCCESS' | 'ABNORMAL',
  amountFen: number,
  extra: { reason?: string; metadata?: Record<string, string> } = {},
): Promise<string> {
  const order = await paidOrder(sim, { totalFen: 10_000 });
  const outRefundNo = `UI${status.slice(0, 3)}${Date.now().toString(36)}`;
  await sim.admin.forceOutcome(outRefundNo, { status, afterSeconds: 0 });
  await requestRefund(
    { client, taskQueue, decisionTimeoutMs: 60_000 },
    {
      order: {
        outTradeNo: order.outTradeNo,
        paidTotalFen: 10_000, // what the order service says; the ledger checks it against WeChat's record
        polling: quickPolling,
      },
      refund: { outRefundNo, amountFen, ...extra },
    },
  );
  return outRefundNo;
}

async function waitForVisibility(outRefundNo: string, status: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const found = await listRefunds(client, { status: status as 'SUCCESS' });
    if (found.some((r) => r.outRefundNo === outRefundNo)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  const view = await refundStatus(client, outRefundNo).catch((e: Error) => e.message);
  throw new Error(`${outRefundNo} never became ${status} in visibility; status: ${JSON.stringify(view)}`);
}

it('filters refunds by RefundStatus and opens one with its summary', async () => {
  const succeeded = await refundThatEnds('SUCCESS', 3_000);
  const abnormal = await refundThatEnds('ABNORMAL', 4_500);
  await waitForVisibility(succeeded, 'SUCCESS');
  await waitForVisibility(abnormal, 'ABNORMAL');

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const uiBase = server.uiUrl!;
  const query = encodeURIComponent('RefundStatus="SUCCESS"');
  await page.goto(`${uiBase}/namespaces/default/workflows?query=${query}`);
  const row = page.getByText(refundWorkflowId(succeeded), { exact: true });
  await row.waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(SHOTS, '1-refunds-filtered-by-status.png') });
  // The ABNORMAL refund is filtered out.
  expect(await page.getByText(refundWorkflowId(abnormal), { exact: true }).count()).toBe(0);

  await row.click();
  await page.waitForURL(new RegExp(`/workflows/${refundWorkflowId(succeeded)}/`), { timeout: 30_000 });
  // The static summary set by the ledger when it started the refund: readable without opening the history.
  await page.getByText('Refund 30.00 CNY of order', { exact: false }).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(SHOTS, '2-refund-detail.png'), fullPage: true });
  await page.close();
});

it('opens a refund and shows its input decoded through the codec server, while the server stores ciphertext', async () => {
  const ticket = `CS-UI-${Date.now().toString(36).toUpperCase()}`;
  const reason = '浏览器解码核对';
  const outRefundNo = await refundThatEnds('SUCCESS', 2_345, { reason, metadata: { ticket } });
  await waitForVisibility(outRefundNo, 'SUCCESS');

  // What the server stores: every payload encrypted, neither text in clear.
  const stored = await storedHistory(client.workflow.getHandle(refundWorkflowId(outRefundNo)));
  expect(unencryptedPayloads(stored)).toEqual([]);
  expect(storedText(stored)).not.toContain(ticket);
  expect(storedText(stored)).not.toContain(reason);

  const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } });
  const decodesBefore = codecLog.filter((l) => l.includes('"msg":"decode"')).length;
  await page.goto(`${server.uiUrl!}/namespaces/default/workflows/${refundWorkflowId(outRefundNo)}`);
  // The input panel of the workflow's page: the ticket and the reason exist only inside the encrypted input.
  await page.waitForFunction(
    ([t, r]) => {
      // Runs in the page (this project's tsconfig has no DOM types).
      const text = (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText;
      return text.includes(t) && text.includes(r);
    },
    [ticket, reason],
    { timeout: 45_000 },
  );
  await page.screenshot({ path: path.join(SHOTS, '3-refund-input-decoded.png'), fullPage: true });
  // The Web UI asked the codec server (from its own origin, without a key, on loopback).
  expect(codecLog.filter((l) => l.includes('"msg":"decode"')).length).toBeGreaterThan(decodesBefore);
  expect(codecLog.join('')).toContain('web-ui (loopback)');
  await page.close();
});
