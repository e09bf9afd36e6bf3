/**
 * The refund HTTP API on the real stack: the Fastify app in-process, listening on a free port (app.inject cannot load
 * under jest: light-my-request needs an ESM-only module) → the order-service library →
 * Temporal dev server → worker (ledger reads the order from the simulated WeChat Pay, binds the refund number).
 *
 * The simulator's clock is frozen: refunds reach WeChat and stay PROCESSING, so every answer here is deterministic.
 */
import { PassThrough } from 'node:stream';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { sha256Hex } from '../../src/api/auth';
import { createApiServer, type ApiServer } from '../../src/api/server';
import { orderWorkflowId, refundWorkflowId } from '../../src/domain/ids';
import type { SimulatorHandle } from '../../src/simulator/server';
import { ledgerQuery } from '../../src/workflows/definitions';
import { createDevServerEnv, startBundledWorker, testDataConverter, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, PROVIDER, startTestSimulator, SUB, v3Gateway } from '../simulator/support';
import { newRefundNo } from '../workflows/helpers';
import { TEST_MERCHANTS } from './api-stack';

const KEY = 'test-key-order-service-0123456789abcdef';
const OTHER_KEY = 'test-key-reporting-0123456789abcdef';

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
let api: ApiServer;
let base: string;
const logs: string[] = [];
const taskQueue = uniqueTaskQueue('api');

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim) }));
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  api = createApiServer({
    config: { port: 0, logLevel: 'info', decisionTimeoutMs: 20_000, queryTimeoutMs: 10_000 },
    temporal: env.client,
    taskQueue,
    merchants: TEST_MERCHANTS,
    keys: [
      { name: 'order-service', sha256: sha256Hex(KEY) },
      { name: 'reporting', sha256: sha256Hex(OTHER_KEY) },
    ],
    logStream,
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

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  body: Json;
  headers: Record<string, string>;
}

async function call(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  root = base,
): Promise<Answer> {
  const res = await fetch(`${root}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json, headers: Object.fromEntries(res.headers) };
}

const bearer = (key: string | undefined): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});

function post(body: unknown, key: string | undefined = KEY, root = base): Promise<Answer> {
  return call(
    '/v1/refunds',
    {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    },
    root,
  );
}

function get(path: string, key: string | undefined = KEY): Promise<Answer> {
  return call(path, { headers: bearer(key) });
}

async function order(totalFen = 1_000): Promise<string> {
  return (await paidOrder(sim, { mchid: DIRECT, totalFen })).outTradeNo;
}

function countOf(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

/** What makes a refund the same refund (its state moves on as WeChat answers). */
const identity = (r: Json) => ({
  out_refund_no: r.out_refund_no,
  out_trade_no: r.out_trade_no,
  amount_fen: r.amount_fen,
  reason: r.reason,
  created_at: r.created_at,
});

describe('POST /v1/refunds', () => {
  test('201 with the refund when new, 200 with the same refund for the identical repeat', async () => {
    const body = { out_trade_no: await order(), out_refund_no: newRefundNo('API'), amount_fen: 400, reason: '退货' };
    const first = await post(body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      object: 'refund',
      out_refund_no: body.out_refund_no,
      out_trade_no: body.out_trade_no,
      amount_fen: 400,
      reason: '退货',
    });
    expect(['PENDING', 'PROCESSING']).toContain(first.body.state);
    expect(Date.parse(first.body.created_at as string)).not.toBeNaN();
    expect(first.headers.location).toBe(`/v1/refunds/${body.out_refund_no}`);
    expect(first.headers['request-id']).toMatch(/^req_[0-9a-f]{32}$/);

    const again = await post(body);
    expect(again.status).toBe(200);
    expect(identity(again.body)).toEqual(identity(first.body));
    // Another caller repeating it gets the same answer: the ledger decides, not the caller.
    const otherCaller = await post(body, OTHER_KEY);
    expect(otherCaller.status).toBe(200);
    expect(identity(otherCaller.body)).toEqual(identity(first.body));
  });

  test('409 when the out_refund_no is bound to another amount, or to another order', async () => {
    const tradeNo = await order();
    const no = newRefundNo('APC');
    expect((await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 300 })).status).toBe(201);

    const otherAmount = await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 301 });
    expect(otherAmount.status).toBe(409);
    expect(otherAmount.body).toEqual({
      error: { type: 'idempotency_conflict', message: expect.stringContaining('(M8)') },
    });

    const otherOrder = await post({ out_trade_no: await order(), out_refund_no: no, amount_fen: 300 });
    expect(otherOrder.status).toBe(409);
    expect(otherOrder.body).toEqual({
      error: { type: 'idempotency_conflict', message: expect.stringContaining(`out_refund_no ${no} already belongs`) },
    });

    const otherReason = await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 300, reason: 'x' });
    expect(otherReason.status).toBe(409);
    expect((otherReason.body.error as Json).type).toBe('idempotency_conflict');
  });

  test('422 naming the rule: over the refundable amount (M4), an order WeChat does not know (M10), a wrong transaction_id', async () => {
    const over = await post({ out_trade_no: await order(1_000), out_refund_no: newRefundNo('APM'), amount_fen: 1_001 });
    expect(over.status).toBe(422);
    expect(over.body).toEqual({
      error: { type: 'rule_violation', rule: 'M4', message: expect.stringContaining('exceeds the refundable amount') },
    });

    const unknown = await post({
      out_trade_no: `TUNKNOWN${Date.now().toString(36)}`,
      out_refund_no: newRefundNo('APU'),
      amount_fen: 100,
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body).toEqual({
      error: { type: 'rule_violation', rule: 'M10', message: expect.stringContaining('ORDER_NOT_FOUND') },
    });

    const paid = await paidOrder(sim, { mchid: DIRECT, totalFen: 1_000 });
    const wrongId = await post({
      out_trade_no: paid.outTradeNo,
      transaction_id: `${paid.transactionId.slice(0, -1)}${paid.transactionId.endsWith('0') ? '1' : '0'}`,
      out_refund_no: newRefundNo('APF'),
      amount_fen: 100,
    });
    expect(wrongId.status).toBe(422);
    expect(wrongId.body).toEqual({
      error: {
        type: 'rule_violation',
        rule: 'ORDER_FACTS_MISMATCH',
        message: expect.stringContaining('transactionId'),
      },
    });
    const rightId = await post({
      out_trade_no: paid.outTradeNo,
      transaction_id: paid.transactionId,
      out_refund_no: newRefundNo('APF'),
      amount_fen: 100,
    });
    expect(rightId.status).toBe(201);
  });

  test.each([
    ['a decimal amount', { amount_fen: 12.5 }, 'amount_fen'],
    ['an amount as text', { amount_fen: '100' }, 'amount_fen'],
    ['a zero amount', { amount_fen: 0 }, 'amount_fen'],
    ['an unknown field', { amount: 100 }, 'amount'],
    ['a bad out_refund_no', { out_refund_no: 'has space' }, 'out_refund_no'],
    ['transaction_id without out_trade_no', { out_trade_no: undefined, transaction_id: '4200001234' }, 'out_trade_no'],
  ])('400 naming the field for %s', async (_what, change, param) => {
    const body = { out_trade_no: 'T0000001', out_refund_no: newRefundNo('APB'), amount_fen: 100, ...change };
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { type: 'invalid_request', param, message: expect.stringContaining(param) } });
  });

  test('400 for a body that is not JSON; 415 for another media type', async () => {
    expect((await post('{"out_trade_no": ')).body).toMatchObject({ error: { type: 'invalid_request' } });
    const text = await call('/v1/refunds', {
      method: 'POST',
      headers: { ...bearer(KEY), 'content-type': 'text/plain' },
      body: 'refund please',
    });
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ error: { type: 'unsupported_media_type' } });
  });

  test('401 without a key or with a wrong one; nothing is decided', async () => {
    const body = { out_trade_no: await order(), out_refund_no: newRefundNo('APA'), amount_fen: 100 };
    const refusals: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong-key' },
      { authorization: KEY },
      { authorization: `Basic ${KEY}` },
      { authorization: `Bearer ${KEY}x` },
    ];
    for (const headers of refusals) {
      const res = await call('/v1/refunds', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { type: 'unauthorized', message: expect.any(String) } });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect((await get(`/v1/orders/${body.out_trade_no}`, 'wrong')).status).toBe(401);
    expect((await get(`/v1/orders/${body.out_trade_no}`)).status).toBe(404);
  });

  test('413 for a body over the limit', async () => {
    const res = await post({
      out_trade_no: 'T0000001',
      out_refund_no: 'R1',
      amount_fen: 1,
      reason: 'x'.repeat(20_000),
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { type: 'payload_too_large', message: expect.any(String) } });
  });

  test('200 identical requests at once: one refund, exactly one 201, every answer the same refund', async () => {
    const body = { out_trade_no: await order(1_000), out_refund_no: newRefundNo('APR'), amount_fen: 250 };
    const answers = await Promise.all(Array.from({ length: 200 }, () => post(body)));
    expect(countOf(answers.map((a) => a.status))).toEqual({ 200: 199, 201: 1 });
    const first = answers.find((a) => a.status === 201)!.body;
    for (const a of answers) expect(identity(a.body)).toEqual(identity(first));
    const ledger = await env.client.workflow.getHandle(orderWorkflowId(body.out_trade_no)).query(ledgerQuery);
    expect(ledger.refunds).toHaveLength(1);
    expect(ledger.money.reservedFen).toBe(250);
  }, 120_000);

  test('100 requests at once with one number and different amounts: exactly one 201, the rest 409', async () => {
    const tradeNo = await order(100_000);
    const no = newRefundNo('APX');
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 100 + i })),
    );
    expect(countOf(answers.map((a) => a.status))).toEqual({ 201: 1, 409: 99 });
    for (const a of answers.filter((x) => x.status === 409)) {
      expect((a.body.error as Json).type).toBe('idempotency_conflict');
    }
    const ledger = await env.client.workflow.getHandle(orderWorkflowId(tradeNo)).query(ledgerQuery);
    expect(ledger.refunds).toHaveLength(1);
    expect(ledger.refunds[0].amountFen).toBe(answers.find((a) => a.status === 201)!.body.amount_fen);
  }, 120_000);
});

describe('GET', () => {
  test('a refund: state, amounts, channel, refund_id, order and times; 404 when unknown', async () => {
    const tradeNo = await order(1_000);
    const no = newRefundNo('APG');
    const created = await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 600, reason: 'damaged' });
    expect(created.status).toBe(201);
    // The refund reaches WeChat (PROCESSING) right after it is accepted; its status query then names WeChat's id.
    let refund = await get(`/v1/refunds/${no}`);
    for (const deadline = Date.now() + 20_000; refund.body.refund_id === undefined && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 100));
      refund = await get(`/v1/refunds/${no}`);
    }
    expect(refund.status).toBe(200);
    expect(refund.body).toMatchObject({
      object: 'refund',
      out_refund_no: no,
      out_trade_no: tradeNo,
      amount_fen: 600,
      reason: 'damaged',
      state: 'PROCESSING',
      channel: expect.any(String),
      refund_id: expect.any(String),
      created_at: created.body.created_at,
    });
    expect(refund.body.settled_at).toBeUndefined();

    const missing = await get(`/v1/refunds/${newRefundNo('NOPE')}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { type: 'not_found', message: expect.stringContaining('no refund') } });
    expect((await get('/v1/refunds/bad%20number')).body).toMatchObject({
      error: { type: 'invalid_request', param: 'out_refund_no' },
    });
  });

  test("an order: WeChat's paid total, what is refunded, reserved and refundable, and its refunds; 404 when unknown", async () => {
    const tradeNo = await order(1_000);
    const a = newRefundNo('APO');
    const b = newRefundNo('APO');
    expect((await post({ out_trade_no: tradeNo, out_refund_no: a, amount_fen: 100 })).status).toBe(201);
    expect((await post({ out_trade_no: tradeNo, out_refund_no: b, amount_fen: 250 })).status).toBe(201);
    const res = await get(`/v1/orders/${tradeNo}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      object: 'order',
      out_trade_no: tradeNo,
      transaction_id: expect.any(String),
      paid_fen: 1_000,
      succeeded_fen: 0,
      reserved_fen: 350,
      refundable_fen: 650,
      refund_count: 2,
    });
    expect(Date.parse(res.body.refund_deadline as string) - Date.parse(res.body.paid_at as string)).toBe(
      365 * 86_400_000,
    );
    expect((res.body.refunds as Json[]).map((r) => [r.out_refund_no, r.amount_fen])).toEqual([
      [a, 100],
      [b, 250],
    ]);

    expect((await get(`/v1/orders/TNOREFUNDS${Date.now().toString(36)}`)).body).toMatchObject({
      error: { type: 'not_found' },
    });
  });
});

describe('merchants', () => {
  test('naming the default merchant is naming none: the same ledger, the same refund; the refund shows its mchid', async () => {
    const tradeNo = await order(1_000);
    const no = newRefundNo('APM');
    const named = await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 300, mchid: DIRECT });
    expect(named.status).toBe(201);
    expect(named.body).toMatchObject({ out_refund_no: no, out_trade_no: tradeNo, mchid: DIRECT });
    // Without mchid it is a repeat of the same request: the same ledger decided it.
    const unnamed = await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 300 });
    expect(unnamed.status).toBe(200);
    expect({ ...identity(unnamed.body), mchid: unnamed.body.mchid }).toEqual({
      ...identity(named.body),
      mchid: DIRECT,
    });

    // The ledger and the refund keep the IDs of a single-merchant deployment; no merchant-named ledger was started.
    const ledger = await env.client.workflow.getHandle(orderWorkflowId(tradeNo)).query(ledgerQuery);
    expect(ledger.refunds.map((e) => [e.outRefundNo, e.refundWorkflowId])).toEqual([[no, refundWorkflowId(no)]]);
    await expect(env.client.workflow.getHandle(orderWorkflowId(tradeNo, { mchid: DIRECT })).describe()).rejects.toThrow(
      WorkflowNotFoundError,
    );

    // Reads naming the default merchant read the same refund and order as reads naming none.
    let refund = await get(`/v1/refunds/${no}?mchid=${DIRECT}`);
    for (const deadline = Date.now() + 20_000; refund.status === 404 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 100));
      refund = await get(`/v1/refunds/${no}?mchid=${DIRECT}`);
    }
    expect(refund.status).toBe(200);
    expect(refund.body).toMatchObject({ out_refund_no: no, mchid: DIRECT, amount_fen: 300 });
    const plain = await get(`/v1/refunds/${no}`);
    expect({ ...identity(plain.body), mchid: plain.body.mchid }).toEqual({ ...identity(refund.body), mchid: DIRECT });
    const orderNamed = await get(`/v1/orders/${tradeNo}?mchid=${DIRECT}`);
    expect(orderNamed.status).toBe(200);
    expect(orderNamed.body).toMatchObject({ out_trade_no: tradeNo, mchid: DIRECT, refund_count: 1 });
    expect((await get(`/v1/orders/${tradeNo}`)).body).toEqual(orderNamed.body);
  });

  test("another merchant is another namespace: its out_trade_no is not the default merchant's order", async () => {
    const tradeNo = await order(1_000);
    const no = newRefundNo('APN');
    expect((await post({ out_trade_no: tradeNo, out_refund_no: no, amount_fen: 100 })).status).toBe(201);
    // The service provider has no such refund or order: its IDs are its own (domain/ids.ts).
    const refund = await get(`/v1/refunds/${no}?mchid=${PROVIDER}&sub_mchid=${SUB}`);
    expect(refund).toMatchObject({ status: 404, body: { error: { type: 'not_found' } } });
    expect((refund.body.error as Json).message).toContain(`of merchant ${PROVIDER}, sub-merchant ${SUB}`);
    const ledgerOfProvider = await get(`/v1/orders/${tradeNo}?mchid=${PROVIDER}&sub_mchid=${SUB}`);
    expect(ledgerOfProvider.status).toBe(404);
  });
});

describe('operations', () => {
  test('/healthz needs no key and answers 200 while Temporal answers; every answer has a Request-Id', async () => {
    const res = await call('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', temporal: 'reachable' });
    expect(res.headers['request-id']).toMatch(/^req_/);
  });

  test('Temporal unreachable: 503 with Retry-After for a refund request and for /healthz', async () => {
    // No gRPC retry interceptor: the request's own retries stop at its deadline, so closing the connection after the
    // test leaves no retry timer behind (the SDK's would throw "Channel has been shut down" from a timer).
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500, interceptors: [] });
    const down = createApiServer({
      config: { port: 0, logLevel: 'silent', decisionTimeoutMs: 1_500, queryTimeoutMs: 1_000 },
      temporal: new Client({ connection, dataConverter: testDataConverter() }),
      taskQueue,
      merchants: TEST_MERCHANTS,
      keys: [{ name: 'order-service', sha256: sha256Hex(KEY) }],
    });
    try {
      const root = await down.listen();
      const body = { out_trade_no: 'T0000001', out_refund_no: newRefundNo('APD'), amount_fen: 100 };
      const res = await post(body, KEY, root);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.body).toEqual({ error: { type: 'unavailable', message: expect.stringMatching(/safe to repeat/) } });
      const health = await call('/healthz', {}, root);
      expect(health.status).toBe(503);
    } finally {
      await down.close();
      await connection.close().catch(() => undefined);
    }
  });

  test('no key and no Authorization header reaches the log', () => {
    const text = logs.join('');
    expect(text).toContain('refund accepted');
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(sha256Hex(KEY));
    expect(text).not.toMatch(/authorization/i);
  });
});
