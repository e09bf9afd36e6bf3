/**
 * The transport's whole-request deadline: calls queued behind hanging ones (every pooled connection taken) still end,
 * classified as UnknownOutcome TIMEOUT (retry with the same number), well before the activity's own timeout.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnknownOutcome } from '../../../src/wechatpay/errors';
import { createEndpoint, send } from '../../../src/wechatpay/transport';

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer(() => undefined); // accepts every request, never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('requests queued behind 32 hanging ones end by the deadline as UnknownOutcome TIMEOUT', async () => {
  const endpoint = createEndpoint(url, { connectMs: 100, headersMs: 2_000, bodyMs: 100 });
  expect(endpoint.deadlineMs).toBe(2_200);
  const started = Date.now();
  // 32 pooled connections: the last 8 requests wait in the queue, where the per-phase timeouts do not run.
  const results = await Promise.allSettled(
    Array.from({ length: 40 }, () => send(endpoint, { method: 'GET', path: '/', headers: {} })),
  );
  const elapsed = Date.now() - started;
  await endpoint.pool.destroy();

  for (const r of results) {
    expect(r.status).toBe('rejected');
    const reason = (r as PromiseRejectedResult).reason as unknown;
    expect(reason).toBeInstanceOf(UnknownOutcome);
    expect(reason).toMatchObject({ code: 'TIMEOUT' });
  }
  // Without the deadline the queued 8 would end a further headers timeout (2 s) after the first 32, at about 4 s.
  expect(elapsed).toBeLessThan(3_200);
});
