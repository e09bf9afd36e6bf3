/**
 * API v3 protocol surface (reference §3, §8.3): Authorization checks, header checks, PARAM_ERROR details, 404/405,
 * signed replies with Request-ID, GET /v3/certificates, percent-encoded paths, and an independent client that signs
 * with raw node:crypto and is served exactly like the project's client.
 */
import { createSign, createVerify, randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { SimulatorHandle } from '../../src/simulator/server';
import { decryptV3Resource } from '../../src/wechatpay/v3/aes-gcm';
import { buildV3Authorization } from '../../src/wechatpay/v3/sign';
import { verifyV3Message } from '../../src/wechatpay/v3/verify';
import { generateRsaKeyPair } from '../../src/pki';
import { DIRECT, keyringFor, paidOrder, v3Gateway, shareSimulator } from './support';

let sim: SimulatorHandle;

shareSimulator((s) => (sim = s));

interface RawCall {
  method?: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: string;
  headers?: Record<string, string | undefined>;
  timestamp?: number;
  serialNo?: string;
  privateKey?: string;
  mchid?: string;
  authorization?: string | null;
}

/** A v3 call signed with the project's signing primitive (so each test can break exactly one thing). */
async function rawV3(call: RawCall) {
  const merchant = sim.manifest.merchants.find((m) => m.mchid === (call.mchid ?? DIRECT))!;
  const method = call.method ?? (call.body === undefined ? 'GET' : 'POST');
  const authorization =
    call.authorization === null
      ? undefined
      : (call.authorization ??
        buildV3Authorization({
          method,
          url: call.path,
          body: call.body ?? '',
          mchid: merchant.mchid,
          serialNo: call.serialNo ?? merchant.serialNo,
          privateKey: call.privateKey ?? merchant.privateKeyPem!,
          timestamp: call.timestamp ?? Math.floor(Date.now() / 1000),
          nonce: randomBytes(16).toString('hex'),
        }));
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'simulator-test/1.0',
    ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(authorization ? { authorization } : {}),
  };
  for (const [k, v] of Object.entries(call.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  const res = await request(`${sim.baseUrl}${call.path}`, { method, headers, body: call.body });
  const raw = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers,
    raw,
    json: raw.length ? (JSON.parse(raw.toString()) as Record<string, unknown>) : undefined,
  };
}

function createBody(outTradeNo: string, over: Record<string, unknown> = {}) {
  return JSON.stringify({
    out_trade_no: outTradeNo,
    out_refund_no: 'R-RAW',
    amount: { refund: 100, total: 10_000, currency: 'CNY' },
    ...over,
  });
}

describe('Authorization (401 SIGN_ERROR, unsigned)', () => {
  const cases: Array<[string, Partial<RawCall>, string]> = [
    ['no Authorization header', { authorization: null }, 'missing'],
    ['another scheme', { authorization: 'Bearer abc' }, 'scheme'],
    [
      'a field missing',
      { authorization: 'WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="a",timestamp="1",serial_no="AB"' },
      'signature',
    ],
    ['a timestamp 6 minutes old', { timestamp: Math.floor(Date.now() / 1000) - 360 }, 'from now'],
    ['an unknown serial_no', { serialNo: 'ABCDEF0123456789' }, 'not an API certificate'],
    ['a signature by another key', { privateKey: generateRsaKeyPair().privateKeyPem }, 'verification failed'],
  ];
  it.each(cases)('refuses %s', async (_name, call, message) => {
    const order = await paidOrder(sim);
    const res = await rawV3({ path: '/v3/refund/domestic/refunds', body: createBody(order.outTradeNo), ...call });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ code: 'SIGN_ERROR' });
    expect(String(res.json?.message)).toContain(message);
    expect(res.headers['wechatpay-signature']).toBeUndefined();
    expect(res.headers['request-id']).toBeDefined();
    expect(await sim.admin.refunds()).toHaveLength(0);
  });

  it('refuses a body changed after signing', async () => {
    const order = await paidOrder(sim);
    const body = createBody(order.outTradeNo);
    const merchant = sim.manifest.merchants[0];
    const authorization = buildV3Authorization({
      method: 'POST',
      url: '/v3/refund/domestic/refunds',
      body,
      mchid: merchant.mchid,
      serialNo: merchant.serialNo,
      privateKey: merchant.privateKeyPem!,
      timestamp: Math.floor(Date.now() / 1000),
      nonce: 'n1',
    });
    const res = await rawV3({
      path: '/v3/refund/domestic/refunds',
      body: body.replace('"refund":100', '"refund":9000'),
      authorization,
    });
    expect(res.status).toBe(401);
  });
});

describe('headers and bodies', () => {
  it('needs User-Agent and Accept (400 INVALID_REQUEST)', async () => {
    const order = await paidOrder(sim);
    for (const header of ['user-agent', 'accept']) {
      const res = await rawV3({
        path: '/v3/refund/domestic/refunds',
        body: createBody(order.outTradeNo),
        headers: { [header]: undefined },
      });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ code: 'INVALID_REQUEST' });
      expect(String(res.json?.message).toLowerCase()).toContain(header);
    }
  });

  it('answers PARAM_ERROR with a detail naming the JSON pointer, the value and the rule', async () => {
    const order = await paidOrder(sim);
    const res = await rawV3({
      path: '/v3/refund/domestic/refunds',
      body: createBody(order.outTradeNo, { amount: { refund: 100, total: 10_000, currency: 'USD' } }),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: '/amount/currency', value: 'USD', location: 'body', issue: expect.stringContaining('CNY') },
    });
    const bad = await rawV3({
      path: '/v3/refund/domestic/refunds',
      body: createBody(order.outTradeNo, { out_refund_no: 'has space' }),
    });
    expect(bad.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/out_refund_no', value: 'has space' } });
    const notJson = await rawV3({ path: '/v3/refund/domestic/refunds', body: '{"amount":' });
    expect(notJson.json).toMatchObject({ code: 'PARAM_ERROR', detail: { location: 'body' } });
    const badFrom = await rawV3({
      path: '/v3/refund/domestic/refunds',
      body: createBody(order.outTradeNo, {
        amount: { refund: 100, total: 10_000, currency: 'CNY', from: [{ account: 'AVAILABLE', amount: 60 }] },
      }),
    });
    expect(badFrom.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/amount/from' } });
  });

  it('refuses a refund above the order total (400 INVALID_REQUEST) and ids naming two orders', async () => {
    const order = await paidOrder(sim);
    const other = await paidOrder(sim);
    const over = await rawV3({
      path: '/v3/refund/domestic/refunds',
      body: createBody(order.outTradeNo, { amount: { refund: 10_001, total: 10_000, currency: 'CNY' } }),
    });
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ code: 'INVALID_REQUEST' });
    const both = await rawV3({
      path: '/v3/refund/domestic/refunds',
      body: createBody(order.outTradeNo, { transaction_id: other.transactionId }),
    });
    expect(both.json).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('different orders') });
  });

  it('answers an unknown path with 404 and a known path with the wrong method with 405, both with empty bodies', async () => {
    const unknown = await rawV3({ path: '/v3/refund/domestic/nothing' });
    expect(unknown.status).toBe(404);
    expect(unknown.raw.length).toBe(0);
    const wrongMethod = await rawV3({ method: 'PUT', path: '/v3/refund/domestic/refunds', body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.raw.length).toBe(0);
  });

  it('signs every 2xx with Wechatpay-* headers that verify, alternating key kinds in migration mode', async () => {
    const order = await paidOrder(sim);
    const keyring = keyringFor(sim.manifest);
    const serials = new Set<string>();
    for (const path of [
      '/v3/refund/domestic/refunds',
      '/v3/refund/domestic/refunds/R-RAW',
      '/v3/refund/domestic/refunds/R-RAW',
    ]) {
      const res = await rawV3(path.endsWith('refunds') ? { path, body: createBody(order.outTradeNo) } : { path });
      expect(res.status).toBe(200);
      expect(res.headers['request-id']).toBeDefined();
      expect(res.headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
      const verdict = await verifyV3Message({ headers: res.headers, rawBody: res.raw, keyring });
      expect(verdict).toMatchObject({ ok: true });
      serials.add(String(res.headers['wechatpay-serial']));
    }
    expect([...serials].some((s) => s.startsWith('PUB_KEY_ID_'))).toBe(true);
    expect([...serials].some((s) => !s.startsWith('PUB_KEY_ID_'))).toBe(true);
  });

  it('serves out_refund_no with `|` percent-encoded in the signed path', async () => {
    const order = await paidOrder(sim);
    const gw = v3Gateway(sim);
    const created = await gw.createRefund({
      outRefundNo: 'R|PIPE*@1',
      outTradeNo: order.outTradeNo,
      refundFen: 5,
      totalFen: order.totalFen,
    });
    await expect(gw.queryRefund({ outRefundNo: 'R|PIPE*@1' })).resolves.toMatchObject({ refundId: created.refundId });
  });
});

describe('apply-abnormal-refund with encrypted fields', () => {
  it('needs Wechatpay-Serial naming a WeChat key (400 PARAM_ERROR otherwise)', async () => {
    const body = JSON.stringify({
      out_refund_no: 'R-ANY',
      type: 'USER_BANK_CARD',
      bank_type: 'ICBC_DEBIT',
      bank_account: 'Y2lwaGVydGV4dA==',
      real_name: 'Y2lwaGVydGV4dA==',
    });
    const path = '/v3/refund/domestic/refunds/50000000000000000001/apply-abnormal-refund';
    const missing = await rawV3({ path, body });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: 'Wechatpay-Serial', location: 'header' },
    });
    const unknown = await rawV3({ path, body, headers: { 'wechatpay-serial': 'PUB_KEY_ID_0000000000000000000001' } });
    expect(unknown.json).toMatchObject({ code: 'PARAM_ERROR', detail: { value: 'PUB_KEY_ID_0000000000000000000001' } });
    const garbage = await rawV3({ path, body, headers: { 'wechatpay-serial': sim.manifest.wechat.publicKeys[0].id } });
    expect(garbage.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/bank_account' } });
  });
});

describe('GET /v3/certificates', () => {
  it('returns the platform certificates encrypted with the APIv3 key, signed by a platform certificate', async () => {
    const res = await rawV3({ path: '/v3/certificates' });
    expect(res.status).toBe(200);
    expect(res.headers['wechatpay-serial']).toBe(sim.manifest.wechat.platformCertificates[0].serialNo);
    const entry = (
      res.json?.data as Array<{
        serial_no: string;
        encrypt_certificate: { ciphertext: string; nonce: string; associated_data: string };
      }>
    )[0];
    const pem = decryptV3Resource({
      ciphertext: entry.encrypt_certificate.ciphertext,
      nonce: entry.encrypt_certificate.nonce,
      associatedData: entry.encrypt_certificate.associated_data,
      apiV3Key: sim.manifest.merchants[0].apiV3Key,
    });
    expect(pem).toBe(sim.manifest.wechat.platformCertificates[0].certificatePem);
    expect(entry.serial_no).toBe(sim.manifest.wechat.platformCertificates[0].serialNo);
  });
});

describe('an independent client (raw node:crypto, no project code)', () => {
  it('is served exactly like the project client: create, then query by the project gateway', async () => {
    const order = await paidOrder(sim);
    const merchant = sim.manifest.merchants[0];
    const body = JSON.stringify({
      out_trade_no: order.outTradeNo,
      out_refund_no: 'R-INDEPENDENT',
      reason: '商品已售完',
      amount: { refund: 888, total: order.totalFen, currency: 'CNY' },
    });
    const path = '/v3/refund/domestic/refunds';
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(16).toString('hex').toUpperCase();
    const signature = createSign('RSA-SHA256')
      .update(`POST\n${path}\n${ts}\n${nonce}\n${body}\n`)
      .sign(merchant.privateKeyPem!, 'base64');
    const res = await request(`${sim.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `WECHATPAY2-SHA256-RSA2048 mchid="${merchant.mchid}", serial_no="${merchant.serialNo}", timestamp="${ts}", nonce_str="${nonce}", signature="${signature}"`,
        accept: 'application/json',
        'content-type': 'application/json',
        'user-agent': 'curl/8.0',
      },
      body,
    });
    const raw = await res.body.text();
    expect(res.statusCode).toBe(200);
    const headers = res.headers as Record<string, string>;
    const key = headers['wechatpay-serial'].startsWith('PUB_KEY_ID_')
      ? sim.manifest.wechat.publicKeys[0].publicKeyPem
      : sim.manifest.wechat.platformCertificates[0].certificatePem;
    const valid = createVerify('RSA-SHA256')
      .update(`${headers['wechatpay-timestamp']}\n${headers['wechatpay-nonce']}\n${raw}\n`)
      .verify(key, headers['wechatpay-signature'], 'base64');
    expect(valid).toBe(true);
    const refund = JSON.parse(raw) as { refund_id: string; status: string; amount: { refund: number } };
    expect(refund).toMatchObject({ status: 'PROCESSING', amount: { refund: 888 } });
    await expect(v3Gateway(sim).queryRefund({ outRefundNo: 'R-INDEPENDENT' })).resolves.toMatchObject({
      refundId: refund.refund_id,
    });
  });
});
