/**
 * The stand-in order service (dev stack, demo, tests): it must judge deliveries as a careful order service would
 * (400 for anything not signed by a configured secret), fail on purpose when asked, and report what it received.
 */
import { postRefundEvent } from '../../../src/events/delivery';
import { localReceiverAddress, startEventReceiver, type EventReceiver } from '../../../src/events/receiver';
import { signatureHeader } from '../../../src/events/signature';

const SECRET = 'receiver-secret-0123456789abcdef';
const now = () => Math.floor(Date.now() / 1000);

function event(n: number, state = 'SUCCESS', type = 'refund.succeeded') {
  const id = `refund-R${n}:event-1`;
  const body = JSON.stringify({ id, type, created: now(), data: { refund: { out_refund_no: `R${n}`, state } } });
  return { id, body };
}

let receiver: EventReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const send = (r: EventReceiver, e: { id: string; body: string }, secret = SECRET) =>
  postRefundEvent({ url: r.url, secret, timeoutMs: 5_000 }, e, now());

it('answers 2xx to a signed event and records it once per id, however often it comes', async () => {
  const lines: string[] = [];
  receiver = await startEventReceiver({ secrets: [SECRET], log: (l) => lines.push(l) });
  expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/refund-events$/);
  const e = event(1);
  expect(await send(receiver, e)).toMatchObject({ ok: true, statusCode: 200 });
  expect(await send(receiver, e)).toMatchObject({ ok: true, statusCode: 200 });
  expect(receiver.deliveries()).toHaveLength(2);
  expect(receiver.deliveries()[0]).toMatchObject({
    seq: 1,
    id: e.id,
    type: 'refund.succeeded',
    rawBody: e.body,
    verified: true,
    status: 200,
    headers: expect.objectContaining({ 'refund-event-id': e.id }),
  });
  expect(receiver.events()).toEqual([JSON.parse(e.body)]);
  expect(lines[0]).toBe('✔ refund-R1:event-1 refund.succeeded R1 SUCCESS answered 200');
});

it('failFirst: the first N signed deliveries, over all events, get 500; then 2xx', async () => {
  receiver = await startEventReceiver({ secrets: [SECRET], failFirst: 3 });
  const a = event(1);
  const b = event(2, 'CLOSED', 'refund.closed');
  const statuses = [];
  for (const e of [a, b, a, b, a]) statuses.push((await send(receiver, e)).statusCode);
  expect(statuses).toEqual([500, 500, 500, 200, 200]);
  expect(receiver.events().map((e) => e.id)).toEqual([b.id, a.id]);
  expect(receiver.deliveries().every((d) => d.verified)).toBe(true);

  receiver.failNext(1);
  expect((await send(receiver, a)).statusCode).toBe(500);
  expect((await send(receiver, a)).statusCode).toBe(200);
});

it('a bad signature gets 400, is recorded with the reason, does not count as a failFirst delivery', async () => {
  receiver = await startEventReceiver({ secrets: [SECRET], failFirst: 1 });
  const e = event(1);
  const wrong = await send(receiver, e, 'some-other-secret-0123456789');
  expect(wrong).toMatchObject({ ok: false, statusCode: 400 });
  expect(wrong.error).toMatch(/no v1 signature matches/);

  // A body changed after signing, sent with the genuine header.
  const tampered = await fetch(receiver.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'refund-event-id': e.id,
      'refund-signature': signatureHeader(SECRET, e.body, now()),
    },
    body: e.body.replace('SUCCESS', 'CLOSED'),
  });
  expect(tampered.status).toBe(400);
  const unsigned = await fetch(receiver.url, { method: 'POST', body: e.body });
  expect(unsigned.status).toBe(400);

  expect((await send(receiver, e)).statusCode).toBe(500); // the failFirst one
  expect((await send(receiver, e)).statusCode).toBe(200);
  expect(receiver.deliveries().map((d) => [d.status, d.verified, d.reason])).toEqual([
    [400, false, expect.stringMatching(/no v1 signature matches/)],
    [400, false, expect.stringMatching(/no v1 signature matches/)],
    [400, false, 'no Refund-Signature header'],
    [500, true, undefined],
    [200, true, undefined],
  ]);
  expect(receiver.events()).toHaveLength(1);
});

it('refuses a genuine body under another event id, and a stale signature', async () => {
  receiver = await startEventReceiver({ secrets: [SECRET] });
  const e = event(1);
  expect((await send(receiver, { id: 'refund-R9:event-9', body: e.body })).statusCode).toBe(400);
  const stale = await postRefundEvent({ url: receiver.url, secret: SECRET, timeoutMs: 5_000 }, e, now() - 3_600);
  expect(stale.statusCode).toBe(400);
  expect(receiver.deliveries().map((d) => d.reason)).toEqual([
    expect.stringMatching(/Refund-Event-Id refund-R9:event-9 is not the body's id/),
    expect.stringMatching(/more than 300 s from now/),
  ]);
  expect(receiver.events()).toEqual([]);
});

it('accepts either secret while one is being rotated', async () => {
  receiver = await startEventReceiver({ secrets: ['old-secret-0123456789abcdef', SECRET] });
  expect((await send(receiver, event(1), 'old-secret-0123456789abcdef')).statusCode).toBe(200);
  expect((await send(receiver, event(2))).statusCode).toBe(200);
});

it('GET /__events lists the deliveries and the accepted events', async () => {
  receiver = await startEventReceiver({ secrets: [SECRET], failFirst: 1 });
  const e = event(1);
  await send(receiver, e);
  await send(receiver, e);
  const res = await fetch(new URL('/__events', receiver.url));
  const listed = (await res.json()) as { deliveries: Array<{ status: number }>; events: Array<{ id: string }> };
  expect(listed.deliveries.map((d) => d.status)).toEqual([500, 200]);
  expect(listed.events.map((x) => x.id)).toEqual([e.id]);
});

it('the dev stack runs a stand-in only for a local http URL', () => {
  expect(localReceiverAddress('http://127.0.0.1:18095/refund-events')).toEqual({
    host: '127.0.0.1',
    port: 18095,
    path: '/refund-events',
  });
  expect(localReceiverAddress('http://localhost/x')).toEqual({ host: 'localhost', port: 80, path: '/x' });
  expect(localReceiverAddress('https://orders.example.com/refund-events')).toBeUndefined();
  expect(localReceiverAddress('https://127.0.0.1:8443/refund-events')).toBeUndefined();
});
