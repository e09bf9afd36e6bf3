/**
 * The refund lifecycle on the virtual clock (reference §1.4, §8.4): channel-dependent settlement, fallbacks, the
 * abnormal path with apply-abnormal-refund or the merchant portal, funds arriving late, forced outcomes, and
 * reproducibility from the seed.
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { DIRECT, errorOf, paidOrder, v3Gateway, shareSimulator } from './support';

let sim: SimulatorHandle;

shareSimulator((s) => (sim = s));

const BEIJING = 8 * 3600_000;
const weekday = (rfc3339: string) => new Date(Date.parse(rfc3339) + BEIJING).getUTCDay();

async function create(outRefundNo: string, payer: Record<string, unknown> = {}, refundFen = 100) {
  const order = await paidOrder(sim, { payer });
  return v3Gateway(sim).createRefund({
    outRefundNo,
    outTradeNo: order.outTradeNo,
    refundFen,
    totalFen: order.totalFen,
  });
}

const query = (outRefundNo: string) => v3Gateway(sim).queryRefund({ outRefundNo });

it('balance payer: PROCESSING, then SUCCESS to 支付用户零钱 30 simulated seconds later', async () => {
  const created = await create('R-BAL');
  expect(created.status).toBe('PROCESSING');
  await sim.admin.advance({ seconds: 29 });
  expect((await query('R-BAL'))?.status).toBe('PROCESSING');
  await sim.admin.advance({ seconds: 1 });
  const done = await query('R-BAL');
  expect(done).toMatchObject({ status: 'SUCCESS', channel: 'ORIGINAL', userReceivedAccount: '支付用户零钱' });
  expect(Date.parse(done!.successTime!) - Date.parse(done!.createTime!)).toBe(30_000);
});

it('valid bank card: SUCCESS after 1–3 business days, never on a weekend', async () => {
  await sim.admin.patchSettings({ lifecycle: { slowBankCardProbability: 0 } });
  const refunds = [];
  for (let i = 0; i < 6; i++) {
    refunds.push(await create(`R-CARD-${i}`, { bankType: 'CMB_CREDIT', cardLast4: '0403' }));
    await sim.admin.advance({ hours: 13 }); // spread the starts over the week
  }
  await sim.admin.advance({ days: 10 });
  for (const r of refunds) {
    const done = await query(r.outRefundNo);
    expect(done).toMatchObject({ status: 'SUCCESS', channel: 'ORIGINAL', userReceivedAccount: '招商银行信用卡0403' });
    const days = (Date.parse(done!.successTime!) - Date.parse(r.createTime!)) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(1);
    expect(days).toBeLessThan(3 + 2 + 0.25 + 1e-9); // 3 business days may span a weekend, plus ≤ 6 h of jitter
    expect([0, 6]).not.toContain(weekday(done!.successTime!));
  }
});

it('cancelled card with an open balance account: SUCCESS via OTHER_BALANCE after a short delay', async () => {
  await create('R-FALLBACK', { bankType: 'ABC_DEBIT', cardState: 'CANCELLED' });
  await sim.admin.advance({ minutes: 2 });
  await expect(query('R-FALLBACK')).resolves.toMatchObject({
    status: 'SUCCESS',
    channel: 'OTHER_BALANCE',
    userReceivedAccount: '支付用户零钱',
  });
});

describe('abnormal refunds', () => {
  it('ABNORMAL when card and balance fallback both fail; apply-abnormal-refund → PROCESSING → SUCCESS (OTHER_BANKCARD)', async () => {
    const created = await create('R-ABN', { bankType: 'CCB_DEBIT', cardState: 'FROZEN', balanceAccount: 'CLOSED' });
    await sim.admin.advance({ days: 14 });
    expect(await query('R-ABN')).toMatchObject({ status: 'ABNORMAL' });
    const gw = v3Gateway(sim);
    const wrongNumber = await errorOf(
      gw.applyAbnormalRefund({ refundId: created.refundId!, outRefundNo: 'R-OTHER', type: 'MERCHANT_BANK_CARD' }),
    );
    expect(wrongNumber).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400 });
    const applied = await gw.applyAbnormalRefund({
      refundId: created.refundId!,
      outRefundNo: 'R-ABN',
      type: 'MERCHANT_BANK_CARD',
    });
    expect(applied.status).toBe('PROCESSING');
    // Re-sending the accepted application (e.g. after a lost reply) returns the refund unchanged.
    await expect(
      gw.applyAbnormalRefund({ refundId: created.refundId!, outRefundNo: 'R-ABN', type: 'MERCHANT_BANK_CARD' }),
    ).resolves.toMatchObject({ status: 'PROCESSING' });
    await sim.admin.advance({ days: 14 });
    await expect(query('R-ABN')).resolves.toMatchObject({
      status: 'SUCCESS',
      channel: 'OTHER_BANKCARD',
      userReceivedAccount: '商户结算银行账户',
    });
    const history = (await sim.admin.refund('R-ABN')).history.map((h) => h.status);
    expect(history).toEqual(['PROCESSING', 'ABNORMAL', 'PROCESSING', 'SUCCESS']);
  });

  it('refuses apply-abnormal-refund for a refund that is not ABNORMAL, and for an unknown refund_id', async () => {
    const created = await create('R-NOT-ABN');
    const gw = v3Gateway(sim);
    const e = await errorOf(
      gw.applyAbnormalRefund({ refundId: created.refundId!, outRefundNo: 'R-NOT-ABN', type: 'MERCHANT_BANK_CARD' }),
    );
    expect(e).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(e.message).toContain('not ABNORMAL');
    const unknown = await errorOf(
      gw.applyAbnormalRefund({ refundId: '50999', outRefundNo: 'R-NOT-ABN', type: 'MERCHANT_BANK_CARD' }),
    );
    expect(unknown).toMatchObject({ code: 'RESOURCE_NOT_EXISTS', httpStatus: 404 });
  });

  it('an operator can resolve it in the merchant portal: ABNORMAL → SUCCESS without any API call', async () => {
    await create('R-PORTAL', { bankType: 'CCB_DEBIT', cardState: 'CANCELLED', balanceAccount: 'CLOSED' });
    await sim.admin.forceOutcome('R-PORTAL', { status: 'ABNORMAL' });
    await sim.admin.advance({ seconds: 1 });
    await sim.admin.portalResolve('R-PORTAL');
    await sim.admin.advance({ days: 14 });
    await expect(query('R-PORTAL')).resolves.toMatchObject({ status: 'SUCCESS', channel: 'OTHER_BANKCARD' });
  });
});

describe('merchant funds short, "accept" mode', () => {
  beforeEach(async () => {
    await sim.admin.patchMerchant(DIRECT, { balanceFen: 0, insufficientFunds: 'accept' });
  });
  afterEach(async () => {
    await sim.admin.patchMerchant(DIRECT, { insufficientFunds: 'reject' });
  });

  it('stays PROCESSING, and pays out once the merchant tops up within 7 days', async () => {
    await create('R-TOPUP', {}, 1000);
    await sim.admin.advance({ days: 3 });
    expect((await query('R-TOPUP'))?.status).toBe('PROCESSING');
    await sim.admin.setBalance(DIRECT, 5000);
    await sim.admin.advance({ days: 1, minutes: 1 });
    expect((await query('R-TOPUP'))?.status).toBe('SUCCESS');
    expect((await sim.admin.merchants()).find((m) => m.mchid === DIRECT)?.balanceFen).toBe(5000 - 994);
  });

  it('closes the refund after 7 days without funds; no money moves', async () => {
    await create('R-NOFUNDS', {}, 1000);
    await sim.admin.advance({ days: 6 });
    expect((await query('R-NOFUNDS'))?.status).toBe('PROCESSING');
    await sim.admin.advance({ days: 2 });
    expect((await query('R-NOFUNDS'))?.status).toBe('CLOSED');
    expect((await sim.admin.merchants()).find((m) => m.mchid === DIRECT)?.balanceFen).toBe(0);
    expect((await sim.admin.refund('R-NOFUNDS')).payouts).toBe(0);
  });
});

describe('forced outcomes', () => {
  it('applies a forced outcome registered before the refund exists, after the chosen delay', async () => {
    await expect(sim.admin.forceOutcome('R-FORCED', { status: 'CLOSED', afterSeconds: 3600 })).resolves.toMatchObject({
      applied: 'pending',
    });
    await create('R-FORCED');
    await sim.admin.advance({ minutes: 59 });
    expect((await query('R-FORCED'))?.status).toBe('PROCESSING');
    await sim.admin.advance({ minutes: 1 });
    expect((await query('R-FORCED'))?.status).toBe('CLOSED');
    const again = await sim.admin.forceOutcome('R-FORCED', { status: 'SUCCESS' }).catch((e: Error) => e);
    expect(String(again)).toContain('409');
    expect(String(again)).toContain('already CLOSED (final)');
  });

  it('forces SUCCESS on a slow bank-card refund right away', async () => {
    await create('R-FORCE-NOW', { bankType: 'BOC_DEBIT' });
    await sim.admin.forceOutcome('R-FORCE-NOW', { status: 'SUCCESS' });
    await sim.admin.advance({ seconds: 0 });
    expect((await query('R-FORCE-NOW'))?.status).toBe('SUCCESS');
  });
});

it('settles on its own when simulated time flows (timeScale > 0)', async () => {
  await sim.admin.setTimeScale(3600); // one simulated hour per real second
  try {
    await create('R-REALTIME');
    const deadline = Date.now() + 3000;
    let status = (await query('R-REALTIME'))?.status;
    while (status !== 'SUCCESS' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await query('R-REALTIME'))?.status;
    }
    expect(status).toBe('SUCCESS');
  } finally {
    await sim.admin.setTimeScale(0);
  }
});

it('answers SUCCESS already in the create reply when balance refunds are configured instant', async () => {
  await sim.admin.patchSettings({ lifecycle: { instantSuccessProbability: 1 } });
  const r = await create('R-INSTANT');
  expect(r.status).toBe('SUCCESS');
  expect(r.successTime).toBe(r.createTime);
});

it('splits coupons proportionally and returns them whole with the last refund (§2.2)', async () => {
  const order = await paidOrder(sim, {
    totalFen: 1000,
    coupons: [
      { couponId: 'CPN-RECHARGE', type: 'COUPON', amountFen: 100 },
      { couponId: 'CPN-DISCOUNT', type: 'DISCOUNT', amountFen: 50 },
    ],
  });
  const gw = v3Gateway(sim);
  const first = await gw.createRefund({
    outRefundNo: 'R-CPN-1',
    outTradeNo: order.outTradeNo,
    refundFen: 333,
    totalFen: 1000,
  });
  expect(first.amounts).toMatchObject({
    refundFen: 333,
    payerTotalFen: 850,
    discountRefundFen: 33 + 16,
    payerRefundFen: 333 - 49,
    settlementTotalFen: 950,
    settlementRefundFen: 333 - 16,
  });
  await sim.admin.advance({ minutes: 2 });
  const last = await gw.createRefund({
    outRefundNo: 'R-CPN-2',
    outTradeNo: order.outTradeNo,
    refundFen: 667,
    totalFen: 1000,
  });
  expect(last.amounts.discountRefundFen).toBe(150 - 49);
  expect(first.amounts.payerRefundFen! + last.amounts.payerRefundFen!).toBe(850);
});

it('replays identically from the seed after a reset (ids, delays)', async () => {
  async function run() {
    await sim.admin.reset();
    await sim.admin.patchSettings({ lifecycle: { slowBankCardProbability: 0.5 } });
    const out = [];
    for (let i = 0; i < 4; i++) {
      const r = await create(`R-SEED-${i}`, { bankType: 'CMB_DEBIT' });
      out.push({
        refundId: r.refundId,
        transactionId: r.transactionId,
        next: (await sim.admin.refund(r.outRefundNo)).nextTransitionAt! - Date.parse(r.createTime!),
      });
    }
    return out;
  }
  const first = await run();
  const second = await run();
  expect(second).toEqual(first);
  expect(new Set(first.map((r) => r.next)).size).toBeGreaterThan(1); // the delays really are drawn
});
