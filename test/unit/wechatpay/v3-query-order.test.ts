/**
 * v3 order query (reference §11.1): direct and partner paths, 404 → null, unpaid orders, reply verification, errors,
 * and the currency a reply names (RefundAmounts.currency / OrderRecord.currency are what WeChat wrote).
 */
import {
  Final,
  InvalidRequest,
  NeedsOperator,
  RetrySame,
  Throttled,
  UnknownOutcome,
} from '../../../src/wechatpay/errors';
import { createV3Gateway, V3Gateway, V3GatewayConfigInput } from '../../../src/wechatpay/v3/gateway';
import { FakeV3, orderObject, refundObject, Reply, RecordedRequest, startFakeV3 } from './helpers/fake-v3-server';
import { thrown } from './helpers/gateway-calls';
import { API_V3_KEY, MCHID, SP_MCHID, SUB_MCHID, testKeys } from './helpers/wechat-keys';

const k = testKeys();
let server: FakeV3;
let gateways: V3Gateway[] = [];
let respond: (req: RecordedRequest) => Reply | Promise<Reply>;

const OUT_TRADE_NO = 'T20240101000001';
const TRANSACTION_ID = '4200000001202401010000000001';

beforeAll(async () => {
  server = await startFakeV3((req) => respond(req));
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
  respond = () => ({ status: 200, body: orderObject() });
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

function gateway(overrides: Partial<V3GatewayConfigInput> = {}): V3Gateway {
  const g = createV3Gateway({
    baseUrl: server.url,
    mchid: MCHID,
    merchantSerialNo: k.merchant.serial,
    merchantPrivateKey: k.merchant.privateKeyPem,
    apiV3Key: API_V3_KEY,
    platformCertificates: [k.platform.certPem],
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    ...overrides,
  });
  gateways.push(g);
  return g;
}

const partnerGateway = (overrides: Partial<V3GatewayConfigInput> = {}) =>
  gateway({ mode: 'partner', mchid: SP_MCHID, ...overrides });

/** The order as a partner (service-provider) reply shows it. */
function partnerOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { appid: _a, mchid: _m, payer: _p, ...rest } = orderObject();
  return {
    ...rest,
    sp_appid: 'wx8888888888888888',
    sp_mchid: SP_MCHID,
    sub_appid: 'wxd678efh567hg6999',
    sub_mchid: SUB_MCHID,
    payer: { sp_openid: 'oUpF8uN95-Ptaags6E_roPHg7AG0', sub_openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    ...overrides,
  };
}

describe('v3 query order, direct mode', () => {
  it('by out_trade_no: signed GET with ?mchid=, verified reply mapped to OrderRecord', async () => {
    const record = await gateway().queryOrder({ outTradeNo: OUT_TRADE_NO });
    const [req] = server.requests;
    expect(req.method).toBe('GET');
    expect(req.url).toBe(`/v3/pay/transactions/out-trade-no/${OUT_TRADE_NO}?mchid=${MCHID}`);
    expect(req.body).toHaveLength(0);
    expect(req.authValid).toBe(true);
    expect(req.auth?.mchid).toBe(MCHID);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toBeUndefined();
    expect(record).toEqual({
      mchid: MCHID,
      outTradeNo: OUT_TRADE_NO,
      transactionId: TRANSACTION_ID,
      tradeState: 'SUCCESS',
      bankType: 'CMB_DEBIT',
      successTime: '2024-01-01T10:00:00+08:00',
      totalFen: 300,
      payerTotalFen: 300,
      currency: 'CNY',
      apiVersion: 'v3',
    });
  });

  it('by transaction_id: /id/{transaction_id}?mchid=', async () => {
    await expect(gateway().queryOrder({ transactionId: TRANSACTION_ID })).resolves.toMatchObject({
      transactionId: TRANSACTION_ID,
      tradeState: 'SUCCESS',
    });
    expect(server.requests[0].url).toBe(`/v3/pay/transactions/id/${TRANSACTION_ID}?mchid=${MCHID}`);
    expect(server.requests[0].authValid).toBe(true);
  });

  it('uses out_trade_no when both ids are given', async () => {
    await gateway().queryOrder({ outTradeNo: OUT_TRADE_NO, transactionId: TRANSACTION_ID });
    expect(server.requests[0].url).toBe(`/v3/pay/transactions/out-trade-no/${OUT_TRADE_NO}?mchid=${MCHID}`);
  });

  it('percent-encodes "|" in the path and signs exactly what is sent', async () => {
    respond = () => ({ status: 200, body: orderObject({ out_trade_no: 'T2024|01*x' }) });
    await expect(gateway().queryOrder({ outTradeNo: 'T2024|01*x' })).resolves.toMatchObject({
      outTradeNo: 'T2024|01*x',
    });
    expect(server.requests[0].url).toBe(`/v3/pay/transactions/out-trade-no/T2024%7C01*x?mchid=${MCHID}`);
    expect(server.requests[0].authValid).toBe(true);
  });

  it('REFUND (paid, refunds exist) is passed through, as is a trade_state this code does not know', async () => {
    respond = () => ({ status: 200, body: orderObject({ trade_state: 'REFUND' }) });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toMatchObject({ tradeState: 'REFUND' });
    respond = () => ({ status: 200, body: orderObject({ trade_state: 'SOMETHING_NEW' }) });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toMatchObject({
      tradeState: 'SOMETHING_NEW',
    });
  });

  it('NOTPAY: no transaction_id, success_time, bank_type, payer_total or currency', async () => {
    respond = () => ({
      status: 200,
      body: {
        appid: 'wxd678efh567hg6787',
        mchid: MCHID,
        out_trade_no: OUT_TRADE_NO,
        trade_state: 'NOTPAY',
        trade_state_desc: '订单未支付',
        amount: { total: 300, payer_currency: 'CNY' },
        promotion_detail: [],
        scene_info: { device_id: '' },
      },
    });
    const record = await gateway().queryOrder({ outTradeNo: OUT_TRADE_NO });
    expect(record).toEqual({
      mchid: MCHID,
      outTradeNo: OUT_TRADE_NO,
      tradeState: 'NOTPAY',
      totalFen: 300,
      currency: 'CNY',
      apiVersion: 'v3',
    });
    expect(record).not.toHaveProperty('transactionId', expect.anything());
    expect(record?.successTime).toBeUndefined();
  });

  it('reports the currency WeChat wrote (USD), and tolerates unknown fields', async () => {
    respond = () => ({
      status: 200,
      body: orderObject({
        amount: { total: 300, payer_total: 2100, currency: 'USD', payer_currency: 'CNY' },
        new_field: { anything: true },
      }),
    });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toMatchObject({
      currency: 'USD',
      totalFen: 300,
      payerTotalFen: 2100,
    });
  });

  it('a verified reply with a wrongly typed field goes to a human', async () => {
    respond = () => ({ status: 200, body: orderObject({ amount: { total: '300', currency: 'CNY' } }) });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect((e as NeedsOperator).code).toBe('UNEXPECTED_RESPONSE');
    expect(e.message).toContain('amount.total');
  });

  it.each([
    ['success_time without offset', { success_time: '2024-01-01 10:00:00' }, 'success_time'],
    ['lower-case currency', { amount: { total: 300, currency: 'usd' } }, 'amount.currency'],
    ['no merchant', { mchid: undefined }, 'mchid'],
  ])('%s is refused (NeedsOperator naming the field)', async (_n, change, field) => {
    respond = () => ({ status: 200, body: orderObject(change) });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain(field);
  });

  it('a verified reply about another order is never adopted', async () => {
    respond = () => ({ status: 200, body: orderObject({ out_trade_no: 'T20240101000002' }) });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect((e as NeedsOperator).code).toBe('RESPONSE_MISMATCH');
    expect(e.message).toContain('out_trade_no: T20240101000002');
    respond = () => ({ status: 200, body: orderObject({ mchid: '1900000999' }) });
    expect(await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }))).toMatchObject({
      code: 'RESPONSE_MISMATCH',
    });
  });
});

describe('v3 query order, partner mode', () => {
  it('by out_trade_no: /v3/pay/partner/transactions/…?sp_mchid=&sub_mchid=, signed as the service provider', async () => {
    respond = () => ({ status: 200, body: partnerOrder() });
    const record = await partnerGateway().queryOrder({ outTradeNo: OUT_TRADE_NO, subMchid: SUB_MCHID });
    const [req] = server.requests;
    expect(req.url).toBe(
      `/v3/pay/partner/transactions/out-trade-no/${OUT_TRADE_NO}?sp_mchid=${SP_MCHID}&sub_mchid=${SUB_MCHID}`,
    );
    expect(req.auth?.mchid).toBe(SP_MCHID);
    expect(req.authValid).toBe(true);
    expect(record).toEqual({
      mchid: SP_MCHID,
      subMchid: SUB_MCHID,
      outTradeNo: OUT_TRADE_NO,
      transactionId: TRANSACTION_ID,
      tradeState: 'SUCCESS',
      bankType: 'CMB_DEBIT',
      successTime: '2024-01-01T10:00:00+08:00',
      totalFen: 300,
      payerTotalFen: 300,
      currency: 'CNY',
      apiVersion: 'v3',
    });
  });

  it('by transaction_id, with the default sub-merchant', async () => {
    respond = () => ({ status: 200, body: partnerOrder() });
    await partnerGateway({ defaultSubMchid: SUB_MCHID }).queryOrder({ transactionId: TRANSACTION_ID });
    expect(server.requests[0].url).toBe(
      `/v3/pay/partner/transactions/id/${TRANSACTION_ID}?sp_mchid=${SP_MCHID}&sub_mchid=${SUB_MCHID}`,
    );
    expect(server.requests[0].authValid).toBe(true);
  });

  it('a reply naming another sub-merchant is refused', async () => {
    respond = () => ({ status: 200, body: partnerOrder({ sub_mchid: '1900000222' }) });
    const e = await thrown(partnerGateway().queryOrder({ outTradeNo: OUT_TRADE_NO, subMchid: SUB_MCHID }));
    expect(e).toMatchObject({ code: 'RESPONSE_MISMATCH' });
    expect(e.message).toContain('sub_mchid');
  });

  it('a partner reply without sub_mchid is malformed', async () => {
    respond = () => ({ status: 200, body: partnerOrder({ sub_mchid: undefined }) });
    const e = await thrown(partnerGateway().queryOrder({ outTradeNo: OUT_TRADE_NO, subMchid: SUB_MCHID }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain('sub_mchid: is required in partner mode');
  });
});

describe('v3 query order: not found, errors, verification', () => {
  it.each(['ORDER_NOT_EXIST', 'RESOURCE_NOT_EXISTS'])('404 %s → null', async (code) => {
    respond = () => ({ status: 404, body: { code, message: '订单不存在' } });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toBeNull();
    respond = () => ({ status: 404, body: { code, message: '订单不存在' } });
    await expect(
      partnerGateway().queryOrder({ transactionId: TRANSACTION_ID, subMchid: SUB_MCHID }),
    ).resolves.toBeNull();
  });

  it.each([
    ['404 with an empty body (wrong path)', { status: 404 }, NeedsOperator, 'HTTP_404'],
    [
      '404 MCH_NOT_EXISTS',
      { status: 404, body: { code: 'MCH_NOT_EXISTS', message: '商户号不存在' } },
      NeedsOperator,
      'MCH_NOT_EXISTS',
    ],
    [
      '400 PARAM_ERROR',
      { status: 400, body: { code: 'PARAM_ERROR', message: '参数错误' } },
      NeedsOperator,
      'PARAM_ERROR',
    ],
    ['401 SIGN_ERROR', { status: 401, body: { code: 'SIGN_ERROR', message: '签名错误' } }, NeedsOperator, 'SIGN_ERROR'],
    [
      '429 FREQUENCY_LIMITED',
      { status: 429, body: { code: 'FREQUENCY_LIMITED', message: '频率限制' } },
      Throttled,
      'FREQUENCY_LIMITED',
    ],
    [
      '500 SYSTEM_ERROR',
      { status: 500, body: { code: 'SYSTEM_ERROR', message: '系统错误' } },
      RetrySame,
      'SYSTEM_ERROR',
    ],
    ['502 without body', { status: 502 }, RetrySame, 'SERVICE_UNAVAILABLE'],
    ['202 accepted', { status: 202 }, RetrySame, 'ACCEPTED'],
  ] as const)('%s → usual class', async (_n, reply, cls, code) => {
    respond = () => reply as Reply;
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(cls);
    expect((e as RetrySame).code).toBe(code);
  });

  it('a 404 ORDER_NOT_EXIST outside the order query is Final, not "null"', async () => {
    respond = () => ({ status: 404, body: { code: 'ORDER_NOT_EXIST', message: '订单不存在' } });
    const e = await thrown(
      gateway().createRefund({ outRefundNo: 'R1', outTradeNo: OUT_TRADE_NO, refundFen: 100, totalFen: 300 }),
    );
    expect(e).toBeInstanceOf(Final);
  });

  it.each([
    ['unsigned', 'none', 'UNVERIFIABLE_RESPONSE_MISSING_HEADERS'],
    ['SIGNTEST probe', 'signtest', 'UNVERIFIABLE_RESPONSE_SIGNTEST_PROBE'],
    ['stale timestamp', 'stale', 'UNVERIFIABLE_RESPONSE_STALE_TIMESTAMP'],
    ['wrong key for the serial', 'wrongKey', 'UNVERIFIABLE_RESPONSE_BAD_SIGNATURE'],
  ] as const)('reply %s: UnknownOutcome, as for the refund query', async (_n, sign, code) => {
    respond = () => ({ status: 200, body: orderObject(), sign });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe(code);
    respond = () => ({ status: 200, body: refundObject(), sign });
    const q = await thrown(gateway().queryRefund({ outRefundNo: 'R20240101000001' }));
    expect(q).toBeInstanceOf(UnknownOutcome);
    expect((q as UnknownOutcome).code).toBe(code);
  });

  it('a reset connection is UnknownOutcome (a query: simply retried)', async () => {
    respond = () => ({ status: 200, destroy: true });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe('NETWORK_ERROR');
  });
});

describe('v3 query order input validation happens before any network call', () => {
  it.each([
    ['no order id', () => gateway().queryOrder({}), 'one of transaction_id or out_trade_no is required'],
    ['a short out_trade_no', () => gateway().queryOrder({ outTradeNo: 'T1' }), 'out_trade_no: must be 6-32'],
    [
      'a transaction_id with "/"',
      () => gateway().queryOrder({ transactionId: '42/../x' }),
      'transaction_id: must be 1-32 letters or digits',
    ],
    [
      'sub_mchid in direct mode',
      () => gateway().queryOrder({ outTradeNo: OUT_TRADE_NO, subMchid: SUB_MCHID }),
      'sub_mchid: only allowed in partner mode',
    ],
    [
      'partner mode without sub_mchid',
      () => partnerGateway().queryOrder({ outTradeNo: OUT_TRADE_NO }),
      'sub_mchid: is required in partner mode',
    ],
  ])('%s', async (_n, call, message) => {
    const e = await thrown(call());
    expect(e).toBeInstanceOf(InvalidRequest);
    expect(e.message).toContain(message);
    expect(server.requests).toHaveLength(0);
  });
});

describe('v3 refund replies: currency and merchant as WeChat wrote them', () => {
  const createInput = { outRefundNo: 'R20240101000001', outTradeNo: OUT_TRADE_NO, refundFen: 100, totalFen: 300 };
  const usd = () => refundObject({ amount: { ...(refundObject().amount as object), currency: 'USD' } });

  it('a refund reply with currency "USD" parses and reports "USD" (the request still says CNY)', async () => {
    respond = () => ({ status: 200, body: usd() });
    const created = await gateway().createRefund(createInput);
    expect(created.amounts.currency).toBe('USD');
    expect(server.requests[0].json).toMatchObject({ amount: { currency: 'CNY' } });
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toMatchObject({
      amounts: { currency: 'USD' },
    });
  });

  it('a currency that is not a code is refused', async () => {
    respond = () => ({
      status: 200,
      body: refundObject({ amount: { ...(refundObject().amount as object), currency: '' } }),
    });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain('amount.currency');
  });

  it('direct replies name no merchant; partner replies carry sub_mchid', async () => {
    respond = () => ({ status: 200, body: refundObject() });
    const direct = await gateway().createRefund(createInput);
    expect(direct.mchid).toBeUndefined();
    expect(direct.subMchid).toBeUndefined();
    respond = () => ({ status: 200, body: refundObject({ sub_mchid: SUB_MCHID }) });
    const partner = await partnerGateway().queryRefund({ outRefundNo: 'R20240101000001', subMchid: SUB_MCHID });
    expect(partner).toMatchObject({ subMchid: SUB_MCHID });
    expect(partner?.mchid).toBeUndefined();
  });
});
