/**
 * v2 order query (reference §11.2): /pay/orderquery request and sign, time_end (Beijing time) → RFC 3339, ORDERNOTEXIST
 * → null, reply sign checks, error classes; plus the currency and merchant v2 refund replies name.
 */
import { InvalidRequest, NeedsOperator, RetrySame, UnknownOutcome } from '../../../src/wechatpay/errors';
import { createV2Gateway, V2Gateway, V2GatewayConfigInput } from '../../../src/wechatpay/v2/gateway';
import { buildIndexedFields } from '../../../src/wechatpay/v2/indexed-fields';
import { signV2 } from '../../../src/wechatpay/v2/sign';
import { FakeV2, startFakeV2, V2_API_KEY, V2Recorded, V2Reply } from './helpers/fake-v2-server';
import { thrown } from './helpers/gateway-calls';
import { testKeys } from './helpers/wechat-keys';

const k = testKeys();
let server: FakeV2;
let gateways: V2Gateway[] = [];
let respond: (req: V2Recorded) => V2Reply;

const APPID = 'wx2421b1c4370ec43b';
const MCH_ID = '10000100';
const SUB_MCH_ID = '1900000111';
const OUT_TRADE_NO = 'T20261120000001';
const TRANSACTION_ID = '4200000001202611200000000001';

/** A paid order as /pay/orderquery returns it. */
const paidOrder = (extra: Record<string, string | number | undefined> = {}): V2Reply => ({
  fields: {
    return_msg: 'OK',
    result_code: 'SUCCESS',
    appid: APPID,
    mch_id: MCH_ID,
    nonce_str: 'Z3Ssy3hXA4yS1HVn',
    device_info: '',
    openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'CMB_DEBIT',
    total_fee: 300,
    fee_type: 'CNY',
    cash_fee: 280,
    cash_fee_type: 'CNY',
    coupon_fee: 20,
    transaction_id: TRANSACTION_ID,
    out_trade_no: OUT_TRADE_NO,
    attach: '',
    time_end: '20261120100000',
    ...extra,
  },
});

beforeAll(async () => {
  server = await startFakeV2((req) => respond(req));
});
afterAll(async () => server.close());
beforeEach(() => {
  server.requests.length = 0;
  respond = () => paidOrder();
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

function gateway(overrides: Partial<V2GatewayConfigInput> = {}): V2Gateway {
  const g = createV2Gateway(
    {
      baseUrl: server.url,
      appid: APPID,
      mchid: MCH_ID,
      apiKey: V2_API_KEY,
      clientCertificate: k.merchant.certPem,
      clientPrivateKey: k.merchant.privateKeyPem,
      caCertificate: k.ca.certPem,
      timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
      ...overrides,
    },
    { nonce: () => '5K8264ILTKCH16CQ2502SI8ZNMTM67VS' },
  );
  gateways.push(g);
  return g;
}

describe('v2 query order (/pay/orderquery)', () => {
  it('signs the request (MD5), verifies the reply and maps it; time_end becomes +08:00', async () => {
    const record = await gateway().queryOrder({ outTradeNo: OUT_TRADE_NO });
    const [req] = server.requests;
    expect(req.path).toBe('/pay/orderquery');
    expect(req.signValid).toBe(true);
    expect(req.fields).toEqual({
      appid: APPID,
      mch_id: MCH_ID,
      nonce_str: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      sign_type: 'MD5',
      out_trade_no: OUT_TRADE_NO,
      sign: signV2({ ...req.fields }, V2_API_KEY),
    });
    expect(record).toEqual({
      mchid: MCH_ID,
      outTradeNo: OUT_TRADE_NO,
      transactionId: TRANSACTION_ID,
      tradeState: 'SUCCESS',
      bankType: 'CMB_DEBIT',
      successTime: '2026-11-20T10:00:00+08:00',
      totalFen: 300,
      payerTotalFen: 280,
      currency: 'CNY',
      apiVersion: 'v2',
    });
  });

  it('by transaction_id; out_trade_no wins when both are given', async () => {
    await gateway().queryOrder({ transactionId: TRANSACTION_ID });
    expect(server.requests[0].fields).toMatchObject({ transaction_id: TRANSACTION_ID });
    expect(server.requests[0].fields).not.toHaveProperty('out_trade_no');
    await gateway().queryOrder({ outTradeNo: OUT_TRADE_NO, transactionId: TRANSACTION_ID });
    expect(server.requests[1].fields).toMatchObject({ out_trade_no: OUT_TRADE_NO });
    expect(server.requests[1].fields).not.toHaveProperty('transaction_id');
  });

  it('signs with HMAC-SHA256 and checks the reply with the same algorithm', async () => {
    await expect(gateway({ signType: 'HMAC-SHA256' }).queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toMatchObject({
      tradeState: 'SUCCESS',
    });
    expect(server.requests[0].fields.sign_type).toBe('HMAC-SHA256');
    expect(server.requests[0].fields.sign).toHaveLength(64);
    expect(server.requests[0].signValid).toBe(true);
  });

  it('partner mode sends sub_mch_id and sub_appid and reports the sub-merchant', async () => {
    respond = () => paidOrder({ sub_appid: 'wx8888888888888888', sub_mch_id: SUB_MCH_ID });
    const record = await gateway({
      mode: 'partner',
      subAppid: 'wx8888888888888888',
      defaultSubMchid: SUB_MCH_ID,
    }).queryOrder({ outTradeNo: OUT_TRADE_NO });
    expect(server.requests[0].fields).toMatchObject({ sub_mch_id: SUB_MCH_ID, sub_appid: 'wx8888888888888888' });
    expect(record).toMatchObject({ mchid: MCH_ID, subMchid: SUB_MCH_ID });
  });

  it('NOTPAY: no transaction_id, cash_fee, bank_type or time_end; empty elements count as absent; CNY by default', async () => {
    respond = () => ({
      fields: {
        result_code: 'SUCCESS',
        appid: APPID,
        mch_id: MCH_ID,
        nonce_str: 'Z3Ssy3hXA4yS1HVn',
        device_info: '',
        sub_mch_id: '',
        bank_type: '',
        total_fee: 300,
        out_trade_no: OUT_TRADE_NO,
        trade_state: 'NOTPAY',
        trade_state_desc: '订单未支付',
      },
    });
    const record = await gateway().queryOrder({ outTradeNo: OUT_TRADE_NO });
    expect(record).toEqual({
      mchid: MCH_ID,
      outTradeNo: OUT_TRADE_NO,
      tradeState: 'NOTPAY',
      totalFen: 300,
      currency: 'CNY',
      apiVersion: 'v2',
    });
  });

  it('an unpaid order may come back with only out_trade_no and trade_state (documented for trade_state ≠ SUCCESS)', async () => {
    respond = () => ({
      fields: {
        result_code: 'SUCCESS',
        appid: APPID,
        mch_id: MCH_ID,
        nonce_str: 'Z3Ssy3hXA4yS1HVn',
        out_trade_no: OUT_TRADE_NO,
        trade_state: 'CLOSED',
        trade_state_desc: '订单已关闭',
      },
    });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toEqual({
      mchid: MCH_ID,
      outTradeNo: OUT_TRADE_NO,
      tradeState: 'CLOSED',
      totalFen: 0,
      currency: 'CNY',
      apiVersion: 'v2',
    });
  });

  it.each(['SUCCESS', 'REFUND'])('a %s order without total_fee goes to a human', async (state) => {
    respond = () => paidOrder({ trade_state: state, total_fee: undefined });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain(`total_fee: is required when trade_state is ${state}`);
  });

  it('reports the fee_type WeChat wrote (USD)', async () => {
    respond = () => paidOrder({ fee_type: 'USD', cash_fee_type: 'CNY', cash_fee: 2100 });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toMatchObject({
      currency: 'USD',
      payerTotalFen: 2100,
    });
  });

  it('ORDERNOTEXIST → null', async () => {
    respond = () => ({
      fields: {
        result_code: 'FAIL',
        err_code: 'ORDERNOTEXIST',
        err_code_des: '订单不存在',
        appid: APPID,
        mch_id: MCH_ID,
      },
    });
    await expect(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO })).resolves.toBeNull();
  });

  it.each([
    ['unsigned', 'none' as const],
    ['wrongly signed', 'wrong' as const],
  ])('an %s reply is UnknownOutcome (as for refundquery)', async (_n, sign) => {
    respond = () => ({ ...paidOrder(), sign });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe('UNVERIFIABLE_RESPONSE_BAD_SIGNATURE');
  });

  it('a wrongly signed ORDERNOTEXIST is not taken for "no such order"', async () => {
    respond = () => ({
      fields: { result_code: 'FAIL', err_code: 'ORDERNOTEXIST', appid: APPID, mch_id: MCH_ID },
      sign: 'wrong',
    });
    expect(await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }))).toBeInstanceOf(UnknownOutcome);
  });

  it.each([
    ['SYSTEMERROR', RetrySame],
    ['PARAM_ERROR', NeedsOperator],
    ['SOMETHING_NEW', NeedsOperator],
  ])('result_code FAIL err_code %s → %p', async (errCode, cls) => {
    respond = () => ({
      fields: { result_code: 'FAIL', err_code: errCode, err_code_des: '描述', appid: APPID, mch_id: MCH_ID },
    });
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(cls);
    expect(e).toMatchObject({ code: errCode, httpStatus: 200 });
  });

  it.each([
    ['return_code FAIL', { fields: { return_code: 'FAIL', return_msg: '签名错误' } }, NeedsOperator],
    ['HTTP 503', { status: 503, raw: 'busy' }, RetrySame],
    ['a reset connection', { destroy: true }, UnknownOutcome],
  ])('%s', async (_n, reply, cls) => {
    respond = () => reply;
    expect(await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }))).toBeInstanceOf(cls);
  });

  it.each([
    ['time_end in another format', { time_end: '2026-11-20 10:00:00' }, 'time_end: must be a time as yyyyMMddHHmmss'],
    ['total_fee not a number', { total_fee: '3.00' }, 'total_fee'],
    ['a lower-case fee_type', { fee_type: 'usd' }, 'fee_type'],
  ])('%s goes to a human', async (_n, change, message) => {
    respond = () => paidOrder(change);
    const e = await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain(message);
  });

  it('a reply about another order or merchant is never adopted', async () => {
    respond = () => paidOrder({ out_trade_no: 'T20261120000002' });
    expect(await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }))).toMatchObject({
      code: 'RESPONSE_MISMATCH',
    });
    respond = () => paidOrder({ mch_id: '10000999' });
    expect(await thrown(gateway().queryOrder({ outTradeNo: OUT_TRADE_NO }))).toMatchObject({
      code: 'RESPONSE_MISMATCH',
    });
  });

  it('validates before sending', async () => {
    for (const [input, message] of [
      [{}, 'one of transaction_id or out_trade_no is required'],
      [{ outTradeNo: 'T1' }, 'out_trade_no: must be 6-32'],
      [{ outTradeNo: OUT_TRADE_NO, subMchid: SUB_MCH_ID }, 'sub_mch_id: only allowed in partner mode'],
    ] as const) {
      const e = await thrown(gateway().queryOrder(input));
      expect(e).toBeInstanceOf(InvalidRequest);
      expect(e.message).toContain(message);
    }
    expect(server.requests).toHaveLength(0);
  });
});

describe('v2 refund replies: currency and merchant as WeChat wrote them', () => {
  const createInput = { outRefundNo: 'R20240101000001', outTradeNo: 'T20240101000001', refundFen: 100, totalFen: 300 };
  const accepted = (extra: Record<string, string | number> = {}): V2Reply => ({
    fields: {
      result_code: 'SUCCESS',
      appid: APPID,
      mch_id: MCH_ID,
      transaction_id: '4200000001202401010000000001',
      out_trade_no: 'T20240101000001',
      out_refund_no: 'R20240101000001',
      refund_id: '50000000382019052709732678859',
      refund_fee: 100,
      total_fee: 300,
      cash_fee: 300,
      ...extra,
    },
  });
  const queried = (item: Record<string, string | number>, extra: Record<string, string | number> = {}): V2Reply => ({
    fields: {
      result_code: 'SUCCESS',
      appid: APPID,
      mch_id: MCH_ID,
      transaction_id: '4200000001202401010000000001',
      out_trade_no: 'T20240101000001',
      total_fee: 300,
      cash_fee: 300,
      refund_count: 1,
      ...buildIndexedFields([
        {
          fields: {
            out_refund_no: 'R20240101000001',
            refund_id: '50000000382019052709732678859',
            refund_fee: 100,
            refund_status: 'SUCCESS',
            ...item,
          },
        },
      ]),
      ...extra,
    },
  });

  it('create: fee_type USD parses and is reported (the request still says CNY); mch_id/sub_mch_id are kept', async () => {
    respond = () => accepted({ fee_type: 'USD', sub_mch_id: SUB_MCH_ID });
    const record = await gateway({ mode: 'partner', defaultSubMchid: SUB_MCH_ID }).createRefund(createInput);
    expect(server.requests[0].fields.refund_fee_type).toBe('CNY');
    expect(record).toMatchObject({ mchid: MCH_ID, subMchid: SUB_MCH_ID, amounts: { currency: 'USD' } });
  });

  it('create: no fee_type means CNY; direct replies have no sub-merchant', async () => {
    respond = () => accepted();
    const record = await gateway().createRefund(createInput);
    expect(record).toMatchObject({ mchid: MCH_ID, amounts: { currency: 'CNY' } });
    expect(record.subMchid).toBeUndefined();
  });

  it("query: the refund's fee_type_$n wins over the order's fee_type, which wins over the CNY default", async () => {
    respond = () => queried({ fee_type: 'USD' }, { fee_type: 'HKD' });
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toMatchObject({
      mchid: MCH_ID,
      amounts: { currency: 'USD' },
    });
    respond = () => queried({}, { fee_type: 'HKD' });
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toMatchObject({
      amounts: { currency: 'HKD' },
    });
    respond = () => queried({});
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toMatchObject({
      amounts: { currency: 'CNY' },
    });
  });
});
