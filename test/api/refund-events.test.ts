/**
 * Events to the order service and cancel, through the API on the real stack: Temporal dev server, a worker whose
 * events go to a local receiver (src/events/receiver.ts) that verifies signatures, the simulated WeChat Pay, the API.
 *
 * The simulator's clock is frozen, so refunds stay PROCESSING until a test forces an outcome; the worker then learns
 * it from a query the test asks for (the operator's retryNow), as no webhook runs here.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { sha256Hex } from '../../src/api/auth';
import { createApiServer, type ApiServer } from '../../src/api/server';
import { refundWorkflowId } from '../../src/domain/ids';
import { verifyEventSignature } from '../../src/events/signature';
import { startEventReceiver } from '../../src/events/receiver';
import type { SimulatorHandle } from '../../src/simulator/server';
import { eventDeliveryQuery, retryNowUpdate } from '../../src/workflows/definitions';
import { createDevServerEnv, startBundledWorker, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { newRefundNo } from '../workflows/helpers';
import { recordHistory } from '../replay/record';
import { eventDeliveries, refundStatus, timeline } from '../../src/ops/refund-ops';
import { orderWorkflowId } from '../../src/domain/ids';
import { TEST_MERCHANTS } from './api-stack';

const KEY = 'test-key-events-0123456789abcdef';
const SECRET = 'whsec-test-0123456789abcdef0123456789';
/** The receiver refuses this many deliveries (of any event) before it answers 2xx. */
const RECEIVER_FAILS_FIRST = 3;

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
let receiver: Awaited<ReturnType<typeof startEventReceiver>>;
let api: ApiServer;
let base: string;
const taskQueue = uniqueTaskQueue('events');

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  receiver = await startEventReceiver({ port: 0, secrets: [SECRET], failFirst: RECEIVER_FAILS_FIRST });
  const events = {
    url: receiver.url,
    secret: SECRET,
    timeoutMs: 2_000,
    // Production waits 10 s, doubling to an hour, for 3 days; a test cannot.
    retry: { initialIntervalMs: 300, backoffCoefficient: 2, maximumIntervalMs: 1_000, giveUpAfterMs: 120_000 },
  };
  worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim), events }));
  api = createApiServer({
    config: { port: 0, logLevel: 'warn', decisionTimeoutMs: 20_000, queryTimeoutMs: 10_000 },
    temporal: env.client,
    taskQueue,
    merchants: TEST_MERCHANTS,
    keys: [{ name: 'order-service', sha256: sha256Hex(KEY) }],
  });
  base = await api.listen();
}, 60_000);

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  await receiver?.close();
  await closeGateways();
  await sim?.close();
  await env?.teardown();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(path: string, method = 'GET', body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

const refundOf = (event: { data: { refund: unknown } }) => event.data.refund as Json;

const order = async (totalFen = 1_000) => (await paidOrder(sim, { mchid: DIRECT, totalFen })).outTradeNo;

// Generous: on a loaded CI machine the chain (operator's query, state change, delivery workflow, four attempts with
// back-off) has taken over 30 s; on an idle one it takes about 3 s.
async function eventually<T>(what: string, read: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** WeChat settles the refund; the worker learns it from the query an operator asks for. */
async function settleAtWechat(outRefundNo: string, status: 'SUCCESS' | 'CLOSED') {
  await eventually('the refund at WeChat', () => sim.admin.refund(outRefundNo).catch(() => undefined));
  await sim.admin.forceOutcome(outRefundNo, { status, channel: 'BALANCE' });
  await env.client.workflow
    .getHandle(refundWorkflowId(outRefundNo))
    .executeUpdate(retryNowUpdate, { args: [{ operator: 'test' }] });
}

describe('events to the order service', () => {
  test('a receiver failing its first 3 deliveries gets the event once it answers 2xx: same id, same body, signed', async () => {
    const outRefundNo = newRefundNo('EVT');
    const created = await call('/v1/refunds', 'POST', {
      out_trade_no: await order(),
      out_refund_no: outRefundNo,
      amount_fen: 300,
      metadata: { ticket: 'CS-1234' },
    });
    expect(created.status).toBe(201);
    await settleAtWechat(outRefundNo, 'SUCCESS');

    const event = await eventually('the refund.succeeded event', () =>
      receiver.events().find((e) => e.type === 'refund.succeeded' && refundOf(e).out_refund_no === outRefundNo),
    );
    const attempts = receiver.deliveries().filter((d) => d.id === event.id);
    expect(attempts.map((d) => d.status)).toEqual([500, 500, 500, 200]);
    // One id, one body: only each attempt's signature timestamp differs.
    expect(new Set(attempts.map((d) => d.rawBody)).size).toBe(1);
    expect(new Set(attempts.map((d) => d.headers['refund-event-id'])).size).toBe(1);
    // The refund's workflow ID and the number of the state change it announces (PENDING → PROCESSING → SUCCESS).
    expect(event.id).toBe(`${refundWorkflowId(outRefundNo)}:event-2`);
    const delivered = attempts[attempts.length - 1];

    const body = JSON.parse(delivered.rawBody);
    expect(body).toMatchObject({
      id: delivered.id,
      type: 'refund.succeeded',
      data: {
        refund: {
          object: 'refund',
          out_refund_no: outRefundNo,
          amount_fen: 300,
          state: 'SUCCESS',
          metadata: { ticket: 'CS-1234' },
        },
      },
    });
    expect(Number.isInteger(body.created)).toBe(true);

    // What a receiver does with the raw body and the header: verified with the secret; a changed byte is not.
    const header = delivered.headers['refund-signature'];
    expect(verifyEventSignature(header, delivered.rawBody, [SECRET]).ok).toBe(true);
    const tampered = delivered.rawBody.replace('"amount_fen":300', '"amount_fen":30000');
    expect(tampered).not.toBe(delivered.rawBody);
    expect(verifyEventSignature(header, tampered, [SECRET]).ok).toBe(false);
    expect(verifyEventSignature(header, delivered.rawBody, ['another-secret']).ok).toBe(false);

    // The refund's timeline lists every attempt.
    const got = await eventually('the delivery on the refund', async () => {
      const r = await call(`/v1/refunds/${outRefundNo}`);
      return r.body.events?.[0]?.delivery === 'DELIVERED' ? r : undefined;
    });
    expect(got.body.events).toEqual([
      expect.objectContaining({ id: event.id, type: 'refund.succeeded', delivery: 'DELIVERED' }),
    ]);
    expect(got.body.events[0].attempts.map((a: Json) => a.status_code)).toEqual([500, 500, 500, 200]);
    // … and so does the operator's `ops show`.
    const view = await refundStatus(env.client, outRefundNo);
    const shown = timeline(view, await eventDeliveries(env.client, view)).filter((e) => e.kind === 'event');
    expect(shown.map((e) => e.text)).toEqual([
      expect.stringMatching(/^refund\.succeeded delivery 1 → 500/),
      expect.stringMatching(/^refund\.succeeded delivery 2 → 500/),
      expect.stringMatching(/^refund\.succeeded delivery 3 → 500/),
      expect.stringMatching(/^refund\.succeeded delivery 4 → 200 \[DELIVERED\]$/),
    ]);

    // The failing receiver did not hold the refund up: it ended before its event was delivered.
    const refund = await env.client.workflow.getHandle(refundWorkflowId(outRefundNo)).describe();
    const delivery = await env.client.workflow.getHandle(event.id).describe();
    expect(refund.status.name).toBe('COMPLETED');
    expect(refund.closeTime!.getTime()).toBeLessThan(delivery.closeTime!.getTime());
    await recordHistory(
      'refund-success-announced-as-event',
      env.client.workflow.getHandle(refundWorkflowId(outRefundNo)),
    );
    await recordHistory('event-delivered-after-3-failures', env.client.workflow.getHandle(event.id));
  }, 120_000);

  test('a refund whose receiver is failing ends at once; its event is delivered later by its own workflow', async () => {
    const outRefundNo = newRefundNo('EVC');
    expect(
      (await call('/v1/refunds', 'POST', { out_trade_no: await order(), out_refund_no: outRefundNo, amount_fen: 100 }))
        .status,
    ).toBe(201);
    receiver.failNext(6); // about 4 s of failures with the test's backoff
    await settleAtWechat(outRefundNo, 'CLOSED');
    const result = await env.client.workflow.getHandle(refundWorkflowId(outRefundNo)).result();
    expect(result.state).toBe('CLOSED');

    const id = `${refundWorkflowId(outRefundNo)}:event-2`;
    const pending = await env.client.workflow.getHandle(id).query(eventDeliveryQuery);
    expect(pending).toMatchObject({ id, type: 'refund.closed', outRefundNo, state: 'PENDING' });
    const done = await eventually('its delivery', async () => {
      const v = await env.client.workflow.getHandle(id).query(eventDeliveryQuery);
      return v.state === 'DELIVERED' ? v : undefined;
    });
    expect(done.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 500, 500, 500, 200]);
  });
});

describe('POST /v1/refunds/{out_refund_no}/cancel', () => {
  test('a refund queued behind another is cancelled: never sent, amount released, refund.cancelled sent', async () => {
    const outTradeNo = await order(1_000);
    const first = newRefundNo('CNA');
    const second = newRefundNo('CNB');
    expect(
      (await call('/v1/refunds', 'POST', { out_trade_no: outTradeNo, out_refund_no: first, amount_fen: 400 })).status,
    ).toBe(201);
    // One create per order at a time and a minute apart: the second waits in the ledger's queue.
    const queued = await call('/v1/refunds', 'POST', {
      out_trade_no: outTradeNo,
      out_refund_no: second,
      amount_fen: 300,
    });
    expect(queued.status).toBe(201);
    expect(queued.body.state).toBe('PENDING');

    const cancelled = await call(`/v1/refunds/${second}/cancel`, 'POST', {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      object: 'refund',
      out_refund_no: second,
      state: 'CANCELLED',
      amount_fen: 300,
    });

    const orderView = await call(`/v1/orders/${outTradeNo}`);
    expect(orderView.body).toMatchObject({ paid_fen: 1_000, reserved_fen: 400, refundable_fen: 600, refund_count: 1 });

    const outcome = await env.client.workflow.getHandle(refundWorkflowId(second)).result();
    expect(outcome.state).toBe('CANCELLED');
    // WeChat never heard of it.
    await expect(sim.admin.refund(second)).rejects.toThrow();
    expect((await call(`/v1/refunds/${second}`)).body.state).toBe('CANCELLED');

    // The same cancel again: the same answer. The same request again: the same (cancelled) refund.
    expect((await call(`/v1/refunds/${second}/cancel`, 'POST', {})).body.state).toBe('CANCELLED');
    const repeat = await call('/v1/refunds', 'POST', {
      out_trade_no: outTradeNo,
      out_refund_no: second,
      amount_fen: 300,
    });
    expect(repeat.status).toBe(200);
    expect(repeat.body.state).toBe('CANCELLED');

    await eventually('the refund.cancelled event', () =>
      receiver.events().find((e) => e.type === 'refund.cancelled' && refundOf(e).out_refund_no === second),
    );
    await recordHistory('refund-cancelled-while-queued', env.client.workflow.getHandle(refundWorkflowId(second)));
    await recordHistory('ledger-cancel-queued-refund', env.client.workflow.getHandle(orderWorkflowId(outTradeNo)));
  });

  test('409 once the create was sent to WeChat; 404 for an unknown refund', async () => {
    const outTradeNo = await order(1_000);
    const sent = newRefundNo('CNS');
    expect(
      (await call('/v1/refunds', 'POST', { out_trade_no: outTradeNo, out_refund_no: sent, amount_fen: 200 })).status,
    ).toBe(201);
    await eventually('the refund at WeChat', () => sim.admin.refund(sent).catch(() => undefined));
    const refused = await call(`/v1/refunds/${sent}/cancel`, 'POST');
    expect(refused.status).toBe(409);
    expect(refused.body.error.type).toBe('not_cancellable');
    expect(refused.body.error.message).toMatch(/WeChat|PROCESSING|PENDING/);
    expect((await call(`/v1/refunds/${sent}`)).body.state).not.toBe('CANCELLED');

    const unknown = await call(`/v1/refunds/${newRefundNo('NONE')}/cancel`, 'POST');
    expect(unknown.status).toBe(404);
  });
});

describe('metadata', () => {
  test('kept with the refund and returned; a repeat with other metadata is a conflict; limits named', async () => {
    const outTradeNo = await order();
    const no = newRefundNo('MD');
    const metadata = { ticket: 'CS-77', approved_by: 'li.wei', note: '顾客退货' };
    expect(
      (await call('/v1/refunds', 'POST', { out_trade_no: outTradeNo, out_refund_no: no, amount_fen: 100, metadata }))
        .body.metadata,
    ).toEqual(metadata);
    expect((await call(`/v1/refunds/${no}`)).body.metadata).toEqual(metadata);
    const conflict = await call('/v1/refunds', 'POST', {
      out_trade_no: outTradeNo,
      out_refund_no: no,
      amount_fen: 100,
      metadata: { ...metadata, ticket: 'CS-78' },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toMatch(/metadata/);

    const tooMany = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v']));
    const refused = await call('/v1/refunds', 'POST', {
      out_trade_no: outTradeNo,
      out_refund_no: newRefundNo('MD'),
      amount_fen: 100,
      metadata: tooMany,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.param).toBe('metadata');
    // Never sent to WeChat: the create carries no metadata (the simulator would refuse unknown fields anyway). The
    // create is the refund workflow's, after the decision: wait for it rather than race it.
    const atWechat = await eventually('the refund at WeChat', () => sim.admin.refund(no).catch(() => undefined));
    expect(JSON.stringify(atWechat)).not.toContain('CS-77');
  });
});
