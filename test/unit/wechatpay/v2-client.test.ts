import { createCertificateAuthority, issueCertificate } from '../../../src/pki';
import {
  Final,
  InvalidRequest,
  NeedsOperator,
  RetrySame,
  Throttled,
  UnknownOutcome,
} from '../../../src/wechatpay/errors';
import { createV2Gateway, V2Gateway, V2GatewayConfigInput } from '../../../src/wechatpay/v2/gateway';
import { buildIndexedFields } from '../../../src/wechatpay/v2/indexed-fields';
import { signV2 } from '../../../src/wechatpay/v2/sign';
import { FakeV2, startFakeV2, V2_API_KEY, V2Recorded, V2Reply } from './helpers/fake-v2-server';
import { refundToCreate, thrown } from './helpers/gateway-calls';
import { testKeys } from './helpers/wechat-keys';

const k = testKeys();
let server: FakeV2;
let gateways: V2Gateway[] = [];
let respond: (req: V2Recorded) => V2Reply;

const APPID = 'wx2421b1c4370ec43b';
const MCH_ID = '10000100';

const acceptedRefund = (req: V2Recorded): V2Reply => ({
  fields: {
    result_code: 'SUCCESS',
    appid: APPID,
    mch_id: MCH_ID,
    nonce_str: 'NfsMFbUFpdbEhPXP',
    transaction_id: '4200000001202401010000000001',
    out_trade_no: 'T20240101000001',
    out_refund_no: req.fields.out_refund_no,
    refund_id: '50000000382019052709732678859',
    refund_fee: req.fields.refund_fee,
    total_fee: req.fields.total_fee,
    cash_fee: req.fields.total_fee,
    cash_refund_fee: req.fields.refund_fee,
    settlement_refund_fee: req.fields.refund_fee,
    coupon_refund_fee: 0,
    coupon_refund_count: 0,
  },
});

beforeAll(async () => {
  server = await startFakeV2((req) => respond(req));
});
afterAll(async () => server.close());
beforeEach(() => {
  server.requests.length = 0;
  respond = acceptedRefund;
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

const createInput = refundToCreate('https://merchant.example/v2/refund');

describe('v2 refund over mutual TLS', () => {
  it('presents the merchant certificate, signs with MD5 and maps the accepted reply to PROCESSING', async () => {
    const record = await gateway().createRefund(createInput);
    const [req] = server.requests;
    expect(req.path).toBe('/secapi/pay/refund');
    expect(req.clientCertCN).toBe('1900000109');
    expect(req.signValid).toBe(true);
    expect(req.fields).toEqual({
      appid: APPID,
      mch_id: MCH_ID,
      nonce_str: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      sign_type: 'MD5',
      out_trade_no: 'T20240101000001',
      out_refund_no: 'R20240101000001',
      total_fee: '300',
      refund_fee: '100',
      refund_fee_type: 'CNY',
      refund_desc: '退货',
      notify_url: 'https://merchant.example/v2/refund',
      sign: signV2({ ...req.fields }, V2_API_KEY),
    });
    expect(record).toEqual({
      outRefundNo: 'R20240101000001',
      mchid: MCH_ID,
      outTradeNo: 'T20240101000001',
      transactionId: '4200000001202401010000000001',
      refundId: '50000000382019052709732678859',
      status: 'PROCESSING',
      channel: 'UNKNOWN',
      amounts: {
        totalFen: 300,
        refundFen: 100,
        payerTotalFen: 300,
        payerRefundFen: 100,
        settlementRefundFen: 100,
        settlementTotalFen: undefined,
        discountRefundFen: 0,
        currency: 'CNY',
      },
      apiVersion: 'v2',
    });
  });

  it('signs with HMAC-SHA256 and checks the reply with the same algorithm even when it does not echo sign_type', async () => {
    await gateway({ signType: 'HMAC-SHA256' }).createRefund(createInput);
    const { fields } = server.requests[0];
    expect(fields.sign_type).toBe('HMAC-SHA256');
    expect(fields.sign).toHaveLength(64);
    expect(server.requests[0].signValid).toBe(true);
  });

  it('sends single-item refunds to /secapi/pay/refundv2 with the detail JSON', async () => {
    respond = (req) => {
      const r = acceptedRefund(req);
      return {
        fields: { ...r.fields, promotion_detail: '[{"promotion_id":"109519","scope":"SINGLE","type":"DISCOUNT"}]' },
      };
    };
    await gateway().createRefund({
      ...createInput,
      goodsDetail: [
        { merchantGoodsId: 'G1', goodsName: '充电宝', unitPriceFen: 100, refundAmountFen: 100, refundQuantity: 1 },
      ],
    });
    const [req] = server.requests;
    expect(req.path).toBe('/secapi/pay/refundv2');
    expect(JSON.parse(req.fields.detail)).toEqual({
      goods_detail: [{ goods_id: 'G1', goods_name: '充电宝', refund_amount: 100, refund_quantity: 1, price: 100 }],
    });
  });

  it('partner mode sends sub_mch_id and sub_appid', async () => {
    await gateway({ mode: 'partner', subAppid: 'wx8888888888888888', defaultSubMchid: '1900000111' }).createRefund(
      createInput,
    );
    expect(server.requests[0].fields).toMatchObject({ sub_mch_id: '1900000111', sub_appid: 'wx8888888888888888' });
  });

  it('a client certificate the server does not trust: the server hangs up, nothing is processed, outcome unknown', async () => {
    // Node's TLS server closes the socket after the handshake instead of sending an alert, which the client cannot
    // tell from a network failure. (A real TLS alert is classified as CERT_ERROR: see error-map.test.ts.)
    const strangerCa = createCertificateAuthority();
    const stranger = issueCertificate(strangerCa, { subject: { commonName: 'stranger' }, usage: ['clientAuth'] });
    const e = await thrown(
      gateway({ clientCertificate: stranger.certPem, clientPrivateKey: stranger.privateKeyPem }).createRefund(
        createInput,
      ),
    );
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect(server.requests).toHaveLength(0);
  });

  it('a server certificate we do not trust is reported, not retried blindly', async () => {
    const e = await thrown(gateway({ caCertificate: undefined }).createRefund(createInput));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect((e as NeedsOperator).code).toBe('TLS_SERVER_CERTIFICATE');
  });
});

describe('v2 reply checks and error classes', () => {
  it.each([
    ['unsigned', { sign: 'none' as const }],
    ['wrongly signed', { sign: 'wrong' as const }],
  ])('an %s SUCCESS reply is UnknownOutcome', async (_n, change) => {
    respond = (req) => ({ ...acceptedRefund(req), ...change });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe('UNVERIFIABLE_RESPONSE_BAD_SIGNATURE');
  });

  it('return_code FAIL is NeedsOperator with return_msg', async () => {
    respond = () => ({ fields: { return_code: 'FAIL', return_msg: '签名错误' } });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain('签名错误');
  });

  it.each([
    ['SYSTEMERROR', RetrySame],
    ['FREQUENCY_LIMITED', Throttled],
    ['NOTENOUGH', NeedsOperator],
    ['ERROR', Final],
  ])('result_code FAIL err_code %s → %p', async (errCode, cls) => {
    respond = () => ({
      fields: { result_code: 'FAIL', err_code: errCode, err_code_des: '描述', appid: APPID, mch_id: MCH_ID },
    });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(cls);
    expect(e).toMatchObject({ code: errCode, httpStatus: 200 });
  });

  it.each([
    ['HTTP 503', { status: 503, raw: 'busy' }, RetrySame],
    ['malformed XML', { raw: '<xml><return_code>SUCCESS</xml>' }, UnknownOutcome],
    ['a reset connection', { destroy: true }, UnknownOutcome],
  ])('%s', async (_n, reply, cls) => {
    respond = () => reply;
    expect(await thrown(gateway().createRefund(createInput))).toBeInstanceOf(cls);
  });

  it('validates before sending: refund_fee > total_fee and fractional fen never leave the process', async () => {
    const over = await thrown(gateway().createRefund({ ...createInput, refundFen: 301 }));
    expect(over).toBeInstanceOf(InvalidRequest);
    expect(over.message).toContain('refund_fee: must not exceed total_fee');
    const frac = await thrown(gateway().createRefund({ ...createInput, refundFen: 1.5 }));
    expect(frac.message).toContain('refund_fee: must be a positive integer number of fen');
    expect(server.requests).toHaveLength(0);
  });

  it('has no abnormal-refund API: NeedsOperator', async () => {
    const e = await thrown(
      gateway().applyAbnormalRefund({ refundId: '50', outRefundNo: 'R1', type: 'MERCHANT_BANK_CARD' }),
    );
    expect(e).toBeInstanceOf(NeedsOperator);
  });
});

describe('v2 refund query', () => {
  const queryReply =
    (items: Array<Record<string, string | number>>, extra: Record<string, string | number> = {}) =>
    (): V2Reply => ({
      fields: {
        result_code: 'SUCCESS',
        appid: APPID,
        mch_id: MCH_ID,
        transaction_id: '4200000001202401010000000001',
        out_trade_no: 'T20240101000001',
        total_fee: 300,
        cash_fee: 300,
        refund_fee: 150,
        refund_count: items.length,
        ...buildIndexedFields(items.map((fields) => ({ fields }))),
        ...extra,
      },
    });

  it('selects the refund by out_refund_no among several, never by position', async () => {
    respond = queryReply([
      { out_refund_no: 'R-other', refund_id: '50000000000000000001', refund_fee: 50, refund_status: 'SUCCESS' },
      {
        out_refund_no: 'R20240101000001',
        refund_id: '50000000000000000002',
        refund_fee: 100,
        refund_status: 'SUCCESS',
        refund_channel: 'ORIGINAL',
        refund_recv_accout: '支付用户零钱',
        refund_success_time: '2024-01-01 12:00:05',
        coupon_refund_fee: 0,
      },
    ]);
    const record = await gateway().queryRefund({ outRefundNo: 'R20240101000001' });
    expect(server.requests[0].path).toBe('/pay/refundquery');
    expect(server.requests[0].fields.out_refund_no).toBe('R20240101000001');
    expect(record).toEqual({
      outRefundNo: 'R20240101000001',
      mchid: MCH_ID,
      outTradeNo: 'T20240101000001',
      transactionId: '4200000001202401010000000001',
      refundId: '50000000000000000002',
      status: 'SUCCESS',
      channel: 'ORIGINAL',
      userReceivedAccount: '支付用户零钱',
      amounts: {
        totalFen: 300,
        refundFen: 100,
        payerTotalFen: 300,
        settlementRefundFen: undefined,
        settlementTotalFen: undefined,
        discountRefundFen: 0,
        currency: 'CNY',
      },
      successTime: '2024-01-01T12:00:05+08:00',
      apiVersion: 'v2',
    });
  });

  it.each([
    ['PROCESSING', 'PROCESSING'],
    ['SUCCESS', 'SUCCESS'],
    ['REFUNDCLOSE', 'CLOSED'],
    ['FAIL', 'CLOSED'],
    ['CHANGE', 'ABNORMAL'],
    ['NOTSURE', 'NOTSURE'],
  ])('maps refund_status %s to %s (§6.2)', async (v2, internal) => {
    respond = queryReply([
      { out_refund_no: 'R20240101000001', refund_id: '50000000000000000002', refund_fee: 100, refund_status: v2 },
    ]);
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toMatchObject({
      status: internal,
    });
  });

  it('REFUNDNOTEXIST means no refund: null', async () => {
    respond = () => ({
      fields: {
        result_code: 'FAIL',
        err_code: 'REFUNDNOTEXIST',
        err_code_des: 'not exist',
        appid: APPID,
        mch_id: MCH_ID,
      },
    });
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toBeNull();
  });

  it('an unknown refund_status goes to a human', async () => {
    respond = queryReply([
      { out_refund_no: 'R20240101000001', refund_id: '5', refund_fee: 100, refund_status: 'REVERSED' },
    ]);
    const e = await thrown(gateway().queryRefund({ outRefundNo: 'R20240101000001' }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect((e as NeedsOperator).code).toBe('UNRECOGNISED_STATUS');
  });

  it('a reply whose refund_count disagrees with its entries is not trusted as an answer', async () => {
    respond = queryReply(
      [{ out_refund_no: 'R20240101000001', refund_id: '5', refund_fee: 100, refund_status: 'SUCCESS' }],
      { refund_count: 2 },
    );
    expect(await thrown(gateway().queryRefund({ outRefundNo: 'R20240101000001' }))).toBeInstanceOf(NeedsOperator);
  });
});

describe('v2 gateway configuration', () => {
  it('names the bad fields', () => {
    expect(() => gateway({ apiKey: 'short', clientPrivateKey: 'nope.pem' })).toThrow(
      /apiKey: must be the 32-character API v2 key.*clientPrivateKey: cannot read PEM file/,
    );
  });
});
