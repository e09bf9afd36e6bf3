/**
 * Order query (reference §11): the payment's own record, v3 (direct and partner, by out_trade_no and by
 * transaction_id) and v2 /pay/orderquery, with the same authentication, partner binding and faults as the refund
 * endpoints. Requests are signed raw with the project's signing primitives (no gateway involved).
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { verifyV2Sign } from '../../src/wechatpay/v2/sign';
import { verifyV3Message } from '../../src/wechatpay/v3/verify';
import { DIRECT, PROVIDER, SUB, keyringFor, paidOrder, signedV2, signedV3, v3Gateway, shareSimulator } from './support';

let sim: SimulatorHandle;

shareSimulator((s) => (sim = s));

const byOutTradeNo = (outTradeNo: string, mchid = DIRECT) =>
  `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${mchid}`;
const byTransactionId = (transactionId: string, mchid = DIRECT) =>
  `/v3/pay/transactions/id/${transactionId}?mchid=${mchid}`;
const partnerByOutTradeNo = (outTradeNo: string, sub = SUB, sp = PROVIDER) =>
  `/v3/pay/partner/transactions/out-trade-no/${outTradeNo}?sp_mchid=${sp}&sub_mchid=${sub}`;

function v2Key(mchid = DIRECT): string {
  return sim.manifest.merchants.find((m) => m.mchid === mchid)!.apiV2Key;
}

describe('v3 order query', () => {
  it('direct, by out_trade_no: the paid order with its payer, amounts and coupons, signed', async () => {
    const order = await paidOrder(sim, {
      totalFen: 10_000,
      payer: { bankType: 'CMB_DEBIT', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      coupons: [{ amountFen: 500, type: 'DISCOUNT', couponId: 'CP1' }],
    });
    const res = await signedV3(sim, { path: byOutTradeNo(order.outTradeNo) });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      appid: 'wx8888888888888888',
      mchid: DIRECT,
      out_trade_no: order.outTradeNo,
      transaction_id: order.transactionId,
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      bank_type: 'CMB_DEBIT',
      success_time: '2026-03-02T10:00:00+08:00',
      attach: '',
      payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      amount: { total: 10_000, payer_total: 9_500, currency: 'CNY', payer_currency: 'CNY' },
      promotion_detail: [
        {
          coupon_id: 'CP1',
          scope: 'GLOBAL',
          type: 'NOCASH',
          amount: 500,
          wechatpay_contribute: 0,
          merchant_contribute: 500,
          other_contribute: 0,
          currency: 'CNY',
        },
      ],
    });
    expect(res.headers['request-id']).toBeTruthy();
    const verdict = await verifyV3Message({
      headers: res.headers,
      rawBody: res.raw,
      keyring: keyringFor(sim.manifest),
    });
    expect(verdict).toMatchObject({ ok: true });
  });

  it('direct, by transaction_id: the same record; balance payers have bank_type OTHERS', async () => {
    const order = await paidOrder(sim);
    const res = await signedV3(sim, { path: byTransactionId(order.transactionId) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      out_trade_no: order.outTradeNo,
      transaction_id: order.transactionId,
      bank_type: 'OTHERS',
      trade_state: 'SUCCESS',
      payer: { openid: expect.stringMatching(/^o[\w-]{27}$/) },
      promotion_detail: [],
    });
  });

  it('partner: sp_/sub_ ids and sp_openid for a bound sub-merchant', async () => {
    const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const res = await signedV3(sim, { path: partnerByOutTradeNo(order.outTradeNo), mchid: PROVIDER });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      sp_appid: 'wx9999999999999999',
      sp_mchid: PROVIDER,
      sub_appid: 'wx7777777777777777',
      sub_mchid: SUB,
      out_trade_no: order.outTradeNo,
      transaction_id: order.transactionId,
      trade_state: 'SUCCESS',
      payer: { sp_openid: expect.any(String), sub_openid: expect.any(String) },
    });
    expect(res.json).not.toHaveProperty('mchid');
    const byId = await signedV3(sim, {
      path: `/v3/pay/partner/transactions/id/${order.transactionId}?sp_mchid=${PROVIDER}&sub_mchid=${SUB}`,
      mchid: PROVIDER,
    });
    expect(byId.json).toMatchObject({ out_trade_no: order.outTradeNo, sub_mchid: SUB });
  });

  it('NOTPAY: no transaction_id, success_time, bank_type or payer yet; not findable by a transaction_id', async () => {
    const order = await paidOrder(sim, { state: 'NOTPAY' });
    const res = await signedV3(sim, { path: byOutTradeNo(order.outTradeNo) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      trade_state: 'NOTPAY',
      trade_state_desc: '订单未支付',
      amount: { total: 10_000 },
    });
    for (const absent of ['transaction_id', 'success_time', 'bank_type', 'payer']) {
      expect(res.json).not.toHaveProperty(absent);
    }
    const byId = await signedV3(sim, { path: byTransactionId(order.transactionId) });
    expect(byId.status).toBe(404);
  });

  it('REFUND once the order has a refund', async () => {
    const order = await paidOrder(sim);
    await v3Gateway(sim).createRefund({
      outRefundNo: 'R-OQ-1',
      outTradeNo: order.outTradeNo,
      refundFen: 100,
      totalFen: order.totalFen,
    });
    const res = await signedV3(sim, { path: byOutTradeNo(order.outTradeNo) });
    expect(res.json).toMatchObject({ trade_state: 'REFUND', trade_state_desc: '转入退款', amount: { total: 10_000 } });
  });

  it('unknown order and an order of another merchant: 404 ORDER_NOT_EXIST, unsigned', async () => {
    const unknown = await signedV3(sim, { path: byOutTradeNo('T-NOPE-0001') });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 'ORDER_NOT_EXIST', message: expect.stringContaining('T-NOPE-0001') });
    expect(unknown.headers['wechatpay-signature']).toBeUndefined();

    const theirs = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const byOtherMerchant = await signedV3(sim, { path: byTransactionId(theirs.transactionId) });
    expect(byOtherMerchant.status).toBe(404);
    expect(byOtherMerchant.json).toMatchObject({ code: 'ORDER_NOT_EXIST' });
  });

  it('rules.orderNotFoundCode switches the 404 code to RESOURCE_NOT_EXISTS', async () => {
    await sim.admin.patchSettings({ rules: { orderNotFoundCode: 'RESOURCE_NOT_EXISTS' } });
    const res = await signedV3(sim, { path: byOutTradeNo('T-NOPE-0002') });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ code: 'RESOURCE_NOT_EXISTS' });
  });

  it('refuses a query-string merchant other than the signer, and an unbound sub-merchant (403 NO_AUTH)', async () => {
    const order = await paidOrder(sim);
    const wrongMchid = await signedV3(sim, { path: byOutTradeNo(order.outTradeNo, PROVIDER) });
    expect(wrongMchid.status).toBe(403);
    expect(wrongMchid.json).toMatchObject({ code: 'NO_AUTH', message: expect.stringContaining('mchid 1900000100') });

    const sub = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    // The direct merchant is no service provider of SUB.
    const notProvider = await signedV3(sim, { path: partnerByOutTradeNo(sub.outTradeNo, SUB, DIRECT) });
    expect(notProvider.status).toBe(403);
    expect(notProvider.json).toMatchObject({ code: 'NO_AUTH' });
    const unknownSub = await signedV3(sim, {
      path: partnerByOutTradeNo(sub.outTradeNo, '1999999999'),
      mchid: PROVIDER,
    });
    expect(unknownSub.status).toBe(404);
    expect(unknownSub.json).toMatchObject({ code: 'MCH_NOT_EXISTS' });
  });

  it('validates the path and query string (400 PARAM_ERROR naming the field) and the signature (401)', async () => {
    const noMchid = await signedV3(sim, { path: '/v3/pay/transactions/out-trade-no/T20260001' });
    expect(noMchid.status).toBe(400);
    expect(noMchid.json).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: '/mchid', location: 'query' },
      message: expect.stringContaining('/mchid'),
    });
    const badNo = await signedV3(sim, { path: byOutTradeNo('T1') });
    expect(badNo.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/out_trade_no', location: 'url' } });
    const noSub = await signedV3(sim, {
      path: `/v3/pay/partner/transactions/out-trade-no/T20260001?sp_mchid=${PROVIDER}`,
      mchid: PROVIDER,
    });
    expect(noSub.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/sub_mchid' } });

    const order = await paidOrder(sim);
    const good = await signedV3(sim, { path: byOutTradeNo(order.outTradeNo) });
    expect(good.status).toBe(200);
    // The signature covers the query string: a request signed for another one is refused.
    const tampered = await signedV3(sim, {
      path: byOutTradeNo(order.outTradeNo),
      sendPath: byOutTradeNo(order.outTradeNo, PROVIDER),
    });
    expect(tampered.status).toBe(401);
    expect(tampered.json).toMatchObject({ code: 'SIGN_ERROR' });
    // Known path, wrong method: 405.
    const post = await signedV3(sim, { path: byOutTradeNo(order.outTradeNo), body: '{}' });
    expect(post.status).toBe(405);
  });

  it('faults: SYSTEM_ERROR selected by out_trade_no, BAD_SIGNATURE on the reply; calls are counted', async () => {
    const hit = await paidOrder(sim);
    const spared = await paidOrder(sim);
    await sim.admin.addFault({ endpoint: 'v3.orderquery', kind: 'SYSTEM_ERROR', outTradeNo: hit.outTradeNo, times: 1 });
    expect((await signedV3(sim, { path: byOutTradeNo(spared.outTradeNo) })).status).toBe(200);
    // Selected by out_trade_no even when the order is named by its transaction_id.
    const failed = await signedV3(sim, { path: byTransactionId(hit.transactionId) });
    expect(failed.status).toBe(500);
    expect(failed.json).toMatchObject({ code: 'SYSTEM_ERROR' });
    expect((await signedV3(sim, { path: byOutTradeNo(hit.outTradeNo) })).status).toBe(200);

    await sim.admin.addFault({ endpoint: 'v3.orderquery', kind: 'BAD_SIGNATURE', times: 1 });
    const badSig = await signedV3(sim, { path: byOutTradeNo(hit.outTradeNo) });
    expect(badSig.status).toBe(200);
    const verdict = await verifyV3Message({
      headers: badSig.headers,
      rawBody: badSig.raw,
      keyring: keyringFor(sim.manifest),
    });
    expect(verdict.ok).toBe(false);

    await sim.admin.addFault({ endpoint: 'v3.orderquery', kind: 'SERVICE_UNAVAILABLE', httpStatus: 502, times: 1 });
    const gateway = await signedV3(sim, { path: byOutTradeNo(hit.outTradeNo) });
    expect(gateway.status).toBe(502);
    expect(gateway.raw.toString()).toContain('<html>');

    await sim.admin.addFault({ endpoint: 'v3.orderquery', kind: 'FREQUENCY_LIMITED', times: 1 });
    expect((await signedV3(sim, { path: byOutTradeNo(hit.outTradeNo) })).status).toBe(429);

    const calls = (await sim.admin.calls())['v3.orderquery'];
    expect(calls.total).toBe(6);
    expect(calls.byStatus).toMatchObject({ '200': 3, '500': 1, '502': 1, '429': 1 });
    expect(calls.byCode).toMatchObject({ SYSTEM_ERROR: 1, SERVICE_UNAVAILABLE: 1, FREQUENCY_LIMITED: 1 });
  });
});

describe('v2 /pay/orderquery', () => {
  it('SUCCESS by out_trade_no (no client certificate needed), signed with the merchant key', async () => {
    const order = await paidOrder(sim, {
      payer: { bankType: 'ICBC_CREDIT' },
      coupons: [{ amountFen: 300, type: 'COUPON', couponId: 'CP9' }],
    });
    const reply = await signedV2(sim, '/pay/orderquery', { out_trade_no: order.outTradeNo }, { withCert: false });
    expect(reply).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: 'wx8888888888888888',
      mch_id: DIRECT,
      out_trade_no: order.outTradeNo,
      transaction_id: order.transactionId,
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      bank_type: 'ICBC_CREDIT',
      total_fee: '10000',
      cash_fee: '9700',
      settlement_total_fee: '10000',
      coupon_fee: '300',
      coupon_count: '1',
      coupon_id_0: 'CP9',
      coupon_type_0: 'CASH',
      coupon_fee_0: '300',
      fee_type: 'CNY',
      time_end: '20260302100000',
      trade_type: 'JSAPI',
      openid: expect.stringMatching(/^o/),
    });
    expect(verifyV2Sign(reply, v2Key(), 'MD5')).toBe(true);
  });

  it('by transaction_id (HMAC-SHA256), partner with sub_mch_id, REFUND after a refund, NOTPAY', async () => {
    const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const reply = await signedV2(
      sim,
      '/pay/orderquery',
      { sub_mch_id: SUB, sub_appid: 'wx7777777777777777', transaction_id: order.transactionId },
      { mchid: PROVIDER, signType: 'HMAC-SHA256' },
    );
    expect(reply).toMatchObject({
      result_code: 'SUCCESS',
      mch_id: PROVIDER,
      sub_mch_id: SUB,
      out_trade_no: order.outTradeNo,
      trade_state: 'SUCCESS',
    });
    expect(verifyV2Sign(reply, v2Key(PROVIDER), 'HMAC-SHA256')).toBe(true);

    const direct = await paidOrder(sim);
    await v3Gateway(sim).createRefund({
      outRefundNo: 'R-OQ-2',
      outTradeNo: direct.outTradeNo,
      refundFen: 100,
      totalFen: direct.totalFen,
    });
    expect(await signedV2(sim, '/pay/orderquery', { out_trade_no: direct.outTradeNo })).toMatchObject({
      trade_state: 'REFUND',
    });
    const unpaid = await paidOrder(sim, { state: 'NOTPAY' });
    const notpay = await signedV2(sim, '/pay/orderquery', { out_trade_no: unpaid.outTradeNo });
    expect(notpay).toMatchObject({ result_code: 'SUCCESS', trade_state: 'NOTPAY' });
    expect(notpay).not.toHaveProperty('time_end');
    expect(notpay).not.toHaveProperty('transaction_id');
  });

  it('unknown order: result_code=FAIL ORDERNOTEXIST; an unbound sub-merchant: NOAUTH', async () => {
    const reply = await signedV2(sim, '/pay/orderquery', { out_trade_no: 'T-NOPE-0003' });
    expect(reply).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'FAIL',
      err_code: 'ORDERNOTEXIST',
      err_code_des: expect.stringContaining('T-NOPE-0003'),
    });
    expect(verifyV2Sign(reply, v2Key(), 'MD5')).toBe(true);
    const theirs = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    expect(await signedV2(sim, '/pay/orderquery', { transaction_id: theirs.transactionId })).toMatchObject({
      err_code: 'ORDERNOTEXIST',
    });
    expect(await signedV2(sim, '/pay/orderquery', { sub_mch_id: SUB, out_trade_no: theirs.outTradeNo })).toMatchObject({
      result_code: 'FAIL',
      err_code: 'NOAUTH',
    });
  });

  it('bad sign: return_code=FAIL; missing ids: PARAM_ERROR naming the field', async () => {
    const order = await paidOrder(sim);
    const bad = await signedV2(sim, '/pay/orderquery', { out_trade_no: order.outTradeNo }, { apiKey: 'x'.repeat(32) });
    expect(bad).toMatchObject({ return_code: 'FAIL', return_msg: expect.stringContaining('SIGNERROR') });
    expect(bad).not.toHaveProperty('sign');
    const missing = await signedV2(sim, '/pay/orderquery', {});
    expect(missing).toMatchObject({
      result_code: 'FAIL',
      err_code: 'PARAM_ERROR',
      err_code_des: expect.stringContaining('out_trade_no'),
    });
  });

  it('faults: SYSTEMERROR, then a reply with a wrong sign; calls are counted', async () => {
    const order = await paidOrder(sim);
    await sim.admin.addFault({
      endpoint: 'v2.orderquery',
      kind: 'SYSTEM_ERROR',
      outTradeNo: order.outTradeNo,
      times: 1,
    });
    expect(await signedV2(sim, '/pay/orderquery', { out_trade_no: order.outTradeNo })).toMatchObject({
      result_code: 'FAIL',
      err_code: 'SYSTEMERROR',
    });
    await sim.admin.addFault({ endpoint: 'v2.orderquery', kind: 'BAD_SIGNATURE', times: 1 });
    const badSign = await signedV2(sim, '/pay/orderquery', { out_trade_no: order.outTradeNo });
    expect(badSign).toMatchObject({ result_code: 'SUCCESS', trade_state: 'SUCCESS' });
    expect(verifyV2Sign(badSign, v2Key(), 'MD5')).toBe(false);
    await sim.admin.addFault({ endpoint: 'v2.orderquery', kind: 'RESET', times: 1 });
    await expect(signedV2(sim, '/pay/orderquery', { out_trade_no: order.outTradeNo })).rejects.toThrow();
    const ok = await signedV2(sim, '/pay/orderquery', { out_trade_no: order.outTradeNo });
    expect(verifyV2Sign(ok, v2Key(), 'MD5')).toBe(true);
    const calls = (await sim.admin.calls())['v2.orderquery'];
    expect(calls).toMatchObject({ total: 4, byStatus: { '200': 3, RESET: 1 }, byCode: { SYSTEMERROR: 1, SUCCESS: 2 } });
  });
});

describe('out_refund_no already used under another order of the same merchant', () => {
  it('v3: 400 INVALID_REQUEST, nothing stored for the second order', async () => {
    const first = await paidOrder(sim);
    const second = await paidOrder(sim);
    const gw = v3Gateway(sim);
    await gw.createRefund({ outRefundNo: 'R-DUP', outTradeNo: first.outTradeNo, refundFen: 100, totalFen: 10_000 });
    const res = await signedV3(sim, {
      path: '/v3/refund/domestic/refunds',
      body: JSON.stringify({
        out_trade_no: second.outTradeNo,
        out_refund_no: 'R-DUP',
        amount: { refund: 100, total: 10_000, currency: 'CNY' },
      }),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('another order') });
    const refunds = await sim.admin.refunds();
    expect(refunds.filter((r) => r.outRefundNo === 'R-DUP').map((r) => r.outTradeNo)).toEqual([first.outTradeNo]);
  });

  it('v2: result_code=FAIL INVALID_REQUEST', async () => {
    const first = await paidOrder(sim);
    const second = await paidOrder(sim);
    const params = (outTradeNo: string) => ({
      out_trade_no: outTradeNo,
      out_refund_no: 'R2-DUP',
      total_fee: 10_000,
      refund_fee: 100,
    });
    expect(await signedV2(sim, '/secapi/pay/refund', params(first.outTradeNo))).toMatchObject({
      result_code: 'SUCCESS',
    });
    const reply = await signedV2(sim, '/secapi/pay/refund', params(second.outTradeNo));
    expect(reply).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'FAIL',
      err_code: 'INVALID_REQUEST',
      err_code_des: expect.stringContaining('another order'),
    });
    expect((await sim.admin.refunds()).filter((r) => r.outRefundNo === 'R2-DUP')).toHaveLength(1);
  });
});
