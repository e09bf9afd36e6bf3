import { z } from 'zod';
import { formatZodError } from '../../../src/wechatpay/schema-rules';
import {
  v2NotificationEnvelopeSchema,
  v2RefundNotificationInfoSchema,
  v2RefundQueryRequestSchema,
  v2RefundQueryResponseSchema,
  v2RefundRequestSchema,
  v2RefundResponseSchema,
  v2RefundV2RequestSchema,
} from '../../../src/wechatpay/v2/schemas';
import {
  v3ApplyAbnormalRefundRequestSchema,
  v3CertificatesResponseSchema,
  v3CreateRefundRequestSchema,
  v3NotificationEnvelopeSchema,
  v3QueryRefundRequestSchema,
  v3RefundNotificationResourceSchema,
  v3RefundResponseSchema,
} from '../../../src/wechatpay/v3/schemas';

function errors(schema: z.ZodType, value: unknown): string {
  const r = schema.safeParse(value);
  if (r.success) throw new Error(`expected failure for ${JSON.stringify(value)}`);
  return formatZodError(r.error);
}

const createOk = {
  out_trade_no: '1217752501201407033233368018',
  out_refund_no: '1217752501201407033233368018',
  reason: '商品已售完',
  notify_url: 'https://weixin.qq.com',
  amount: { refund: 888, total: 888, currency: 'CNY', from: [{ account: 'AVAILABLE', amount: 444 }] },
  goods_detail: [
    {
      merchant_goods_id: '1217752501201407033233368018',
      goods_name: '充电宝',
      unit_price: 528800,
      refund_amount: 528800,
      refund_quantity: 1,
    },
  ],
};

describe('v3 request schemas', () => {
  it('accepts the official create example (partner fields optional)', () => {
    expect(v3CreateRefundRequestSchema.parse(createOk)).toMatchObject({ out_refund_no: createOk.out_refund_no });
    expect(v3CreateRefundRequestSchema.parse({ ...createOk, sub_mchid: '1900000109' }).sub_mchid).toBe('1900000109');
  });

  it.each([
    [
      'amount.refund',
      { amount: { ...createOk.amount, refund: 1.5 } },
      'amount.refund: must be a positive integer number of fen',
    ],
    [
      'amount.refund zero',
      { amount: { ...createOk.amount, refund: 0 } },
      'amount.refund: must be a positive integer number of fen',
    ],
    [
      'amount.total unsafe',
      { amount: { ...createOk.amount, total: 2 ** 53 } },
      'amount.total: must be a positive integer number of fen',
    ],
    [
      'amount.total string',
      { amount: { ...createOk.amount, total: '888' } },
      'amount.total: must be a positive integer number of fen',
    ],
    ['amount.currency', { amount: { ...createOk.amount, currency: 'USD' } }, "amount.currency: must be 'CNY'"],
    ['out_refund_no charset', { out_refund_no: 'R 1' }, 'out_refund_no: must be 1-64 characters of [0-9A-Za-z_-|*@]'],
    ['out_refund_no length', { out_refund_no: 'R'.repeat(65) }, 'out_refund_no: must be 1-64 characters'],
    ['out_trade_no length', { out_trade_no: '12345' }, 'out_trade_no: must be 6-32 characters'],
    ['out_trade_no @', { out_trade_no: '123456@' }, 'out_trade_no: must be 6-32 characters of [0-9A-Za-z_-|*]'],
    ['reason', { reason: '退'.repeat(81) }, 'reason: must be at most 80 characters'],
    ['notify_url query', { notify_url: 'https://a.example/cb?x=1' }, 'notify_url: must be an http(s) URL'],
    ['funds_account', { funds_account: 'BASIC' }, 'funds_account: must be AVAILABLE or UNSETTLED'],
    ['from account', { amount: { ...createOk.amount, from: [{ account: 'X', amount: 1 }] } }, 'amount.from.0.account'],
    [
      'goods refund_quantity',
      { goods_detail: [{ ...createOk.goods_detail[0], refund_quantity: 0 }] },
      'goods_detail.0.refund_quantity',
    ],
  ])('rejects a bad %s and names the field', (_n, change, message) => {
    expect(errors(v3CreateRefundRequestSchema, { ...createOk, ...change })).toContain(message);
  });

  it('requires out_refund_no and amount, and one of transaction_id / out_trade_no', () => {
    expect(errors(v3CreateRefundRequestSchema, { amount: createOk.amount, out_trade_no: '123456' })).toContain(
      'out_refund_no: is required',
    );
    const noOrder = { ...createOk, out_trade_no: undefined };
    expect(errors(v3CreateRefundRequestSchema, noOrder)).toContain('one of transaction_id or out_trade_no is required');
  });

  it('accepts out_refund_no with every allowed special character', () => {
    expect(v3CreateRefundRequestSchema.safeParse({ ...createOk, out_refund_no: 'a_b-c|d*e@f' }).success).toBe(true);
  });

  it('validates the query path/query parameters', () => {
    expect(errors(v3QueryRefundRequestSchema, { out_refund_no: '', sub_mchid: 'abc' })).toMatch(
      /out_refund_no: .*; sub_mchid: must be 1-32 digits/,
    );
  });

  it('requires bank fields for USER_BANK_CARD abnormal refunds', () => {
    const msg = errors(v3ApplyAbnormalRefundRequestSchema, { out_refund_no: 'R1', type: 'USER_BANK_CARD' });
    expect(msg).toContain('bank_type: is required for USER_BANK_CARD');
    expect(msg).toContain('bank_account: is required for USER_BANK_CARD');
    expect(msg).toContain('real_name: is required for USER_BANK_CARD');
    expect(
      errors(v3ApplyAbnormalRefundRequestSchema, {
        out_refund_no: 'R1',
        type: 'USER_BANK_CARD',
        bank_type: 'VISA',
        bank_account: 'x',
        real_name: 'y',
      }),
    ).toContain('bank_type: must be one of CMB_DEBIT');
    expect(
      v3ApplyAbnormalRefundRequestSchema.safeParse({ out_refund_no: 'R1', type: 'MERCHANT_BANK_CARD' }).success,
    ).toBe(true);
  });
});

const refundObject = {
  refund_id: '50000000382019052709732678859',
  out_refund_no: '1217752501201407033233368018',
  transaction_id: '1217752501201407033233368018',
  out_trade_no: '1217752501201407033233368018',
  channel: 'ORIGINAL',
  user_received_account: '招商银行信用卡0403',
  success_time: '2020-12-01T16:18:12+08:00',
  create_time: '2020-12-01T16:18:12+08:00',
  status: 'SUCCESS',
  funds_account: 'UNSETTLED',
  amount: {
    total: 100,
    refund: 100,
    payer_total: 90,
    payer_refund: 90,
    settlement_refund: 100,
    settlement_total: 100,
    discount_refund: 10,
    currency: 'CNY',
    refund_fee: 1,
    from: [{ account: 'AVAILABLE', amount: 100 }],
  },
  promotion_detail: [
    {
      promotion_id: '109519',
      scope: 'SINGLE',
      type: 'DISCOUNT',
      amount: 5,
      refund_amount: 100,
      goods_detail: [{ merchant_goods_id: '1', unit_price: 100, refund_amount: 100, refund_quantity: 1 }],
    },
  ],
  some_future_field: 'ignored',
};

describe('v3 response and notification schemas', () => {
  it('parses the Refund object and drops unknown fields', () => {
    const r = v3RefundResponseSchema.parse(refundObject);
    expect(r.amount.discount_refund).toBe(10);
    expect('some_future_field' in r).toBe(false);
  });

  it('takes a reply currency as WeChat wrote it (a code), while requests stay CNY-only', () => {
    const usd = { ...refundObject, amount: { ...refundObject.amount, currency: 'USD' } };
    expect(v3RefundResponseSchema.parse(usd).amount.currency).toBe('USD');
    for (const currency of ['', 'usd', 'US DOLLAR', 'X'.repeat(17), 840]) {
      expect(
        errors(v3RefundResponseSchema, { ...refundObject, amount: { ...refundObject.amount, currency } }),
      ).toContain('amount.currency: must be a currency code');
    }
    expect(
      errors(v3CreateRefundRequestSchema, { ...createOk, amount: { ...createOk.amount, currency: 'USD' } }),
    ).toContain("amount.currency: must be 'CNY'");
  });

  it('tolerates a missing amount.refund_fee (older replies) but not an unknown status', () => {
    const { refund_fee: _drop, ...amount } = refundObject.amount;
    expect(v3RefundResponseSchema.safeParse({ ...refundObject, amount }).success).toBe(true);
    expect(errors(v3RefundResponseSchema, { ...refundObject, status: 'REVERSED' })).toContain('status: must be one of');
  });

  it('parses the notification envelope and resource, accepting the CLOSE alias', () => {
    const envelope = {
      id: 'EV-2018022511223320873',
      create_time: '2018-06-08T10:34:56+08:00',
      resource_type: 'encrypt-resource',
      event_type: 'REFUND.SUCCESS',
      summary: '退款成功',
      resource: {
        original_type: 'refund',
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: 'abc',
        associated_data: '',
        nonce: '123456789012',
      },
    };
    expect(v3NotificationEnvelopeSchema.parse(envelope).resource.associated_data).toBe('');
    expect(errors(v3NotificationEnvelopeSchema, { ...envelope, event_type: 'TRANSACTION.SUCCESS' })).toContain(
      'event_type',
    );
    const resource = {
      mchid: '1900000100',
      transaction_id: '1008450740201411110005820873',
      out_trade_no: '20150806125346',
      refund_id: '50200207182018070300011301001',
      out_refund_no: '7752501201407033233368018',
      refund_status: 'CLOSE',
      user_received_account: '招商银行信用卡0403',
      amount: { total: 999, refund: 999, payer_total: 999, payer_refund: 999 },
    };
    expect(v3RefundNotificationResourceSchema.parse(resource).refund_status).toBe('CLOSE');
    expect(errors(v3RefundNotificationResourceSchema, { ...resource, mchid: undefined })).toContain(
      'mchid: one of mchid',
    );
  });

  it('parses the certificate list', () => {
    const list = {
      data: [
        {
          serial_no: '5157F09E',
          effective_time: '2018-06-08T10:34:56+08:00',
          expire_time: '2023-06-08T10:34:56+08:00',
          encrypt_certificate: {
            algorithm: 'AEAD_AES_256_GCM',
            nonce: '61f9fcc8e8ed',
            associated_data: 'certificate',
            ciphertext: 'xx',
          },
        },
      ],
    };
    expect(v3CertificatesResponseSchema.parse(list).data).toHaveLength(1);
    expect(
      errors(v3CertificatesResponseSchema, {
        data: [{ ...list.data[0], encrypt_certificate: { ...list.data[0].encrypt_certificate, algorithm: 'AES' } }],
      }),
    ).toContain("data.0.encrypt_certificate.algorithm: must be 'AEAD_AES_256_GCM'");
  });
});

const v2Base = {
  appid: 'wx2421b1c4370ec43b',
  mch_id: '10000100',
  nonce_str: '6cefdb308e1e2e8aabd48cf79e546a02',
  sign: 'FE56DD4AA85C0EECA82C35595A69E153',
};

describe('v2 schemas (XML text in, numbers out)', () => {
  it('accepts a refund request from parsed XML strings and converts amounts', () => {
    const r = v2RefundRequestSchema.parse({
      ...v2Base,
      out_refund_no: '1415701182',
      out_trade_no: '1415757673',
      total_fee: '1',
      refund_fee: '1',
    });
    expect(r.total_fee).toBe(1);
  });

  it.each([
    ['refund_fee decimal', { refund_fee: '1.5' }, 'refund_fee: must be a positive integer number of fen'],
    ['total_fee missing', { total_fee: undefined }, 'total_fee: is required'],
    ['refund_desc', { refund_desc: 'x'.repeat(81) }, 'refund_desc: must be at most 80 characters'],
    ['sign_type', { sign_type: 'SHA1' }, 'sign_type: must be MD5 or HMAC-SHA256'],
    ['refund_account', { refund_account: 'OTHER' }, 'refund_account: must be REFUND_SOURCE_UNSETTLED_FUNDS'],
    ['refund_fee_type', { refund_fee_type: 'USD' }, "refund_fee_type: must be 'CNY'"],
    ['nonce_str', { nonce_str: 'n'.repeat(33) }, 'nonce_str: must be 1-32 characters'],
  ])('rejects a bad %s and names the field', (_n, change, message) => {
    const base = { ...v2Base, out_refund_no: 'R1', out_trade_no: '1415757673', total_fee: '2', refund_fee: '1' };
    expect(errors(v2RefundRequestSchema, { ...base, ...change })).toContain(message);
  });

  it('validates the refundv2 detail JSON and names the inner field', () => {
    const base = { ...v2Base, out_refund_no: 'R1', transaction_id: '4200000001', total_fee: '2', refund_fee: '1' };
    const detail = JSON.stringify({
      goods_detail: [{ goods_id: 'G1', refund_amount: 1, refund_quantity: 1, price: 1 }],
    });
    expect(v2RefundV2RequestSchema.safeParse({ ...base, detail }).success).toBe(true);
    expect(
      errors(v2RefundV2RequestSchema, {
        ...base,
        detail: '{"goods_detail":[{"goods_id":"G1","refund_amount":0,"refund_quantity":1,"price":1}]}',
      }),
    ).toContain('detail.goods_detail.0.refund_amount: must be a positive integer number of fen');
    expect(errors(v2RefundV2RequestSchema, { ...base, detail: 'not json' })).toContain('detail: must be a JSON string');
  });

  it('requires one of the four ids on refund query', () => {
    expect(errors(v2RefundQueryRequestSchema, v2Base)).toContain(
      'one of refund_id, out_refund_no, transaction_id or out_trade_no',
    );
    expect(
      v2RefundQueryRequestSchema.safeParse({ ...v2Base, refund_id: '50000000382019052709732678859' }).success,
    ).toBe(true);
  });

  it('parses a refund reply with its $n coupons', () => {
    const reply = {
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: 'wx1',
      mch_id: '1',
      transaction_id: '42',
      out_trade_no: 'T123456',
      out_refund_no: 'R1',
      refund_id: '50',
      refund_fee: '100',
      total_fee: '300',
      cash_fee: '290',
      coupon_refund_fee: '10',
      coupon_refund_count: '1',
      coupon_type_0: 'CASH',
      coupon_refund_fee_0: '10',
      coupon_refund_id_0: 'C1',
    };
    const r = v2RefundResponseSchema.parse(reply);
    expect(r.coupons).toEqual([{ coupon_type: 'CASH', coupon_refund_fee: 10, coupon_refund_id: 'C1' }]);
    expect(errors(v2RefundResponseSchema, { ...reply, cash_fee: '-1' })).toContain('cash_fee');
  });

  it('parses a refund query reply into a list and reports per-refund problems with their index', () => {
    const reply = {
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      transaction_id: '42',
      out_trade_no: 'T123456',
      total_fee: '300',
      cash_fee: '300',
      refund_count: '1',
      out_refund_no_0: 'R1',
      refund_id_0: '50',
      refund_fee_0: '100',
      refund_status_0: 'NOTSURE',
      refund_success_time_0: '2024-01-01 12:00:00',
    };
    expect(v2RefundQueryResponseSchema.parse(reply).refunds[0]).toMatchObject({
      out_refund_no: 'R1',
      refund_fee: 100,
      refund_status: 'NOTSURE',
      coupons: [],
    });
    expect(errors(v2RefundQueryResponseSchema, { ...reply, refund_status_0: 'WEIRD' })).toContain(
      'refunds.0.refund_status',
    );
    expect(errors(v2RefundQueryResponseSchema, { ...reply, refund_count: '2' })).toContain(
      'refunds: refund_count is 2',
    );
  });

  it('parses the notification envelope and the decrypted req_info', () => {
    expect(errors(v2NotificationEnvelopeSchema, { return_code: 'SUCCESS', appid: 'wx', mch_id: '1' })).toContain(
      'req_info',
    );
    expect(v2NotificationEnvelopeSchema.parse({ return_code: 'FAIL', return_msg: 'x' }).return_code).toBe('FAIL');
    const info = {
      transaction_id: '42',
      out_trade_no: 'T1',
      refund_id: '50',
      out_refund_no: 'R1',
      total_fee: '300',
      refund_fee: '100',
      refund_status: 'REFUNDCLOSE',
    };
    expect(v2RefundNotificationInfoSchema.parse(info).refund_fee).toBe(100);
    expect(errors(v2RefundNotificationInfoSchema, { ...info, success_time: '2024-01-01T12:00:00' })).toContain(
      'success_time: must be a time as yyyy-MM-dd HH:mm:ss',
    );
  });
});
