/**
 * A burst of genuine notifications (WeChat settling many refunds at once) through the real webhook over HTTP, with the
 * signals bounded by webhook.signalConcurrency: never more signals in flight than the bound, every notification of a
 * burst bigger than the bound answered 200 when Temporal keeps up. A notification that could not be signalled before
 * its deadline is stored in the outbox, answered 200 and signalled by the relay once there is room; without the outbox
 * it is answered 503 without its signal ever being sent (so WeChat's retry is the only delivery).
 */
import type { Client } from '@temporalio/client';
import { DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { request } from 'undici';
import { refundWorkflowId } from '../../src/domain/ids';
import type { SimulatorHandle } from '../../src/simulator/server';
import type { WebhookConfigInput } from '../../src/webhook/config';
import { V3_NOTIFY_PATH } from '../../src/webhook/server';
import { createDevServerEnv } from '../harness/temporal';
import { receivedCountQuery } from './fixtures/notification-waiter';
import {
  DEMO_DIRECT_MCHID,
  genuineV3Notification,
  startFrozenSimulator,
  startStandInWorker,
  startWebhook,
  uniqueNos,
  type WebhookUnderTest,
} from './helpers';

jest.setTimeout(120_000);

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startFrozenSimulator({ seed: 31 });
});
afterAll(async () => {
  await sim?.close();
});

/** Sends every notification at once (one connection each, as WeChat does); returns the HTTP statuses in order. */
async function burst(webhook: WebhookUnderTest, outRefundNos: readonly string[]): Promise<number[]> {
  const url = `${webhook.baseUrl}${V3_NOTIFY_PATH}/${DEMO_DIRECT_MCHID}`;
  return Promise.all(
    outRefundNos.map(async (no) => {
      const { headers, body } = genuineV3Notification(sim, DEMO_DIRECT_MCHID, no);
      const res = await request(url, { method: 'POST', headers, body });
      await res.body.dump();
      return res.statusCode;
    }),
  );
}

const refundNos = (tag: string, n: number) => Array.from({ length: n }, () => uniqueNos(tag).outRefundNo);

async function resultsByReason(webhook: WebhookUnderTest): Promise<Record<string, number>> {
  const values = (await webhook.server.metrics.rejections.get()).values;
  return Object.fromEntries(values.map((v) => [v.labels.reason, v.value]));
}

/**
 * Stands in for Temporal's client: each signal takes `signalMs(workflowId)` and is cut off at its gRPC deadline as
 * the real client's would be; it records which workflows were signalled and the most signals ever in flight.
 */
function countingTemporal(signalMs: (workflowId: string) => number, opts: { cutAtDeadline?: boolean } = {}) {
  const seen = { inFlight: 0, peak: 0, signalled: [] as string[] };
  const client = {
    // What the outbox encodes its entries with (no codec: the stand-in stores nothing of Temporal's).
    options: {
      loadedDataConverter: {
        payloadConverter: defaultPayloadConverter,
        failureConverter: new DefaultFailureConverter(),
        payloadCodecs: [],
      },
    },
    withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R> {
      // The real client's retry interceptor can sleep past the deadline: `cutAtDeadline: false` plays that.
      if (opts.cutAtDeadline === false) return fn();
      const left = Number(deadline) - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<R>((_, reject) => {
        timer = setTimeout(() => reject(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded')), Math.max(0, left));
      });
      return Promise.race([fn(), cut]).finally(() => clearTimeout(timer));
    },
    workflow: {
      getHandle: (workflowId: string) => ({
        async signal() {
          seen.signalled.push(workflowId);
          seen.inFlight += 1;
          seen.peak = Math.max(seen.peak, seen.inFlight);
          try {
            await new Promise((resolve) => setTimeout(resolve, signalMs(workflowId)));
          } finally {
            seen.inFlight -= 1;
          }
        },
      }),
    },
  };
  return { client: client as unknown as Client, seen };
}

describe('with a stand-in Temporal that counts the signals in flight', () => {
  async function withWebhook<T>(
    temporal: Client,
    config: Partial<WebhookConfigInput>,
    fn: (w: WebhookUnderTest) => Promise<T>,
  ): Promise<T> {
    const webhook = await startWebhook(sim, temporal, config);
    try {
      return await fn(webhook);
    } finally {
      await webhook.close();
    }
  }

  it('never has more than signalConcurrency signals in flight, and answers a burst 20× bigger with 200s', async () => {
    const { client, seen } = countingTemporal(() => 20);
    const nos = refundNos('gate', 100);
    const statuses = await withWebhook(client, { signalConcurrency: 5 }, (w) => burst(w, nos));
    expect(statuses).toEqual(nos.map(() => 200));
    expect(seen.peak).toBe(5);
    expect([...seen.signalled].sort()).toEqual(nos.map((no) => refundWorkflowId(no)).sort());
  });

  /** Delivers `no`'s notification; pass the same `notification` again for a redelivery (same notification id). */
  const sendOne = async (
    w: WebhookUnderTest,
    no: string,
    notification: ReturnType<typeof genuineV3Notification> = genuineV3Notification(sim, DEMO_DIRECT_MCHID, no),
  ) => {
    const { headers, body } = notification;
    const res = await request(`${w.baseUrl}${V3_NOTIFY_PATH}/${DEMO_DIRECT_MCHID}`, { method: 'POST', headers, body });
    return { status: res.statusCode, body: await res.body.json() };
  };

  async function resultsOf(w: WebhookUnderTest): Promise<Record<string, number>> {
    const values = (await w.server.metrics.notifications.get()).values;
    return Object.fromEntries(values.map((v) => [v.labels.result, v.value]));
  }

  it('notifications not signalled in time are stored, answered 200, and signalled by the relay', async () => {
    const nos = refundNos('outbox', 2);
    const [slow, next] = nos.map((no) => refundWorkflowId(no));
    // The first signal to `slow` hangs past its deadline (cut off at signalTimeoutMs); every later signal is quick.
    let slowCalls = 0;
    const { client, seen } = countingTemporal((id) => (id === slow && slowCalls++ === 0 ? 3_000 : 10));
    const config = {
      signalConcurrency: 1,
      // Room for the store's fsync, which can take most of a second on a loaded machine.
      handlerTimeoutMs: 4_000,
      signalTimeoutMs: 1_500,
      outbox: { deferAfterMs: 500 },
    };
    await withWebhook(client, config, async (w) => {
      const started = Date.now();
      const slowNotification = genuineV3Notification(sim, DEMO_DIRECT_MCHID, nos[0]);
      const first = sendOne(w, nos[0], slowNotification);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the slow one has the only slot
      // No slot within deferAfterMs (the slow signal holds it until it is cut off): stored and answered.
      const second = sendOne(w, nos[1]);
      expect(await second).toEqual({ status: 200, body: { code: 'SUCCESS', message: 'OK' } });
      expect(Date.now() - started).toBeLessThan(4_000);
      // The relay signals it at once, beside the gate (its own `outbox.concurrency`), while the slow one holds the slot.
      await w.server.outbox!.idle();
      expect(seen.signalled).toEqual([slow, next]);
      // The slow signal is cut off at 1.5 s (signalTimeoutMs), not at deferAfterMs: stored then, answered in time.
      expect((await first).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(4_000);
      // WeChat's repeat of the stored one is a duplicate: 200 again, still one entry.
      expect((await sendOne(w, nos[0], slowNotification)).status).toBe(200);
      await w.server.outbox!.idle();
      expect([...seen.signalled].sort()).toEqual([slow, slow, next].sort());
      expect(seen.signalled.at(-1)).toBe(slow); // the relay's repeat of the one cut off
      expect(w.server.outbox!.outbox.size).toBe(0);
      expect(await resultsOf(w)).toEqual({ deferred: 2, duplicate: 1 });
    });
  });

  it('without the outbox, a notification that could not start its signal in time gets 503, never signalled', async () => {
    const nos = refundNos('late', 2);
    const [slow, late] = nos.map((no) => refundWorkflowId(no));
    // The first signal holds the only slot past the second notification's whole budget.
    const { client, seen } = countingTemporal((id) => (id === slow ? 1_500 : 10));
    const config = { signalConcurrency: 1, handlerTimeoutMs: 1_000, signalTimeoutMs: 900, outbox: { enabled: false } };
    await withWebhook(client, config, async (w) => {
      const url = `${w.baseUrl}${V3_NOTIFY_PATH}/${DEMO_DIRECT_MCHID}`;
      const send = async (no: string) => {
        const { headers, body } = genuineV3Notification(sim, DEMO_DIRECT_MCHID, no);
        const res = await request(url, { method: 'POST', headers, body });
        return { status: res.statusCode, body: await res.body.json() };
      };
      const first = send(nos[0]);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the slow one has the slot
      const started = Date.now();
      const second = await send(nos[1]);
      expect(second).toEqual({ status: 503, body: { code: 'FAIL', message: 'busy, retry later' } });
      expect(Date.now() - started).toBeLessThan(1_000);
      await first;
      expect(seen.signalled).toEqual([slow]);
      expect(seen.signalled).not.toContain(late);
      expect(await resultsByReason(w)).toMatchObject({ NO_TIME_TO_SIGNAL: 1 });
    });
  });

  it('answers by its deadline even when the client’s backoff overruns it (the signal is left to finish)', async () => {
    const [no] = refundNos('overrun', 1);
    const { client, seen } = countingTemporal(() => 3_000, { cutAtDeadline: false });
    const config = { handlerTimeoutMs: 1_000, signalTimeoutMs: 900, outbox: { enabled: false } };
    await withWebhook(client, config, async (w) => {
      const { headers, body } = genuineV3Notification(sim, DEMO_DIRECT_MCHID, no);
      const started = Date.now();
      const res = await request(`${w.baseUrl}${V3_NOTIFY_PATH}/${DEMO_DIRECT_MCHID}`, {
        method: 'POST',
        headers,
        body,
      });
      await res.body.dump();
      expect(res.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(seen.signalled).toEqual([refundWorkflowId(no)]);
    });
  });
});

describe('against the Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let standIn: Awaited<ReturnType<typeof startStandInWorker>>;
  beforeAll(async () => {
    env = await createDevServerEnv();
    standIn = await startStandInWorker(env);
  }, 60_000);
  afterAll(async () => {
    await standIn?.close();
    await env?.teardown();
  });

  it('a burst of 150 notifications with 8 signals in flight: all answered 200, each refund signalled once', async () => {
    const nos = refundNos('burst', 150);
    const handles = await Promise.all(nos.map((no) => standIn.startWaiter(no)));
    const webhook = await startWebhook(sim, env.client, { signalConcurrency: 8 });
    try {
      const statuses = await burst(webhook, nos);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      const received = await Promise.all(handles.map((h) => h.result().then(() => h.query(receivedCountQuery))));
      expect(received).toEqual(nos.map(() => 1));
      expect(await resultsByReason(webhook)).toEqual({});
    } finally {
      await webhook.close();
    }
  });
});
