/**
 * What operators see of the API on the real stack: Prometheus metrics at /metrics (no key needed; requests by method,
 * route pattern and status, latency, ledger decisions by outcome) and access logs that carry no secret, no body and no
 * metadata.
 */
import { sha256Hex } from '../../src/api/auth';
import { newRefundNo } from '../workflows/helpers';
import { startApiStack, type ApiStack } from './api-stack';

const KEY = 'test-key-observability-0123456789abcdef';

let stack: ApiStack;

beforeAll(async () => {
  stack = await startApiStack(KEY);
}, 60_000);

afterAll(() => stack?.close());

/** The value of one sample line of the exposition, e.g. `name{a="b"} 3`; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2].split(',');
    if (wanted.every((l) => have.includes(l))) return Number(match[3]);
  }
  return 0;
}

test('/metrics: decisions by outcome, requests by route pattern and status, latency; no key needed', async () => {
  const tradeNo = await stack.order(1_000);
  const no = newRefundNo('OBS');
  const body = { out_trade_no: tradeNo, out_refund_no: no, amount_fen: 300 };
  expect((await stack.post('/v1/refunds', body)).status).toBe(201);
  expect((await stack.post('/v1/refunds', body)).status).toBe(200);
  expect((await stack.post('/v1/refunds', body)).status).toBe(200);
  expect((await stack.post('/v1/refunds', { ...body, amount_fen: 301 })).status).toBe(409);
  expect(
    (await stack.post('/v1/refunds', { out_trade_no: tradeNo, out_refund_no: newRefundNo('OBS'), amount_fen: 5_000 }))
      .status,
  ).toBe(422);
  expect((await stack.post('/v1/refunds', { ...body, amount_fen: 0 })).status).toBe(400);
  expect((await stack.get(`/v1/refunds/${no}`)).status).toBe(200);
  expect((await stack.get(`/v1/refunds/${newRefundNo('NOPE')}`)).status).toBe(404);
  expect((await stack.call(`/v1/refunds/${no}`)).status).toBe(401);
  expect((await stack.get('/no/such/route')).status).toBe(404);

  const res = await stack.call('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = res.text;

  const decisions = (outcome: string) => sample(text, 'wechatpay_api_refund_decisions_total', { outcome });
  expect([decisions('created'), decisions('repeat'), decisions('conflict'), decisions('rule_violation')]).toEqual([
    1, 2, 1, 1,
  ]);

  const requests = (method: string, route: string, status: number) =>
    sample(text, 'wechatpay_api_requests_total', { method, route, status: String(status) });
  expect(requests('POST', '/v1/refunds', 201)).toBe(1);
  expect(requests('POST', '/v1/refunds', 200)).toBe(2);
  expect(requests('POST', '/v1/refunds', 400)).toBe(1);
  expect(requests('GET', '/v1/refunds/:out_refund_no', 200)).toBe(1);
  expect(requests('GET', '/v1/refunds/:out_refund_no', 404)).toBe(1);
  expect(requests('GET', '/v1/refunds/:out_refund_no', 401)).toBe(1);
  expect(requests('GET', 'unmatched', 404)).toBe(1);

  const latency = (route: string) =>
    sample(text, 'wechatpay_api_request_duration_seconds_count', { method: 'POST', route });
  expect(latency('/v1/refunds')).toBe(6);
  expect(sample(text, 'wechatpay_api_request_duration_seconds_bucket', { route: '/v1/refunds', le: '+Inf' })).toBe(6);

  // Route patterns only: no refund or order number, no unmatched URL becomes a label.
  expect(text).not.toContain(no);
  expect(text).not.toContain(tradeNo);
  expect(text).not.toContain('/no/such/route');
});

test('/healthz, /metrics and /openapi.json need no key; the /v1 routes do', async () => {
  for (const path of ['/healthz', '/metrics', '/openapi.json']) expect((await stack.call(path)).status).toBe(200);
  expect((await stack.call('/v1/refunds')).status).toBe(401);
});

test('access logs: one line per request with its id and status; never the key, its hash, the body or metadata', async () => {
  const before = stack.logs.length;
  const metadata = { ticket: 'TICKET-obs-4711-secretish', approver: 'approver-obs-alice' };
  const reason = 'reason-obs-never-logged';
  const created = await stack.post('/v1/refunds', {
    out_trade_no: await stack.order(1_000),
    out_refund_no: newRefundNo('OBL'),
    amount_fen: 100,
    reason,
    metadata,
  });
  expect(created.status).toBe(201);
  expect(created.body.metadata).toEqual(metadata);
  const refused = await stack.call('/v1/refunds', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}x`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata }),
  });
  expect(refused.status).toBe(401);

  const lines = stack.logs.slice(before).join('');
  // The request is there (so the check below looks at the right lines) …
  expect(lines).toContain(created.headers['request-id']);
  expect(lines).toContain('"statusCode":201');
  expect(lines).toContain('refund accepted');
  // … and nothing secret or private is.
  for (const secret of [KEY, sha256Hex(KEY), metadata.ticket, metadata.approver, 'ticket', reason]) {
    expect(lines).not.toContain(secret);
  }
  expect(lines).not.toMatch(/authorization|bearer/i);
});
