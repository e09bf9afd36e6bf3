/**
 * The operator's view: the Temporal Web UI of a real dev server, driven by Debian's Chromium through playwright-core.
 * Two refunds run for real (starter → ledger → refund workflow → v3 gateway → simulator); the test filters the
 * workflow list by the RefundStatus search attribute, checks that only the matching refund is listed, opens it and
 * finds its readable summary. Screenshots go to test-output/browser/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { chromium, type Browser } from 'playwright-core';
import { createActivities } from '../../src/activities';
import { loadStackConfig } from '../../src/config/stack-config';
import { refundWorkflowId } from '../../src/domain/ids';
import { listRefunds, refundStatus } from '../../src/ops/refund-ops';
import { startDevServer, type DevServerHandle } from '../../src/stack/dev-server';
import { freePort } from '../../src/stack/free-port';
import type { SimulatorHandle } from '../../src/simulator/server';
import { requestRefund } from '../../src/starter';
import { OUTPUT_DIR } from '../harness/paths';
import { uniqueTaskQueue, workflowBundle } from '../harness/temporal';
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
  server = await startDevServer(
    { ...cfg.temporal, port: await freePort(), uiPort: await freePort() },
    { ui: true, inMemory: true, stdio: 'ignore' },
  );
  // A running clock (a simulated day per real minute), so forced outcomes fall due on their own.
  sim = await startTestSimulator({ timeScale: 1440, startTime: new Date().toISOString() });
  const native = await NativeConnection.connect({ address: server.address });
  worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ gateway: v3Gateway(sim) }),
  });
  running = worker.run().finally(() => native.close());
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
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
});

async function refundThatEnds(status: 'SUCCESS' | 'ABNORMAL', amountFen: number): Promise<string> {
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
      refund: { outRefundNo, amountFen },
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
