/**
 * test/api/curl-client.sh, the order service written in bash + curl, against the real stack: the API in-process on a
 * free port → the order-service library → Temporal dev server → worker → the simulated WeChat Pay (frozen clock, so
 * the first refund stays PROCESSING and the second waits in its order's queue for the 60 s spacing).
 *
 * The script asserts every HTTP answer itself and exits non-zero on the first unexpected one; this test runs it as a
 * child process and then asks the engine (the order's ledger, the refund workflows, the simulator) whether what the
 * script was told is true.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { sha256Hex } from '../../src/api/auth';
import { createApiServer, type ApiServer } from '../../src/api/server';
import { orderWorkflowId, refundWorkflowId } from '../../src/domain/ids';
import type { SimulatorHandle } from '../../src/simulator/server';
import { ledgerQuery, statusQuery } from '../../src/workflows/definitions';
import { createDevServerEnv, startBundledWorker, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { newRefundNo } from '../workflows/helpers';
import { TEST_MERCHANTS } from './api-stack';

const SCRIPT = path.join(__dirname, 'curl-client.sh');
const KEY = 'test-key-curl-client-0123456789abcdef';
/** What the script asks for unless told otherwise (CURL_CLIENT_AMOUNTS). */
const FIRST_FEN = 2;

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
let api: ApiServer;
let base: string;
const taskQueue = uniqueTaskQueue('curl');

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim) }));
  api = createApiServer({
    config: { port: 0, logLevel: 'silent', decisionTimeoutMs: 20_000, queryTimeoutMs: 10_000 },
    temporal: env.client,
    taskQueue,
    merchants: TEST_MERCHANTS,
    keys: [{ name: 'php-order-service', sha256: sha256Hex(KEY) }],
  });
  base = await api.listen();
}, 60_000);

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await closeGateways();
  await sim?.close();
  await env?.teardown();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the script the way an operator would; never rejects (the exit code is part of what is asserted). */
function runScript(args: string[], extraEnv: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...extraEnv }, timeout: 150_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function freshCase(): Promise<{ tradeNo: string; first: string; second: string }> {
  const { outTradeNo } = await paidOrder(sim, { mchid: DIRECT, totalFen: 1_000 });
  return { tradeNo: outTradeNo, first: newRefundNo('CURL'), second: newRefundNo('CURL') };
}

/** The engine's view after a successful run: the first refund at WeChat, the second withdrawn before it was sent. */
async function expectEngineAgrees(c: { tradeNo: string; first: string; second: string }): Promise<void> {
  const ledger = await env.client.workflow.getHandle(orderWorkflowId(c.tradeNo)).query(ledgerQuery);
  const byNo = Object.fromEntries(ledger.refunds.map((e) => [e.outRefundNo, e]));
  expect(Object.keys(byNo).sort()).toEqual([c.first, c.second].sort());
  expect(byNo[c.second].status).toBe('CANCELLED');
  expect(byNo[c.first]).toMatchObject({ amountFen: FIRST_FEN, status: 'PROCESSING' });
  expect(byNo[c.first].requestedBy).toMatch(/^api:php-order-service:req_/);
  expect(ledger.money.reservedFen).toBe(FIRST_FEN); // the cancelled refund's amount is released

  const second = await env.client.workflow.getHandle(refundWorkflowId(c.second)).query(statusQuery);
  expect(second.state).toBe('CANCELLED');
  const first = await env.client.workflow.getHandle(refundWorkflowId(c.first)).query(statusQuery);
  expect(first.state).toBe('PROCESSING');

  // WeChat only ever heard of the first one.
  const atWechat = await sim.admin.refunds({ outTradeNo: c.tradeNo });
  expect(atWechat.map((r) => r.outRefundNo)).toEqual([c.first]);
}

describe('test/api/curl-client.sh (an order service in bash + curl)', () => {
  test.each(['jq', 'bash'])(
    'creates, repeats, reads, cancels a queued refund and is refused what it must be refused (JSON read with %s)',
    async (reader) => {
      const c = await freshCase();
      const run = await runScript([base, c.tradeNo, c.first, c.second], {
        REFUND_API_KEY: KEY,
        CURL_CLIENT_JSON: reader,
      });
      if (run.code !== 0) throw new Error(`curl-client.sh exited ${run.code}\n${run.stdout}\n${run.stderr}`);
      const steps = run.stdout
        .split('\n')
        .filter((l) => l.startsWith('ok '))
        .map((l) => l.split(/\s+/)[1]);
      expect(steps).toEqual(['a1', 'a2', 'b', 'c', 'd1', 'd2', 'd3', 'd4', 'e', 'f1', 'f2']);
      expect(run.stdout).toContain('all steps passed');
      expect(run.stdout + run.stderr).not.toContain(KEY);
      await expectEngineAgrees(c);
    },
    150_000,
  );

  test('stops at the first unexpected answer with a clear message and a non-zero exit; the key is never shown', async () => {
    const c = await freshCase();
    const wrongKey = `${KEY}-revoked`;
    const run = await runScript([base, c.tradeNo, c.first, c.second], { REFUND_API_KEY: wrongKey });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^FAIL \[a1\] expected HTTP 201, got 401: .*"unauthorized"/m);
    expect(run.stdout).not.toMatch(/^ok /m);
    expect(run.stdout + run.stderr).not.toContain(wrongKey);
    // Nothing was decided: the order has no ledger.
    await expect(env.client.workflow.getHandle(orderWorkflowId(c.tradeNo)).query(ledgerQuery)).rejects.toThrow();
  });

  test('refuses to run without a key or with a key on the command line instead of the environment', async () => {
    const c = await freshCase();
    const noKey = await runScript([base, c.tradeNo, c.first, c.second], {});
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('no API key');
    const asArgument = await runScript([base, c.tradeNo, c.first, c.second, KEY], {});
    expect(asArgument.code).toBe(2);
    expect(asArgument.stderr).toContain('usage');
    expect(asArgument.stderr).not.toContain(KEY);
  });
});
