/**
 * The refund API on the real stack, for the API's tests: the shared Temporal dev server, a worker of the project's
 * workflows on a task queue of its own, the simulated WeChat Pay (clock frozen: refunds reach WeChat and stay
 * PROCESSING, so answers are deterministic) and the Fastify app in-process on a free port (app.inject cannot load under
 * jest: light-my-request needs an ESM-only module). Log lines are kept in `logs`.
 */
import { PassThrough } from 'node:stream';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { sha256Hex } from '../../src/api/auth';
import { merchantRoster } from '../../src/api/merchant-choice';
import { createApiServer, type ApiServer } from '../../src/api/server';
import type { SimulatorHandle } from '../../src/simulator/server';
import { createDevServerEnv, startBundledWorker, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, PROVIDER, startTestSimulator, SUB, v3Gateway } from '../simulator/support';

/**
 * The merchants the API's test stacks serve: the simulator's direct merchant is the default (so requests naming none
 * keep the IDs they always had), and its service provider refunds for SUB.
 */
export const TEST_MERCHANTS = merchantRoster({
  defaultMchid: DIRECT,
  merchants: [
    { mchid: DIRECT, mode: 'direct' },
    { mchid: PROVIDER, mode: 'partner', subMchids: [SUB] },
  ],
});

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  body: Json;
  headers: Record<string, string>;
  text: string;
}

export interface ApiStack {
  env: TestWorkflowEnvironment;
  sim: SimulatorHandle;
  api: ApiServer;
  base: string;
  /** Every log line the API wrote. */
  logs: string[];
  call(path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Answer>;
  /** With the key, as JSON. */
  post(path: string, body: unknown): Promise<Answer>;
  /** With the key. */
  get(path: string): Promise<Answer>;
  /** A paid order at the simulated WeChat Pay; its out_trade_no. */
  order(totalFen?: number): Promise<string>;
  close(): Promise<void>;
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

export async function startApiStack(key: string, name = 'order-service'): Promise<ApiStack> {
  const env = await createDevServerEnv();
  const sim = await startTestSimulator({ startTime: new Date().toISOString() });
  const taskQueue = uniqueTaskQueue('api');
  const worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim) }));
  const logs: string[] = [];
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  const api = createApiServer({
    config: { port: 0, logLevel: 'info', decisionTimeoutMs: 20_000, queryTimeoutMs: 10_000 },
    temporal: env.client,
    taskQueue,
    merchants: TEST_MERCHANTS,
    keys: [{ name, sha256: sha256Hex(key) }],
    logStream,
  });
  const base = await api.listen();

  const call: ApiStack['call'] = async (path, init = {}) => {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    let body: Json = {};
    try {
      body = text ? (JSON.parse(text) as Json) : {};
    } catch {
      // not JSON (/metrics): see text
    }
    return { status: res.status, body, headers: Object.fromEntries(res.headers), text };
  };

  return {
    env,
    sim,
    api,
    base,
    logs,
    call,
    post: (path, body) =>
      call(path, {
        method: 'POST',
        headers: { ...bearer(key), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    get: (path) => call(path, { headers: bearer(key) }),
    order: async (totalFen = 1_000) => (await paidOrder(sim, { mchid: DIRECT, totalFen })).outTradeNo,
    async close() {
      await api.close();
      await worker.stop();
      await closeGateways();
      await sim.close();
      await env.teardown();
    },
  };
}

/** Polls `read` until `done` holds (visibility and workflows move on their own), or fails with the last value. */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 20_000, what = 'condition' }: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 500)) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(value).slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
