/**
 * Hostile and broken input over real HTTP. Genuine notifications are captured byte for byte from the simulator (it
 * believes it is talking to the webhook), then replayed, repeated and tampered with against the webhook, which signals
 * a stand-in refund workflow on the real dev server. Also: limits, content types, timeouts, health and metrics.
 */
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { request } from 'undici';
import type { SimulatorHandle } from '../../src/simulator/server';
import { freePort } from '../../src/stack/free-port';
import { createWebhookServer } from '../../src/webhook/server';
import type { MerchantVerifier } from '../../src/webhook/merchant-verifier';
import { verifiersFromSimulatorManifest } from '../../src/webhook/merchants';
import { createDevServerEnv } from '../harness/temporal';
import {
  DEMO_DIRECT_MCHID,
  createRefund,
  signalsReceived,
  startCaptureServer,
  startFrozenSimulator,
  startStandInWorker,
  startWebhook,
  uniqueNos,
  v2Gateway,
  v3Gateway,
  waitFor,
  workflowStatus,
  type CapturedRequest,
  type WebhookUnderTest,
} from './helpers';

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let webhook: WebhookUnderTest;
let standIn: Awaited<ReturnType<typeof startStandInWorker>>;
let capture: Awaited<ReturnType<typeof startCaptureServer>>;

const V3_PATH = `/wechatpay/v3/refund-notify/${DEMO_DIRECT_MCHID}`;
const V2_PATH = `/wechatpay/v2/refund-notify/${DEMO_DIRECT_MCHID}`;

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startFrozenSimulator({ seed: 11 });
  webhook = await startWebhook(sim, env.client, { defaultMchid: DEMO_DIRECT_MCHID });
  standIn = await startStandInWorker(env);
  capture = await startCaptureServer();
}, 120_000);

afterAll(async () => {
  await standIn?.close();
  await capture?.close();
  await webhook?.close();
  await sim?.close();
  await env?.teardown();
});

/** A genuine notification for a new refund, as WeChat sent it, plus the waiting stand-in workflow. */
async function genuine(apiVersion: 'v3' | 'v2', tag: string) {
  const nos = uniqueNos(tag);
  const gateway = (apiVersion === 'v3' ? v3Gateway : v2Gateway)(sim, DEMO_DIRECT_MCHID, capture.baseUrl);
  const handle = await standIn.startWaiter(nos.outRefundNo);
  // One capture path per refund: the capture server keeps getting WeChat's retries of earlier notifications.
  const path = `/capture/${nos.outRefundNo}`;
  await createRefund(sim, gateway, { mchid: DEMO_DIRECT_MCHID, ...nos, notifyUrl: `${capture.baseUrl}${path}` });
  await sim.admin.advance({ seconds: 30 });
  const captured = await waitFor('captured notification', async () => capture.captured.find((c) => c.path === path));
  return { ...nos, handle, captured };
}

async function post(path: string, headers: Record<string, string>, body: string | Buffer, base = webhook.baseUrl) {
  const res = await request(`${base}${path}`, { method: 'POST', headers, body });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

function replay(c: CapturedRequest, path = V3_PATH, body: Buffer | string = c.body, base = webhook.baseUrl) {
  const { host: _host, 'content-length': _len, connection: _conn, ...headers } = c.headers;
  return post(path, headers, body, base);
}

/** A FAIL answer carries a fixed short text: no stack, no exception name, no echo of the input. */
function expectCleanJsonFail(text: string): void {
  const body = JSON.parse(text) as { code: string; message: string };
  expect(Object.keys(body).sort()).toEqual(['code', 'message']);
  expect(body.code).toBe('FAIL');
  expect(body.message).not.toMatch(/\bat \S+:\d+|Error|node_modules|\{|</);
}

async function expectUntouched(handle: Awaited<ReturnType<typeof genuine>>['handle']): Promise<void> {
  expect(await signalsReceived(handle)).toBe(0);
  expect(await workflowStatus(handle)).toBe('RUNNING');
}

describe('replayed and repeated genuine notifications', () => {
  it('the same v3 notification 5 times in a row: five 200s, one signal, completes once', async () => {
    const { handle, captured, outRefundNo } = await genuine('v3', 'rep5');
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await replay(captured));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(JSON.parse(answers[0].text)).toEqual({ code: 'SUCCESS', message: 'OK' });
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, status: 'SUCCESS' });
    expect(await signalsReceived(handle)).toBe(1);
    const results = webhook.logs.lines.filter((l) => l.outRefundNo === outRefundNo).map((l) => l.result);
    expect(results).toEqual(['accepted', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
  });

  it('without the webhook’s memory (new instance, tiny dedupe window) repeats are still harmless', async () => {
    const forgetful = await startWebhook(sim, env.client, { dedupe: { maxEntries: 1, ttlMs: 1 } });
    try {
      const { handle, captured, outRefundNo } = await genuine('v3', 'norem');
      const answers = [];
      for (let i = 0; i < 5; i++) {
        answers.push(await replay(captured, V3_PATH, captured.body, forgetful.baseUrl));
        await new Promise((r) => setTimeout(r, 5)); // let the 1 ms window lapse
      }
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      await expect(handle.result()).resolves.toMatchObject({ outRefundNo });
      // The workflow finished on the first signal; later copies find it closed and are acknowledged without effect.
      const results = forgetful.logs.lines.filter((l) => l.outRefundNo === outRefundNo).map((l) => l.result);
      expect(results[0]).toBe('accepted');
      expect(results.slice(1).every((r) => r === 'accepted' || r === 'workflow_closed')).toBe(true);
      expect(results).toContain('workflow_closed');
      expect(await workflowStatus(handle)).toBe('COMPLETED');
    } finally {
      await forgetful.close();
    }
  });

  it('WeChat’s Request-ID is echoed and used as the log’s request id', async () => {
    const { captured, outRefundNo } = await genuine('v3', 'reqid');
    const res = await replay(captured);
    expect(res.headers['request-id']).toBe(captured.headers['request-id']);
    expect(webhook.logs.lines.find((l) => l.outRefundNo === outRefundNo)?.reqId).toBe(captured.headers['request-id']);
  });
});

describe('tampered and malformed notifications are refused and change nothing', () => {
  it('one byte of the ciphertext changed → 401 (the signature covers the raw bytes)', async () => {
    const { handle, captured } = await genuine('v3', 'flip');
    const envelope = JSON.parse(captured.body.toString('utf8')) as { resource: { ciphertext: string } };
    const c = envelope.resource.ciphertext;
    const flipped = `${c.slice(0, 10)}${c[10] === 'A' ? 'B' : 'A'}${c.slice(11)}`;
    const res = await replay(captured, V3_PATH, captured.body.toString('utf8').replace(c, flipped));
    expect(res.status).toBe(401);
    expectCleanJsonFail(res.text);
    await expectUntouched(handle);
  });

  it('the same JSON re-serialised (one extra byte) → 401: verification is over the bytes, not the parsed value', async () => {
    const { handle, captured } = await genuine('v3', 'reser');
    const res = await replay(captured, V3_PATH, Buffer.concat([captured.body, Buffer.from('\n')]));
    expect(res.status).toBe(401);
    await expectUntouched(handle);
  });

  it('signature headers stripped → 401; a foreign merchant path → 401 (other keys); unknown merchant → 404', async () => {
    const { handle, captured } = await genuine('v3', 'strip');
    const bare = await post(V3_PATH, { 'content-type': 'application/json' }, captured.body);
    expect(bare.status).toBe(401);
    expectCleanJsonFail(bare.text);
    const unknown = await replay(captured, '/wechatpay/v3/refund-notify/1234567');
    expect(unknown.status).toBe(404);
    expectCleanJsonFail(unknown.text);
    await expectUntouched(handle);
  });

  it('v2: req_info tampered → 401 FAIL XML; return_code FAIL → 400; broken XML → 400', async () => {
    const { handle, captured } = await genuine('v2', 'v2bad');
    const xml = captured.body.toString('utf8');
    const reqInfo = /<req_info><!\[CDATA\[([^\]]+)\]\]><\/req_info>/.exec(xml)?.[1] ?? '';
    expect(reqInfo.length).toBeGreaterThan(16);
    const tampered = xml.replace(reqInfo, `${reqInfo.slice(0, 4)}${reqInfo[4] === 'A' ? 'B' : 'A'}${reqInfo.slice(5)}`);
    const forged = await replay(captured, V2_PATH, tampered);
    expect(forged.status).toBe(401);
    expect(forged.headers['content-type']).toMatch(/text\/xml/);
    expect(forged.text).toMatch(
      /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[[^<]+\]\]><\/return_msg><\/xml>$/,
    );

    const failEnvelope = await post(
      V2_PATH,
      { 'content-type': 'text/xml' },
      '<xml><return_code>FAIL</return_code><return_msg>x</return_msg></xml>',
    );
    expect(failEnvelope.status).toBe(400);
    const broken = await post(V2_PATH, { 'content-type': 'text/xml' }, '<xml><return_code>SUCCESS');
    expect(broken.status).toBe(400);
    expect(broken.text).toContain('FAIL');
    await expectUntouched(handle);
    // The untampered original still goes through afterwards.
    expect((await replay(captured, V2_PATH)).status).toBe(200);
    await expect(handle.result()).resolves.toMatchObject({ apiVersion: 'v2' });
  });

  it('malformed JSON bodies → 4xx FAIL, never 5xx or a stack trace', async () => {
    for (const body of ['{not json', '', 'null', '[]', '{"resource":{}}', '\u0000\u0001binary']) {
      const res = await post(
        V3_PATH,
        {
          'content-type': 'application/json',
          'wechatpay-timestamp': '1',
          'wechatpay-nonce': 'n',
          'wechatpay-signature': 'c2ln',
          'wechatpay-serial': 'AB',
        },
        body,
      );
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expectCleanJsonFail(res.text);
    }
  });
});

describe('transport limits', () => {
  it('a body over the limit → 413 (JSON on the v3 route, XML on the v2 route)', async () => {
    const big = 'x'.repeat(65 * 1024);
    const v3 = await post(V3_PATH, { 'content-type': 'application/json' }, big);
    expect(v3.status).toBe(413);
    expectCleanJsonFail(v3.text);
    const v2 = await post(V2_PATH, { 'content-type': 'text/xml' }, big);
    expect(v2.status).toBe(413);
    expect(v2.text).toContain('<return_code><![CDATA[FAIL]]></return_code>');
  });

  it('unsupported content types → 415 (JSON is not accepted on the v2 route; no type at all is refused too)', async () => {
    expect((await post(V3_PATH, { 'content-type': 'text/plain' }, 'hello')).status).toBe(415);
    expect((await post(V3_PATH, { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b')).status).toBe(415);
    expect((await post(V2_PATH, { 'content-type': 'application/json' }, '{}')).status).toBe(415);
    expect((await post(V3_PATH, {}, 'hello')).status).toBe(415);
  });

  it('a client that never finishes its body is cut off (408) after the request timeout', async () => {
    const slow = await startWebhook(sim, env.client, { requestTimeoutMs: 500 });
    try {
      const { port } = new URL(slow.baseUrl);
      const started = Date.now();
      const firstLine = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `POST ${V3_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":`,
          );
        });
        let got = '';
        socket.on('data', (d) => (got += d.toString('latin1')));
        socket.on('close', () => resolve(got.split('\r\n')[0]));
        socket.on('error', reject);
      });
      expect(firstLine).toBe('HTTP/1.1 408 Request Timeout');
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await slow.close();
    }
  });

  it('a notification not handled within handlerTimeoutMs gets 503 well inside WeChat’s 5 s, and is not acted on later', async () => {
    const { handle, captured } = await genuine('v3', 'slowv');
    const real = verifiersFromSimulatorManifest(sim.manifest).find((m) => m.mchid === DEMO_DIRECT_MCHID)!;
    let verified = false;
    // Stands for anything slow before the signal (a stalled key refresh, a starved event loop).
    const sluggish: MerchantVerifier = {
      ...real,
      verifyV3: async (r) => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const n = await real.verifyV3!(r);
        verified = true;
        return n;
      },
    };
    const slow = await startWebhook(sim, env.client, { handlerTimeoutMs: 600, signalTimeoutMs: 300 }, [sluggish]);
    try {
      const started = Date.now();
      const res = await replay(captured, V3_PATH, captured.body, slow.baseUrl);
      expect(res.status).toBe(503);
      expectCleanJsonFail(res.text);
      expect(Date.now() - started).toBeLessThan(1_400);
      await waitFor('late verification', async () => (verified ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expectUntouched(handle);
      const counted = (await slow.server.metrics.notifications.get()).values;
      expect(counted).toEqual([
        expect.objectContaining({ labels: { api_version: 'v3', result: 'temporal_unavailable' }, value: 1 }),
      ]);
    } finally {
      await slow.close();
    }
  });

  it('unknown paths and wrong methods → 404 FAIL', async () => {
    const res = await request(`${webhook.baseUrl}${V3_PATH}`, { method: 'GET' });
    expect(res.statusCode).toBe(404);
    expectCleanJsonFail(await res.body.text());
  });
});

describe('operational endpoints', () => {
  it('/healthz is 200 while Temporal answers, 503 quickly when it does not', async () => {
    const ok = await request(`${webhook.baseUrl}/healthz`);
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.json()).toEqual({ status: 'ok', temporal: 'reachable' });

    const nowhere = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}` }) });
    const down = createWebhookServer({
      config: { port: 0, logLevel: 'silent', healthTimeoutMs: 500, outbox: { enabled: false } },
      temporal: nowhere,
      merchants: verifiersFromSimulatorManifest(sim.manifest),
    });
    try {
      const base = await down.listen();
      const started = Date.now();
      const res = await request(`${base}/healthz`);
      expect(res.statusCode).toBe(503);
      expect(await res.body.json()).toEqual({ status: 'unavailable', temporal: 'unreachable' });
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      await down.close();
      await nowhere.connection.close();
    }
  });

  it('/metrics exposes notifications by version and result, refusals by reason, and a latency histogram', async () => {
    const scrape = async () => {
      const res = await request(`${webhook.baseUrl}/metrics`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/plain/);
      const text = await res.body.text();
      const value = (series: string) =>
        Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return {
        text,
        accepted: value('wechatpay_webhook_notifications_total{api_version="v3",result="accepted"}'),
        duplicate: value('wechatpay_webhook_notifications_total{api_version="v3",result="duplicate"}'),
        rejected: value('wechatpay_webhook_notifications_total{api_version="v3",result="rejected"}'),
        badSignature: value('wechatpay_webhook_rejections_total{api_version="v3",reason="BAD_SIGNATURE"}'),
        acceptedLatencyCount: value(
          'wechatpay_webhook_notification_duration_seconds_count{api_version="v3",result="accepted"}',
        ),
      };
    };
    const { captured } = await genuine('v3', 'metric');
    const before = await scrape();
    expect((await replay(captured, V3_PATH, Buffer.concat([captured.body, Buffer.from(' ')]))).status).toBe(401);
    expect((await replay(captured)).status).toBe(200);
    expect((await replay(captured)).status).toBe(200);
    const after = await scrape();
    expect(after.accepted - before.accepted).toBe(1);
    expect(after.duplicate - before.duplicate).toBe(1);
    expect(after.rejected - before.rejected).toBe(1);
    expect(after.badSignature - before.badSignature).toBe(1);
    expect(after.acceptedLatencyCount - before.acceptedLatencyCount).toBe(1);
    expect(after.text).toMatch(
      /^wechatpay_webhook_notification_duration_seconds_bucket\{le="0\.1",api_version="v3",result="accepted"\} \d+/m,
    );
  });
});
