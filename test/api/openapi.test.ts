/**
 * The OpenAPI document against the code and the wire: the checked-in docs/openapi.json is what the schemas generate,
 * it is OpenAPI 3.1, it documents exactly the routes the server registers, the server serves it, and real answers
 * of the real stack (one of each documented status we can provoke) match the schema the document names for them,
 * with no undocumented field, and carry the headers it promises.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sha256Hex } from '../../src/api/auth';
import { buildApiDocument, COMPONENT_SCHEMAS, openApiFileText, openApiPath } from '../../src/api/openapi';
import { createApiServer } from '../../src/api/server';
import { testDataConverter } from '../harness/temporal';
import { newRefundNo } from '../workflows/helpers';
import { bearer, eventually, startApiStack, TEST_MERCHANTS, type Answer, type ApiStack, type Json } from './api-stack';

const KEY = 'test-key-openapi-0123456789abcdef';
const DOC_FILE = path.resolve(__dirname, '..', '..', 'docs', 'openapi.json');

type Doc = ReturnType<typeof buildApiDocument>;
const doc: Doc = buildApiDocument();

let stack: ApiStack;

beforeAll(async () => {
  stack = await startApiStack(KEY);
}, 60_000);

afterAll(() => stack?.close());

describe('the document', () => {
  test('docs/openapi.json is the generated document', () => {
    const checkedIn = readFileSync(DOC_FILE, 'utf8');
    const verdict =
      checkedIn === openApiFileText() ? 'up to date' : 'docs/openapi.json is stale: run `npm run openapi`';
    expect(verdict).toBe('up to date');
  });

  test('is OpenAPI 3.1 with bearer authentication on every /v1 operation', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const [p, item] of Object.entries(doc.paths ?? {})) {
      for (const op of Object.values(item as Record<string, { security?: unknown[] }>)) {
        if (p.startsWith('/v1/')) expect(op.security).toBeUndefined();
        else expect(op.security).toEqual([]);
      }
    }
  });

  test('documents exactly the routes the server registers', () => {
    const registered = stack.api.routes.map((r) => `${r.method} ${openApiPath(r.url)}`).sort();
    const documented = Object.entries(doc.paths ?? {})
      .flatMap(([p, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(registered).toContain('POST /v1/refunds/{out_refund_no}/cancel');
    expect(registered).toContain('GET /v1/refunds');
    expect(documented).toEqual(registered);
  });

  test('GET /openapi.json serves it, without a key', async () => {
    const res = await stack.call('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(JSON.parse(readFileSync(DOC_FILE, 'utf8')));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real answers against the document

type Ref = { $ref: string };
type ResponseDoc = { headers?: Record<string, unknown>; content?: Record<string, { schema?: unknown }> };

function deref<T>(value: T | Ref, kind: 'responses' | 'headers' | 'schemas'): T {
  const ref = (value as Ref).$ref;
  if (ref === undefined) return value as T;
  const prefix = `#/components/${kind}/`;
  expect(ref.startsWith(prefix)).toBe(true);
  const found = (doc.components as Record<string, Record<string, unknown>>)[kind][ref.slice(prefix.length)];
  expect(found).toBeDefined();
  return found as T;
}

/** Checks one answer against what the document says `method path` answers with its status. */
function expectDocumented(method: string, docPath: string, res: Answer): void {
  const operation = (doc.paths?.[docPath] as Record<string, { responses: Record<string, unknown> }> | undefined)?.[
    method.toLowerCase()
  ];
  expect(operation).toBeDefined();
  const documented = operation!.responses[String(res.status)];
  if (documented === undefined) throw new Error(`${method} ${docPath} answered ${res.status}, which is not documented`);
  const response = deref<ResponseDoc>(documented as ResponseDoc, 'responses');

  for (const name of Object.keys(response.headers ?? {})) {
    expect({ header: name, present: res.headers[name.toLowerCase()] !== undefined }).toEqual({
      header: name,
      present: true,
    });
  }
  const schemaRef = (response.content?.['application/json']?.schema as Ref | undefined)?.$ref;
  expect(schemaRef).toMatch(/^#\/components\/schemas\//);
  const name = schemaRef!.slice('#/components/schemas/'.length) as keyof typeof COMPONENT_SCHEMAS;
  const parsed = COMPONENT_SCHEMAS[name].safeParse(res.body);
  if (!parsed.success) {
    throw new Error(`${method} ${docPath} ${res.status} is not a ${name}: ${parsed.error.message}`);
  }
  // Parsing drops undocumented fields: a field the document does not name shows up here.
  expect({ [name]: parsed.data }).toEqual({ [name]: res.body });
}

const json = (body: unknown) => ({
  method: 'POST',
  headers: { ...bearer(KEY), 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

test('refund answers: 201, 200, 400, 401, 409, 413, 415, 422; a refund, an order and a list; 404s', async () => {
  const tradeNo = await stack.order(1_000);
  const first = newRefundNo('OAS');
  const body = { out_trade_no: tradeNo, out_refund_no: first, amount_fen: 300, reason: 'r', metadata: { k: 'v' } };
  const post = (b: unknown) => stack.call('/v1/refunds', json(b));

  const created = await post(body);
  expect(created.status).toBe(201);
  expectDocumented('POST', '/v1/refunds', created);
  const repeat = await post(body);
  expect(repeat.status).toBe(200);
  expectDocumented('POST', '/v1/refunds', repeat);

  const refusals: Array<[number, Promise<Answer>]> = [
    [400, post({ ...body, amount_fen: -1 })],
    [
      400,
      stack.call('/v1/refunds', { method: 'POST', headers: { ...bearer(KEY), 'content-type': 'application/json' } }),
    ],
    [401, stack.call('/v1/refunds', { ...json(body), headers: { 'content-type': 'application/json' } })],
    [409, post({ ...body, amount_fen: 301 })],
    [413, post({ ...body, reason: 'x'.repeat(20_000) })],
    [415, stack.call('/v1/refunds', { ...json(body), headers: { ...bearer(KEY), 'content-type': 'text/plain' } })],
    [422, post({ ...body, out_refund_no: newRefundNo('OAS'), amount_fen: 5_000 })],
  ];
  for (const [status, answer] of refusals) {
    const res = await answer;
    expect(res.status).toBe(status);
    expectDocumented('POST', '/v1/refunds', res);
  }

  const refund = await eventually(
    () => stack.get(`/v1/refunds/${first}`),
    (r) => r.body.state === 'PROCESSING',
  );
  expectDocumented('GET', '/v1/refunds/{out_refund_no}', refund);
  expect(refund.body).toMatchObject({ metadata: { k: 'v' }, updated_at: expect.any(String) });
  expectDocumented('GET', '/v1/refunds/{out_refund_no}', await stack.get(`/v1/refunds/${newRefundNo('NOPE')}`));
  expectDocumented('GET', '/v1/refunds/{out_refund_no}', await stack.get('/v1/refunds/bad%20number'));

  expectDocumented('GET', '/v1/orders/{out_trade_no}', await stack.get(`/v1/orders/${tradeNo}`));
  expectDocumented('GET', '/v1/orders/{out_trade_no}', await stack.get(`/v1/orders/TNONE${Date.now().toString(36)}`));

  const list = await eventually(
    () => stack.get(`/v1/refunds?out_trade_no=${tradeNo}`),
    (r) => (r.body.data as Json[] | undefined)?.length === 1,
  );
  expectDocumented('GET', '/v1/refunds', list);
  expectDocumented('GET', '/v1/refunds', await stack.get('/v1/refunds?limit=0'));
  expectDocumented('GET', '/v1/refunds', await stack.call('/v1/refunds'));
});

test('cancel answers: 200 CANCELLED for a queued refund, 409 once sent to WeChat, 404 when unknown', async () => {
  // M9: one create per order per minute, so the second refund of an order waits in its ledger: cancellable.
  const tradeNo = await stack.order(1_000);
  const sent = newRefundNo('OAC');
  const queued = newRefundNo('OAC');
  expect(
    (await stack.post('/v1/refunds', { out_trade_no: tradeNo, out_refund_no: sent, amount_fen: 100 })).status,
  ).toBe(201);
  expect(
    (await stack.post('/v1/refunds', { out_trade_no: tradeNo, out_refund_no: queued, amount_fen: 200 })).status,
  ).toBe(201);
  await eventually(
    () => stack.get(`/v1/refunds/${sent}`),
    (r) => r.body.state === 'PROCESSING',
  );

  const cancel = (no: string, init: { body?: string; contentType?: string } = {}) =>
    stack.call(`/v1/refunds/${no}/cancel`, {
      method: 'POST',
      headers: { ...bearer(KEY), ...(init.contentType ? { 'content-type': init.contentType } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });

  const cancelled = await cancel(queued, { body: '{}', contentType: 'application/json' });
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.state).toBe('CANCELLED');
  expectDocumented('POST', '/v1/refunds/{out_refund_no}/cancel', cancelled);

  // No body at all, with or without a JSON content type, is the same request.
  const tooLate = await cancel(sent, { contentType: 'application/json' });
  expect(tooLate.status).toBe(409);
  expect((tooLate.body.error as Json).type).toBe('not_cancellable');
  expectDocumented('POST', '/v1/refunds/{out_refund_no}/cancel', tooLate);
  expect((await cancel(sent)).status).toBe(409);

  expectDocumented('POST', '/v1/refunds/{out_refund_no}/cancel', await cancel(newRefundNo('NOPE')));
  const withField = await cancel(queued, { body: '{"reason":"x"}', contentType: 'application/json' });
  expect(withField.body).toMatchObject({ error: { type: 'invalid_request', param: 'reason' } });
  expectDocumented('POST', '/v1/refunds/{out_refund_no}/cancel', withField);
});

test('operations answers: /healthz; 503 with Retry-After while Temporal is unreachable', async () => {
  expectDocumented('GET', '/healthz', await stack.call('/healthz'));

  const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500, interceptors: [] });
  const down = createApiServer({
    config: { port: 0, logLevel: 'silent', decisionTimeoutMs: 1_500, queryTimeoutMs: 1_000 },
    temporal: new Client({ connection, dataConverter: testDataConverter() }),
    taskQueue: 'unused',
    merchants: TEST_MERCHANTS,
    keys: [{ name: 'order-service', sha256: sha256Hex(KEY) }],
  });
  try {
    const root = await down.listen();
    const at = async (p: string, init: RequestInit = { headers: bearer(KEY) }): Promise<Answer> => {
      const res = await fetch(`${root}${p}`, init);
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text) as Json, headers: Object.fromEntries(res.headers), text };
    };
    const refused = await at('/v1/refunds', json({ out_trade_no: 'T0000001', out_refund_no: 'R1', amount_fen: 1 }));
    expect(refused.status).toBe(503);
    expectDocumented('POST', '/v1/refunds', refused);
    const list = await at('/v1/refunds');
    expect(list.status).toBe(503);
    expectDocumented('GET', '/v1/refunds', list);
    const health = await at('/healthz', {});
    expect(health.status).toBe(503);
    expectDocumented('GET', '/healthz', health);
  } finally {
    await down.close();
    await connection.close().catch(() => undefined);
  }
});
