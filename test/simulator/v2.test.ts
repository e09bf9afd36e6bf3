/**
 * API v2 (reference §5): XML over mutual TLS with the simulator's own CA and merchant certificates, MD5 and
 * HMAC-SHA256 signs, `$n` query fields, WeChat's v2 error codes for the business rules, and v2 faults. Driven by the
 * project's v2 gateway, plus raw requests where the gateway (rightly) refuses to send something broken.
 */
import { Agent, request } from 'undici';
import type { SimulatorHandle } from '../../src/simulator/server';
import { signV2, verifyV2Sign, type V2SignType } from '../../src/wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../../src/wechatpay/v2/xml';
import { parseRefundQueryItems } from '../../src/wechatpay/v2/indexed-fields';
import { DIRECT, PROVIDER, SUB, errorOf, paidOrder, storedSoon, v2Gateway, shareSimulator } from './support';

let sim: SimulatorHandle;

shareSimulator((s) => (sim = s));

interface RawV2Options {
  /** Present this merchant's client certificate (default: the caller's own); null: none. */
  certOf?: string | null;
  mchid?: string;
  signType?: V2SignType;
  apiKey?: string;
  body?: string;
}

async function rawV2(path: string, params: Record<string, string | number | undefined>, opts: RawV2Options = {}) {
  const merchant = sim.manifest.merchants.find((m) => m.mchid === (opts.mchid ?? DIRECT))!;
  const certOwner =
    opts.certOf === null ? undefined : sim.manifest.merchants.find((m) => m.mchid === (opts.certOf ?? merchant.mchid));
  const fields: Record<string, string | number | undefined> = {
    appid: merchant.appid,
    mch_id: merchant.mchid,
    nonce_str: 'nonce0123456789',
    ...(opts.signType ? { sign_type: opts.signType } : {}),
    ...params,
  };
  fields.sign = signV2(fields, opts.apiKey ?? merchant.apiV2Key, opts.signType ?? 'MD5');
  const agent = new Agent({
    connect: {
      ca: sim.manifest.caCertificatePem,
      ...(certOwner ? { cert: certOwner.certificatePem, key: certOwner.privateKeyPem } : {}),
    },
  });
  try {
    const res = await request(`${sim.v2BaseUrl}${path}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'text/xml' },
      body: opts.body ?? buildV2Xml(fields),
    });
    expect(res.statusCode).toBe(200);
    const reply = parseV2Xml(await res.body.text());
    if (reply.return_code === 'SUCCESS')
      expect(verifyV2Sign(reply, merchant.apiV2Key, opts.signType ?? 'MD5')).toBe(true);
    return reply;
  } finally {
    await agent.close();
  }
}

const refundParams = (order: { outTradeNo: string; totalFen: number }, outRefundNo: string, refundFee = 100) => ({
  out_trade_no: order.outTradeNo,
  out_refund_no: outRefundNo,
  total_fee: order.totalFen,
  refund_fee: refundFee,
});

describe('mutual TLS on /secapi/*', () => {
  it('refuses a refund without a client certificate (return_code=FAIL, CERT_ERROR) and stores nothing', async () => {
    const order = await paidOrder(sim);
    const reply = await rawV2('/secapi/pay/refund', refundParams(order, 'R2-NOCERT'), { certOf: null });
    expect(reply).toMatchObject({ return_code: 'FAIL', return_msg: expect.stringContaining('CERT_ERROR') });
    expect(await sim.admin.refunds()).toHaveLength(0);
  });

  it("refuses another merchant's certificate", async () => {
    const order = await paidOrder(sim);
    const reply = await rawV2('/secapi/pay/refund', refundParams(order, 'R2-WRONGCERT'), { certOf: PROVIDER });
    expect(reply).toMatchObject({
      return_code: 'FAIL',
      return_msg: expect.stringContaining('not an API certificate of 1900000109'),
    });
  });

  it('accepts the merchant certificate, and serves /pay/refundquery with or without one', async () => {
    const order = await paidOrder(sim);
    const created = await rawV2('/secapi/pay/refund', refundParams(order, 'R2-CERT'));
    expect(created).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS', out_refund_no: 'R2-CERT' });
    for (const certOf of [null, undefined]) {
      const q = await rawV2('/pay/refundquery', { out_refund_no: 'R2-CERT' }, { certOf });
      expect(q).toMatchObject({
        result_code: 'SUCCESS',
        refund_count: '1',
        out_refund_no_0: 'R2-CERT',
        refund_status_0: 'PROCESSING',
      });
    }
  });
});

describe('signs', () => {
  it.each(['MD5', 'HMAC-SHA256'] as const)(
    'serves the project gateway with %s and signs replies the same way',
    async (signType) => {
      const gw = v2Gateway(sim, DIRECT, { signType });
      const order = await paidOrder(sim);
      const created = await gw.createRefund({
        outRefundNo: `R2-${signType}`,
        outTradeNo: order.outTradeNo,
        refundFen: 700,
        totalFen: order.totalFen,
      });
      expect(created).toMatchObject({ status: 'PROCESSING', apiVersion: 'v2', amounts: { refundFen: 700 } });
      await sim.admin.advance({ minutes: 1 });
      await expect(gw.queryRefund({ outRefundNo: `R2-${signType}` })).resolves.toMatchObject({
        status: 'SUCCESS',
        refundId: created.refundId,
        userReceivedAccount: '支付用户零钱',
      });
    },
  );

  it('answers a wrong sign with return_code=FAIL SIGNERROR (NeedsOperator for the client)', async () => {
    const order = await paidOrder(sim);
    const reply = await rawV2('/secapi/pay/refund', refundParams(order, 'R2-BADSIGN'), { apiKey: 'x'.repeat(32) });
    expect(reply).toEqual({ return_code: 'FAIL', return_msg: 'SIGNERROR: 签名错误' });
    const gw = v2Gateway(sim, DIRECT, { apiKey: 'y'.repeat(32) });
    const e = await errorOf(
      gw.createRefund({
        outRefundNo: 'R2-BADSIGN',
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'NeedsOperator', code: 'RETURN_CODE_FAIL' });
    expect(e.message).toContain('SIGNERROR');
  });

  it('answers malformed XML with return_code=FAIL', async () => {
    const reply = await rawV2('/secapi/pay/refund', {}, { body: '<xml><mch_id>1900000109</mch_id>' });
    expect(reply.return_code).toBe('FAIL');
    expect(reply.return_msg).toContain('XML_FORMAT_ERROR');
  });
});

describe('business rules with v2 codes', () => {
  it('ORDERNOTEXIST, TRADE_STATE_ERROR, REFUND_FEE_MISMATCH, ERROR, invalid refund_fee', async () => {
    const order = await paidOrder(sim);
    const unpaid = await paidOrder(sim, { state: 'NOTPAY' });
    expect(
      await rawV2('/secapi/pay/refund', refundParams({ outTradeNo: 'NO_SUCH_ORDER', totalFen: 1 }, 'R2-X')),
    ).toMatchObject({
      result_code: 'FAIL',
      err_code: 'ORDERNOTEXIST',
    });
    expect(await rawV2('/secapi/pay/refund', refundParams(unpaid, 'R2-Y'))).toMatchObject({
      err_code: 'TRADE_STATE_ERROR',
    });
    await rawV2('/secapi/pay/refund', refundParams(order, 'R2-MM', 100));
    expect(await rawV2('/secapi/pay/refund', refundParams(order, 'R2-MM', 200))).toMatchObject({
      err_code: 'REFUND_FEE_MISMATCH',
    });
    await sim.admin.advance({ seconds: 61 });
    expect(await rawV2('/secapi/pay/refund', refundParams(order, 'R2-OVER', 9_950))).toMatchObject({
      err_code: 'ERROR',
      err_code_des: expect.stringContaining('refundable amount is 9900'),
    });
    expect(await rawV2('/secapi/pay/refund', refundParams(order, 'R2-HUGE', 10_001))).toMatchObject({
      return_code: 'FAIL',
      return_msg: expect.stringContaining('invalid refund_fee'),
    });
  });

  it('NOTENOUGH, TRADE_OVERDUE, USER_ACCOUNT_ABNORMAL and FREQUENCY_LIMITED (60 s) through the gateway', async () => {
    const gw = v2Gateway(sim);
    const order = await paidOrder(sim);
    await sim.admin.setBalance(DIRECT, 0);
    const short = await errorOf(
      gw.createRefund({
        outRefundNo: 'R2-SHORT',
        outTradeNo: order.outTradeNo,
        refundFen: 100,
        totalFen: order.totalFen,
      }),
    );
    expect(short).toMatchObject({ errorClass: 'NeedsOperator', code: 'NOTENOUGH' });
    await sim.admin.setBalance(DIRECT, 1_000_000);
    const now = Date.parse((await sim.admin.clock()).now);
    const old = await paidOrder(sim, { paidAt: new Date(now - 400 * 86_400_000).toISOString() });
    expect(
      await errorOf(
        gw.createRefund({ outRefundNo: 'R2-OLD', outTradeNo: old.outTradeNo, refundFen: 1, totalFen: old.totalFen }),
      ),
    ).toMatchObject({
      errorClass: 'Final',
      code: 'TRADE_OVERDUE',
    });
    const closed = await paidOrder(sim, { payer: { userAccount: 'CLOSED' } });
    expect(
      await errorOf(
        gw.createRefund({
          outRefundNo: 'R2-USER',
          outTradeNo: closed.outTradeNo,
          refundFen: 1,
          totalFen: closed.totalFen,
        }),
      ),
    ).toMatchObject({
      code: 'USER_ACCOUNT_ABNORMAL',
    });
    await gw.createRefund({
      outRefundNo: 'R2-GAP1',
      outTradeNo: order.outTradeNo,
      refundFen: 1,
      totalFen: order.totalFen,
    });
    expect(
      await errorOf(
        gw.createRefund({
          outRefundNo: 'R2-GAP2',
          outTradeNo: order.outTradeNo,
          refundFen: 1,
          totalFen: order.totalFen,
        }),
      ),
    ).toMatchObject({
      errorClass: 'Throttled',
      code: 'FREQUENCY_LIMITED',
    });
  });

  it('BIZERR_NEED_RETRY for a concurrent create on the same order', async () => {
    await sim.admin.patchSettings({ rules: { createProcessingMs: 1500 } });
    const order = await paidOrder(sim);
    const gw = v2Gateway(sim);
    const first = gw.createRefund({
      outRefundNo: 'R2-C1',
      outTradeNo: order.outTradeNo,
      refundFen: 1,
      totalFen: order.totalFen,
    });
    await storedSoon(sim, 'R2-C1');
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R2-C2', outTradeNo: order.outTradeNo, refundFen: 1, totalFen: order.totalFen }),
    );
    expect(e).toMatchObject({ errorClass: 'RetrySame', code: 'BIZERR_NEED_RETRY' });
    await first;
  });

  it('INVALID_REQ_TOO_MUCH once the failing-call budget is exhausted', async () => {
    await sim.admin.patchSettings({ rateLimits: { errors: 2, windowMs: 60_000, v2ErrorBlockMs: 60_000 } });
    for (let i = 0; i < 2; i++)
      await rawV2('/secapi/pay/refund', refundParams({ outTradeNo: 'NO_SUCH_ORDER', totalFen: 1 }, `R2-E${i}`));
    expect(await rawV2('/pay/refundquery', { out_refund_no: 'R2-E0' })).toMatchObject({
      err_code: 'INVALID_REQ_TOO_MUCH',
    });
  });
});

describe('/pay/refundquery', () => {
  it('lists an order’s refunds as 0-based $n fields, 10 per page with total_refund_count and offset', async () => {
    const order = await paidOrder(sim, { totalFen: 5000 });
    for (let i = 0; i < 12; i++) {
      await rawV2('/secapi/pay/refund', refundParams(order, `R2-Q${i}`, 10 + i));
      await sim.admin.advance({ seconds: 61 });
    }
    const page1 = await rawV2('/pay/refundquery', { out_trade_no: order.outTradeNo });
    expect(page1).toMatchObject({
      result_code: 'SUCCESS',
      total_refund_count: '12',
      refund_count: '10',
      out_refund_no_0: 'R2-Q0',
      refund_fee_9: '19',
    });
    expect(parseRefundQueryItems(page1).items).toHaveLength(10);
    const page2 = await rawV2('/pay/refundquery', { out_trade_no: order.outTradeNo, offset: 10 });
    expect(page2).toMatchObject({ refund_count: '2', out_refund_no_0: 'R2-Q10', out_refund_no_1: 'R2-Q11' });
    expect(await rawV2('/pay/refundquery', { out_trade_no: order.outTradeNo, offset: 13 })).toMatchObject({
      err_code: 'PARAM_ERROR',
    });
    const byRefundId = await rawV2('/pay/refundquery', {
      refund_id: page1.refund_id_3,
      out_trade_no: 'IGNORED_LOWER_PRECEDENCE',
    });
    expect(byRefundId).toMatchObject({ refund_count: '1', out_refund_no_0: 'R2-Q3' });
    expect(await rawV2('/pay/refundquery', { out_refund_no: 'R2-NONE' })).toMatchObject({ err_code: 'REFUNDNOTEXIST' });
  });

  it('shows coupons as $n_$m fields and maps statuses to REFUNDCLOSE / CHANGE', async () => {
    const order = await paidOrder(sim, {
      totalFen: 1000,
      coupons: [{ couponId: 'CPN1', type: 'DISCOUNT', amountFen: 100 }],
    });
    await rawV2('/secapi/pay/refund', refundParams(order, 'R2-CPN', 500));
    await sim.admin.forceOutcome('R2-CPN', { status: 'CLOSED' });
    await sim.admin.advance({ seconds: 61 });
    await rawV2('/secapi/pay/refund', refundParams(order, 'R2-CHG', 200));
    await sim.admin.forceOutcome('R2-CHG', { status: 'ABNORMAL' });
    await sim.admin.advance({ seconds: 1 });
    const q = await rawV2('/pay/refundquery', { transaction_id: order.transactionId });
    expect(q).toMatchObject({
      refund_count: '2',
      refund_status_0: 'REFUNDCLOSE',
      coupon_refund_count_0: '1',
      coupon_type_0_0: 'NO_CASH',
      coupon_refund_fee_0_0: '50',
      settlement_refund_fee_0: '450',
      refund_status_1: 'CHANGE',
    });
  });
});

describe('single-item refunds: /secapi/pay/refundv2', () => {
  it('checks goods against the order and returns promotion_detail', async () => {
    const order = await paidOrder(sim, { totalFen: 3000, goods: [{ goodsId: 'SKU-1', priceFen: 1000, quantity: 3 }] });
    const gw = v2Gateway(sim);
    const goodsDetail = (id: string) => [
      { merchantGoodsId: id, unitPriceFen: 1000, refundAmountFen: 1000, refundQuantity: 1 },
    ];
    const e = await errorOf(
      gw.createRefund({
        outRefundNo: 'R2-ITEM-X',
        outTradeNo: order.outTradeNo,
        refundFen: 1000,
        totalFen: 3000,
        goodsDetail: goodsDetail('SKU-9'),
      }),
    );
    expect(e).toMatchObject({ errorClass: 'Final', code: 'ERROR' });
    expect(e.message).toContain('SKU-9 is not an item');
    const ok = await gw.createRefund({
      outRefundNo: 'R2-ITEM',
      outTradeNo: order.outTradeNo,
      refundFen: 1000,
      totalFen: 3000,
      goodsDetail: goodsDetail('SKU-1'),
    });
    expect(ok.status).toBe('PROCESSING');
    // The identical request again (raw, to see the reply): idempotent, with promotion_detail as a JSON string.
    const again = await rawV2('/secapi/pay/refundv2', {
      ...refundParams(order, 'R2-ITEM', 1000),
      detail: JSON.stringify({
        goods_detail: [{ goods_id: 'SKU-1', refund_amount: 1000, refund_quantity: 1, price: 1000 }],
      }),
    });
    expect(again).toMatchObject({ result_code: 'SUCCESS', refund_id: ok.refundId });
    expect(JSON.parse(again.promotion_detail)).toEqual({ promotion_detail: [] });
    expect((await sim.admin.calls())['v2.refundv2']).toMatchObject({ total: 3 });
  });
});

describe('partner mode and faults', () => {
  it("refunds a sub-merchant's order with sub_mch_id", async () => {
    const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const gw = v2Gateway(sim, PROVIDER);
    const r = await gw.createRefund({
      outRefundNo: 'R2-SP',
      outTradeNo: order.outTradeNo,
      refundFen: 5,
      totalFen: order.totalFen,
      subMchid: SUB,
    });
    await expect(gw.queryRefund({ outRefundNo: 'R2-SP', subMchid: SUB })).resolves.toMatchObject({
      refundId: r.refundId,
    });
  });

  it('SYSTEMERROR → RetrySame; a wrong reply sign → UnknownOutcome (refund stored); LOST_REPLY → UnknownOutcome', async () => {
    const gw = v2Gateway(sim);
    await sim.admin.addFault({ endpoint: 'v2.refund', kind: 'SYSTEM_ERROR', times: 1 });
    const a = await paidOrder(sim);
    expect(
      await errorOf(
        gw.createRefund({ outRefundNo: 'R2-F1', outTradeNo: a.outTradeNo, refundFen: 1, totalFen: a.totalFen }),
      ),
    ).toMatchObject({
      errorClass: 'RetrySame',
      code: 'SYSTEMERROR',
    });
    await sim.admin.addFault({ endpoint: 'v2.refund', kind: 'BAD_SIGNATURE', times: 1 });
    const b = await paidOrder(sim);
    expect(
      await errorOf(
        gw.createRefund({ outRefundNo: 'R2-F2', outTradeNo: b.outTradeNo, refundFen: 1, totalFen: b.totalFen }),
      ),
    ).toMatchObject({
      errorClass: 'UnknownOutcome',
      code: 'UNVERIFIABLE_RESPONSE_BAD_SIGNATURE',
    });
    await sim.admin.addFault({ endpoint: 'v2.refund', kind: 'LOST_REPLY', times: 1 });
    const c = await paidOrder(sim);
    expect(
      await errorOf(
        gw.createRefund({ outRefundNo: 'R2-F3', outTradeNo: c.outTradeNo, refundFen: 1, totalFen: c.totalFen }),
      ),
    ).toMatchObject({
      errorClass: 'UnknownOutcome',
    });
    expect((await sim.admin.refunds()).map((r) => r.outRefundNo).sort()).toEqual(['R2-F2', 'R2-F3']);
  });
});
