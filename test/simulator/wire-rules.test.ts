/**
 * The simulator's own request rules (src/simulator/wire), stated from docs/wechatpay-protocol.md and independent of
 * the client's schemas (src/wechatpay/*\/schemas.ts): a mistake on one side must show up as a refused request, not be
 * mirrored on both. Requests here are built by hand (signed with the shared primitives only), so the client's
 * validation never runs; the schemas are also checked directly.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SimulatorHandle } from '../../src/simulator/server';
import { abnormalRefundBody, createRefundBody } from '../../src/simulator/wire/v3-requests';
import { refundQueryRequest, refundRequest } from '../../src/simulator/wire/v2-requests';
import { paidOrder, shareSimulator, signedV2, signedV3 } from './support';

let sim: SimulatorHandle;
shareSimulator((s) => (sim = s));

const REFUNDS = '/v3/refund/domestic/refunds';

function createBody(outTradeNo: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    out_trade_no: outTradeNo,
    out_refund_no: 'R-WIRE',
    amount: { refund: 100, total: 10_000, currency: 'CNY' },
    ...over,
  });
}

describe('v3 create refund: the simulator states the rules itself (§1.1, §2.1, §3.6)', () => {
  it('refuses amount.refund > amount.total with 400 INVALID_REQUEST (M4) and stores nothing', async () => {
    const order = await paidOrder(sim, { totalFen: 10_000 });
    const res = await signedV3(sim, {
      path: REFUNDS,
      body: createBody(order.outTradeNo, { amount: { refund: 10_001, total: 10_000, currency: 'CNY' } }),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'INVALID_REQUEST', message: 'refund 10001 exceeds the order total 10000' });
    expect(await sim.admin.refunds()).toHaveLength(0);
  });

  it.each([
    ['65 characters', 'R'.repeat(65)],
    ['a character outside [0-9A-Za-z_-|*@]', 'R#1'],
    ['the empty string', ''],
  ])('refuses an out_refund_no of %s with 400 PARAM_ERROR naming the field and the rule', async (_what, bad) => {
    const order = await paidOrder(sim);
    const res = await signedV3(sim, { path: REFUNDS, body: createBody(order.outTradeNo, { out_refund_no: bad }) });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'PARAM_ERROR',
      message: '/out_refund_no: must be 1-64 characters of [0-9A-Za-z_-|*@]',
      detail: {
        field: '/out_refund_no',
        value: bad,
        issue: 'must be 1-64 characters of [0-9A-Za-z_-|*@]',
        location: 'body',
      },
    });
  });

  it('accepts the full out_refund_no alphabet and 64 characters', async () => {
    const order = await paidOrder(sim);
    const outRefundNo = `a-Z_9|*@${'x'.repeat(56)}`;
    const res = await signedV3(sim, {
      path: REFUNDS,
      body: createBody(order.outTradeNo, { out_refund_no: outRefundNo }),
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ out_refund_no: outRefundNo, status: expect.any(String) });
  });

  it('refuses a notify_url with a query string, and a currency other than CNY', async () => {
    const order = await paidOrder(sim);
    const url = await signedV3(sim, {
      path: REFUNDS,
      body: createBody(order.outTradeNo, { notify_url: 'https://merchant.example/notify?x=1' }),
    });
    expect(url.json).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: '/notify_url', issue: 'must be an http(s) URL of 8-256 characters without query string' },
    });
    const usd = await signedV3(sim, {
      path: REFUNDS,
      body: createBody(order.outTradeNo, { amount: { refund: 1, total: 10_000, currency: 'USD' } }),
    });
    expect(usd.json).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: '/amount/currency', value: 'USD', issue: "must be 'CNY' (the only supported currency)" },
    });
  });

  it('needs one of transaction_id or out_trade_no', () => {
    const r = createRefundBody.safeParse({ out_refund_no: 'R1', amount: { refund: 1, total: 1, currency: 'CNY' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues).toEqual([
      expect.objectContaining({ path: ['out_trade_no'], message: 'one of transaction_id or out_trade_no is required' }),
    ]);
  });

  it('requires amounts in whole fen', () => {
    const r = createRefundBody.safeParse({
      out_trade_no: 'T123456',
      out_refund_no: 'R1',
      amount: { refund: 1.5, total: 10, currency: 'CNY' },
    });
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['amount.refund', 'must be a positive integer number of fen'],
    ]);
  });
});

describe('v3 apply-abnormal-refund (§3.8)', () => {
  it('requires the bank fields for USER_BANK_CARD, and only for it', () => {
    const missing = abnormalRefundBody.safeParse({ out_refund_no: 'R1', type: 'USER_BANK_CARD' });
    expect(missing.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['bank_type', 'is required for USER_BANK_CARD'],
      ['bank_account', 'is required for USER_BANK_CARD'],
      ['real_name', 'is required for USER_BANK_CARD'],
    ]);
    expect(abnormalRefundBody.safeParse({ out_refund_no: 'R1', type: 'MERCHANT_BANK_CARD' }).success).toBe(true);
  });

  it('answers the missing bank field over HTTP as 400 PARAM_ERROR with its JSON pointer', async () => {
    const res = await signedV3(sim, {
      path: `${REFUNDS}/50300000000000000000000000000/apply-abnormal-refund`,
      body: JSON.stringify({ out_refund_no: 'R1', type: 'USER_BANK_CARD' }),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: '/bank_type', issue: 'is required for USER_BANK_CARD', location: 'body' },
    });
  });

  it('accepts only the 15 debit-card bank types of §3.8', () => {
    const base = { out_refund_no: 'R1', type: 'USER_BANK_CARD', bank_account: 'x', real_name: 'y' };
    expect(abnormalRefundBody.safeParse({ ...base, bank_type: 'CMB_DEBIT' }).success).toBe(true);
    expect(abnormalRefundBody.safeParse({ ...base, bank_type: 'CMB_CREDIT' }).success).toBe(false);
  });
});

describe('v2 requests (§5.3, §5.6)', () => {
  it('answers refund_fee > total_fee with return_code=FAIL invalid refund_fee (M4)', async () => {
    const order = await paidOrder(sim, { totalFen: 10_000 });
    const reply = await signedV2(sim, '/secapi/pay/refund', {
      out_trade_no: order.outTradeNo,
      out_refund_no: 'R-V2-OVER',
      total_fee: 10_000,
      refund_fee: 10_001,
    });
    expect(reply).toMatchObject({ return_code: 'FAIL' });
    expect(reply.return_msg).toMatch(/^invalid refund_fee/);
  });

  it('answers a decimal refund_fee and a bad out_refund_no with PARAM_ERROR listing both fields', async () => {
    const order = await paidOrder(sim);
    const reply = await signedV2(sim, '/secapi/pay/refund', {
      out_trade_no: order.outTradeNo,
      out_refund_no: 'R 1',
      total_fee: 10_000,
      refund_fee: '1.50',
    });
    expect(reply).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'FAIL',
      err_code: 'PARAM_ERROR',
      err_code_des:
        'out_refund_no: must be 1-64 characters of [0-9A-Za-z_-|*@]; refund_fee: must be a positive integer number of fen',
    });
  });

  it('reads XML numbers as text: digit strings are fen, and a refund query needs one of the four ids', () => {
    const base = { appid: 'wx1', mch_id: '1900000109', nonce_str: 'n1', sign: 'A'.repeat(32) };
    const ok = refundRequest.safeParse({
      ...base,
      out_trade_no: 'T123456',
      out_refund_no: 'R1',
      total_fee: '10',
      refund_fee: '5',
    });
    expect(ok.data).toMatchObject({ total_fee: 10, refund_fee: 5 });
    const none = refundQueryRequest.safeParse(base);
    expect(none.error?.issues.map((i) => i.message)).toEqual([
      'one of refund_id, out_refund_no, transaction_id or out_trade_no is required',
    ]);
  });
});

describe('independence from the client', () => {
  /** Every src/simulator module that reaches into src/wechatpay, and what it takes from there. */
  function importsFromClient(): Array<{ file: string; from: string }> {
    const root = path.resolve(__dirname, '..', '..', 'src', 'simulator');
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    return files.flatMap((file) =>
      [...readFileSync(path.join(root, file), 'utf8').matchAll(/from '((?:\.\.\/)+wechatpay\/[^']+)'/g)].map((m) => ({
        file,
        from: m[1].replace(/^(\.\.\/)+/, ''),
      })),
    );
  }

  it('shares only crypto primitives, the XML codec and configuration types, never request or reply schemas', () => {
    const allowed = new Set([
      'wechatpay/v3/sign', // RSA-SHA256 over the v3 message string
      'wechatpay/v3/aes-gcm', // AEAD_AES_256_GCM
      'wechatpay/v3/rsa-oaep', // sensitive fields
      'wechatpay/v2/sign', // MD5 / HMAC-SHA256 sign
      'wechatpay/v2/req-info', // AES-256-ECB of the v2 notification
      'wechatpay/v2/xml', // XML codec
      'wechatpay/config-rules', // PEM-or-path loading of the simulator's own configuration
      'wechatpay/v3/gateway', // type only: the client configuration the manifest produces
      'wechatpay/v2/gateway', // type only: idem
    ]);
    const used = importsFromClient();
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !allowed.has(u.from))).toEqual([]);
  });
});
