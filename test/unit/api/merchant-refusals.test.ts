/**
 * The API refuses a merchant its deployment does not serve with 422 unknown_merchant naming the field, on every route
 * that names one, before Temporal is asked (the client here fails the test if it is touched). The merchants are
 * injected, as `npm run api` injects the registry.
 */
import type { Client } from '@temporalio/client';
import { sha256Hex } from '../../../src/api/auth';
import { merchantRoster, type MerchantRoster } from '../../../src/api/merchant-choice';
import { createApiServer, type ApiServer } from '../../../src/api/server';

const KEY = 'test-key-merchant-refusals-0123456789';
const DEFAULT = '1900000109';
const V2 = '1900000110';
const PROVIDER = '1900000100';
const SUB = '1900000201';

const temporalCalls: string[] = [];
/** Any use of Temporal is recorded: a refused request must not reach it. */
const untouchable = new Proxy(
  {},
  {
    get(_target, prop) {
      temporalCalls.push(String(prop));
      throw new Error(`Temporal was asked (${String(prop)})`);
    },
  },
) as Client;

const served = merchantRoster({
  defaultMchid: DEFAULT,
  merchants: [
    { mchid: DEFAULT, mode: 'direct' },
    { mchid: V2, mode: 'direct' },
    { mchid: PROVIDER, mode: 'partner', subMchids: [SUB] },
  ],
});
const noDefault = merchantRoster({
  merchants: [
    { mchid: DEFAULT, mode: 'direct' },
    { mchid: V2, mode: 'direct' },
  ],
});

let current: MerchantRoster = served;
let api: ApiServer;
let base: string;

beforeAll(async () => {
  api = createApiServer({
    config: { port: 0, logLevel: 'silent' },
    temporal: untouchable,
    taskQueue: 'unused',
    // A function: the API asks on every request, so a reloaded registry takes effect at once.
    merchants: () => current,
    keys: [{ name: 'order-service', sha256: sha256Hex(KEY) }],
  });
  base = await api.listen();
});

afterAll(() => api?.close());

afterEach(() => {
  current = served;
  expect(temporalCalls).toEqual([]);
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error?: { type: string; param?: string; message: string } },
  };
}

const refund = { out_trade_no: 'T2026120300001', out_refund_no: 'R2026120300001', amount_fen: 100 };

describe('422 unknown_merchant naming the field', () => {
  test.each<[string, 'GET' | 'POST', string, unknown]>([
    ['POST /v1/refunds', 'POST', '/v1/refunds', { ...refund, mchid: '123' }],
    ['GET a refund', 'GET', '/v1/refunds/R2026120300001?mchid=123', undefined],
    ['cancel a refund', 'POST', '/v1/refunds/R2026120300001/cancel?mchid=123', undefined],
    ['GET an order', 'GET', '/v1/orders/T2026120300001?mchid=123', undefined],
  ])('an mchid the deployment does not serve: %s', async (_what, method, path, body) => {
    expect(await call(method, path, body)).toEqual({
      status: 422,
      body: { error: { type: 'unknown_merchant', param: 'mchid', message: 'no merchant 123 in this deployment' } },
    });
  });

  test.each<[string, 'GET' | 'POST', string, unknown]>([
    ['a direct merchant named in the body', 'POST', '/v1/refunds', { ...refund, mchid: V2, sub_mchid: SUB }],
    ['the default (direct) merchant', 'POST', '/v1/refunds', { ...refund, sub_mchid: SUB }],
    ['a direct merchant, GET', 'GET', `/v1/refunds/R2026120300001?mchid=${V2}&sub_mchid=${SUB}`, undefined],
    ['not a listed sub-merchant', 'POST', '/v1/refunds', { ...refund, mchid: PROVIDER, sub_mchid: '1900000999' }],
    ['not a listed sub-merchant, order', 'GET', `/v1/orders/T2026120300001?mchid=${PROVIDER}&sub_mchid=1`, undefined],
    ['not a listed sub-merchant, cancel', 'POST', `/v1/refunds/R1/cancel?mchid=${PROVIDER}&sub_mchid=1`, undefined],
  ])('a sub_mchid the merchant does not have: %s', async (_what, method, path, body) => {
    const answer = await call(method, path, body);
    expect(answer).toMatchObject({ status: 422, body: { error: { type: 'unknown_merchant', param: 'sub_mchid' } } });
  });

  test('several merchants without a default: mchid is required, on POST and on reads', async () => {
    current = noDefault;
    for (const [method, path, body] of [
      ['POST', '/v1/refunds', refund],
      ['GET', '/v1/refunds/R2026120300001', undefined],
      ['GET', '/v1/orders/T2026120300001', undefined],
    ] as const) {
      expect(await call(method, path, body)).toEqual({
        status: 422,
        body: {
          error: {
            type: 'unknown_merchant',
            param: 'mchid',
            message: 'mchid is required: this deployment serves several merchants and none is the default',
          },
        },
      });
    }
  });
});

test('a malformed mchid is 400 invalid_request naming it, as any malformed field', async () => {
  for (const [method, path, body] of [
    ['POST', '/v1/refunds', { ...refund, mchid: 'abc' }],
    ['GET', '/v1/refunds/R2026120300001?mchid=abc', undefined],
  ] as const) {
    const answer = await call(method, path, body);
    expect(answer).toMatchObject({ status: 400, body: { error: { type: 'invalid_request', param: 'mchid' } } });
  }
});
