/**
 * One delivery attempt against a real local HTTP server: what the order service receives (headers, a signature that
 * verifies with the shared secret, the body byte for byte) and how each kind of answer or failure comes back, never
 * as a thrown error.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_TYPES, postRefundEvent } from '../../../src/events/delivery';
import { verifyEventSignature } from '../../../src/events/signature';
import { freePort } from '../../../src/stack/free-port';

const SECRET = 'events-secret-0123456789abcdef';
const event = {
  id: 'refund-R1:event-1',
  body: JSON.stringify({
    id: 'refund-R1:event-1',
    type: 'refund.succeeded',
    created: 1_700_000_000,
    data: { refund: { object: 'refund', out_refund_no: 'R1', state: 'SUCCESS', reason: '商品退货' } },
  }),
};

interface Received {
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let server: Server;
let url: string;
let received: Received[];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/refund-events`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received = [];
  answer = (_req, res) => res.writeHead(200).end('ok');
});

const now = () => Math.floor(Date.now() / 1000);

it('POSTs the body unchanged with the id, a signature that verifies with the secret, and the engine as user agent', async () => {
  const sentAt = now();
  const result = await postRefundEvent({ url, secret: SECRET, timeoutMs: 5_000 }, event, sentAt);
  expect(result).toMatchObject({ ok: true, statusCode: 200 });
  expect(result.durationMs).toBeGreaterThanOrEqual(0);
  const [got] = received;
  expect(got.body.toString('utf8')).toBe(event.body);
  expect(got.headers).toMatchObject({
    'content-type': 'application/json',
    'refund-event-id': 'refund-R1:event-1',
    'user-agent': 'wechatpay-refund-engine-events/1',
  });
  const header = got.headers['refund-signature'] as string;
  expect(header).toMatch(new RegExp(`^t=${sentAt},v1=[0-9a-f]{64}$`));
  expect(verifyEventSignature(header, got.body, [SECRET])).toEqual({ ok: true, timestampSec: sentAt });
  expect(verifyEventSignature(header, got.body, ['not-the-secret-0123456789']).ok).toBe(false);
});

it('signs each attempt afresh with its own time; the id and body stay the same', async () => {
  await postRefundEvent({ url, secret: SECRET, timeoutMs: 5_000 }, event, 1_700_000_000);
  await postRefundEvent({ url, secret: SECRET, timeoutMs: 5_000 }, event, 1_700_000_600);
  const [a, b] = received;
  expect(a.headers['refund-signature']).toMatch(/^t=1700000000,/);
  expect(b.headers['refund-signature']).toMatch(/^t=1700000600,/);
  expect(a.headers['refund-signature']).not.toBe(b.headers['refund-signature']);
  expect(b.body.equals(a.body)).toBe(true);
  expect(b.headers['refund-event-id']).toBe(a.headers['refund-event-id']);
});

it('counts any 2xx as delivered', async () => {
  answer = (_req, res) => res.writeHead(204).end();
  expect(await postRefundEvent({ url, secret: SECRET, timeoutMs: 5_000 }, event, now())).toMatchObject({
    ok: true,
    statusCode: 204,
  });
});

it.each([500, 400, 302, 404])(
  'a %i answer is not delivered, with the status and an excerpt of the reply',
  async (status) => {
    answer = (_req, res) => res.writeHead(status, { location: 'http://elsewhere.example/' }).end('{"error":"nope"}');
    const result = await postRefundEvent({ url, secret: SECRET, timeoutMs: 5_000 }, event, now());
    expect(result).toMatchObject({
      ok: false,
      statusCode: status,
      error: `receiver answered ${status}: {"error":"nope"}`,
    });
    expect(received).toHaveLength(1); // a redirect is not followed
  },
);

it('reads only the start of an endless reply', async () => {
  answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = 'x'.repeat(64 * 1024);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  };
  const result = await postRefundEvent({ url, secret: SECRET, timeoutMs: 5_000 }, event, now());
  expect(result).toMatchObject({ ok: true, statusCode: 200 });
  expect(result.durationMs).toBeLessThan(5_000);
});

it('a refused connection is an attempt that failed, not an exception, and names no secret', async () => {
  const closedPort = await freePort();
  const result = await postRefundEvent(
    { url: `http://127.0.0.1:${closedPort}/refund-events`, secret: SECRET, timeoutMs: 5_000 },
    event,
    now(),
  );
  expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/ECONNREFUSED/) });
  expect(result.statusCode).toBeUndefined();
  expect(JSON.stringify(result)).not.toContain(SECRET);
});

it('a receiver that does not answer in time is an attempt that failed after the timeout', async () => {
  answer = () => undefined; // never answers
  const result = await postRefundEvent({ url, secret: SECRET, timeoutMs: 300 }, event, now());
  expect(result).toMatchObject({ ok: false, error: 'no answer within 300 ms' });
  expect(result.durationMs).toBeGreaterThanOrEqual(250);
  expect(result.durationMs).toBeLessThan(3_000);
});

it('a malformed URL is a failed attempt too', async () => {
  const result = await postRefundEvent({ url: 'not a url', secret: SECRET, timeoutMs: 1_000 }, event, now());
  expect(result.ok).toBe(false);
  expect(result.error).toBeTruthy();
});

it('knows the six event types of the contract', () => {
  expect(EVENT_TYPES).toEqual([
    'refund.succeeded',
    'refund.closed',
    'refund.rejected',
    'refund.abnormal',
    'refund.manual_review',
    'refund.cancelled',
  ]);
});
