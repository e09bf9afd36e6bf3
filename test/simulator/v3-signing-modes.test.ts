/**
 * WeChat's signing identity (reference §3.4): platform-certificate mode (the client downloads GET /v3/certificates)
 * and public-key mode (PUB_KEY_ID_…, no certificates to download). In each, the project's gateway must verify every
 * reply and encrypt bank details with the key the simulator can decrypt (apply-abnormal-refund).
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { DIRECT, closeGateways, errorOf, paidOrder, startTestSimulator, v3Gateway } from './support';

const single = { merchants: [{ mchid: DIRECT }] };

async function abnormalRefund(sim: SimulatorHandle, outRefundNo: string) {
  const order = await paidOrder(sim, {
    payer: { bankType: 'ICBC_DEBIT', cardState: 'CANCELLED', balanceAccount: 'CLOSED' },
  });
  await v3Gateway(sim).createRefund({
    outRefundNo,
    outTradeNo: order.outTradeNo,
    refundFen: 100,
    totalFen: order.totalFen,
  });
  await sim.admin.forceOutcome(outRefundNo, { status: 'ABNORMAL' });
  await sim.admin.advance({ seconds: 1 });
  return (await sim.admin.refund(outRefundNo)).refundId;
}

afterAll(closeGateways);

describe('platform-certificate mode', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startTestSimulator({ ...single, wechat: { signWith: 'certificate' } });
  });
  afterAll(() => sim.close());

  it('signs with the platform certificate; a client that knows no key downloads it and verifies', async () => {
    expect(sim.manifest.wechat.publicKeys).toHaveLength(0);
    const gw = v3Gateway(sim, DIRECT, { platformCertificates: [], wechatpayPublicKeys: [] });
    const order = await paidOrder(sim);
    const r = await gw.createRefund({
      outRefundNo: 'R-CERT',
      outTradeNo: order.outTradeNo,
      refundFen: 10,
      totalFen: order.totalFen,
    });
    expect(r.status).toBe('PROCESSING');
    expect(gw.keyring.list().map((k) => k.id)).toEqual([sim.manifest.wechat.platformCertificates[0].serialNo]);
    expect((await sim.admin.calls())['v3.certificates']).toMatchObject({ total: 1, byStatus: { '200': 1 } });
  });

  it('decrypts bank details encrypted with the platform certificate', async () => {
    const refundId = await abnormalRefund(sim, 'R-CERT-ABN');
    const gw = v3Gateway(sim);
    const r = await gw.applyAbnormalRefund({
      refundId,
      outRefundNo: 'R-CERT-ABN',
      type: 'USER_BANK_CARD',
      bankType: 'CMB_DEBIT',
      bankAccount: '6214830000001234',
      realName: '张三',
    });
    expect(r.status).toBe('PROCESSING');
    expect((await sim.admin.refund('R-CERT-ABN')).abnormalHandling).toMatchObject({
      bankType: 'CMB_DEBIT',
      accountLast4: '1234',
    });
  });
});

describe('public-key mode', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startTestSimulator({ ...single, wechat: { signWith: 'publicKey' } });
  });
  afterAll(() => sim.close());

  it('signs with PUB_KEY_ID_…; GET /v3/certificates answers 404 RESOURCE_NOT_EXISTS', async () => {
    expect(sim.manifest.wechat.platformCertificates).toHaveLength(0);
    const gw = v3Gateway(sim);
    const order = await paidOrder(sim);
    const r = await gw.createRefund({
      outRefundNo: 'R-PUB',
      outTradeNo: order.outTradeNo,
      refundFen: 10,
      totalFen: order.totalFen,
    });
    expect(r.status).toBe('PROCESSING');
    const e = await errorOf(gw.client.downloadPlatformCertificates());
    expect(e).toMatchObject({ code: 'RESOURCE_NOT_EXISTS', httpStatus: 404 });
  });

  it('decrypts bank details encrypted with the WeChat Pay public key and pays them to that card', async () => {
    const refundId = await abnormalRefund(sim, 'R-PUB-ABN');
    const gw = v3Gateway(sim);
    const r = await gw.applyAbnormalRefund({
      refundId,
      outRefundNo: 'R-PUB-ABN',
      type: 'USER_BANK_CARD',
      bankType: 'ICBC_DEBIT',
      bankAccount: '6222020000009876',
      realName: '李四',
    });
    expect(r.status).toBe('PROCESSING');
    // Bank-card timescale: 1–3 business days, sometimes a few more; two weeks covers every case.
    await sim.admin.advance({ days: 14 });
    await expect(gw.queryRefund({ outRefundNo: 'R-PUB-ABN' })).resolves.toMatchObject({
      status: 'SUCCESS',
      channel: 'OTHER_BANKCARD',
      userReceivedAccount: '工商银行借记卡9876',
    });
  });
});
