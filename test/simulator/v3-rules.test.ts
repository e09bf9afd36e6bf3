/**
 * WeChat's business rules (reference §2.1, issue 5 point 4), driven through the project's own v3 gateway: each rule is
 * shown to refuse with WeChat's code and the error class the client derives from it, and to let a valid request pass.
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { DIRECT, PROVIDER, SUB, errorOf, paidOrder, storedSoon, v3Gateway, shareSimulator } from './support';

let sim: SimulatorHandle;

shareSimulator((s) => (sim = s));

const next = () => sim.admin.advance({ seconds: 61 }); // past the 60 s spacing of M9

describe('only known, paid orders (M10, M11)', () => {
  it('refuses an unknown order with 404 RESOURCE_NOT_EXISTS (Final) and creates nothing', async () => {
    const gw = v3Gateway(sim);
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R-UNKNOWN', outTradeNo: 'NO_SUCH_ORDER', refundFen: 1, totalFen: 1 }),
    );
    expect(e).toMatchObject({ errorClass: 'Final', code: 'RESOURCE_NOT_EXISTS', httpStatus: 404 });
    expect(await sim.admin.refunds()).toHaveLength(0);
  });

  it('refuses an unpaid order with 404 RESOURCE_NOT_EXISTS', async () => {
    const order = await paidOrder(sim, { state: 'NOTPAY' });
    const e = await errorOf(
      v3Gateway(sim).createRefund({
        outRefundNo: 'R-NOTPAY',
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ code: 'RESOURCE_NOT_EXISTS', httpStatus: 404 });
    expect(e.message).toContain('not paid');
  });

  it("refuses another merchant's order with 400 INVALID_REQUEST (same merchant number rule)", async () => {
    const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const e = await errorOf(
      v3Gateway(sim, DIRECT).createRefund({
        outRefundNo: 'R-FOREIGN',
        transactionId: order.transactionId,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'Final', code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(e.message).toContain('another merchant');
  });

  it('checks amount.total against the order total (M3)', async () => {
    const order = await paidOrder(sim, { totalFen: 500 });
    const e = await errorOf(
      v3Gateway(sim).createRefund({ outRefundNo: 'R-M3', outTradeNo: order.outTradeNo, refundFen: 100, totalFen: 400 }),
    );
    expect(e).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(e.message).toContain('is not the order total 500');
  });
});

describe('out_refund_no is the idempotency key (M8)', () => {
  it('answers a repeated identical request with the same refund and refunds once', async () => {
    const order = await paidOrder(sim);
    const gw = v3Gateway(sim);
    const input = { outRefundNo: 'R-IDEM', outTradeNo: order.outTradeNo, refundFen: 1200, totalFen: order.totalFen };
    const first = await gw.createRefund(input);
    const second = await gw.createRefund(input);
    expect(second.refundId).toBe(first.refundId);
    await sim.admin.advance({ hours: 1 });
    const third = await gw.createRefund(input); // also after it settled: same refund, now SUCCESS, nothing new
    expect(third).toMatchObject({ refundId: first.refundId, status: 'SUCCESS' });
    expect(await sim.admin.refunds({ outTradeNo: order.outTradeNo })).toHaveLength(1);
    const report = await sim.admin.invariants();
    expect(report.ok).toBe(true);
    expect(report.orders[0]).toMatchObject({ refundedFen: 1200, refunds: 1 });
  });

  it('refuses the same number with a different amount: 403 REFUND_FEE_MISMATCH (NeedsOperator)', async () => {
    const order = await paidOrder(sim);
    const gw = v3Gateway(sim);
    await gw.createRefund({
      outRefundNo: 'R-MISMATCH',
      outTradeNo: order.outTradeNo,
      refundFen: 100,
      totalFen: order.totalFen,
    });
    const e = await errorOf(
      gw.createRefund({
        outRefundNo: 'R-MISMATCH',
        outTradeNo: order.outTradeNo,
        refundFen: 101,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'NeedsOperator', code: 'REFUND_FEE_MISMATCH', httpStatus: 403 });
    expect(e.message).toContain('first: refund 100');
  });

  it('can answer the undocumented codes as 400 INVALID_REQUEST instead (§8.7 switch)', async () => {
    await sim.admin.patchSettings({ rules: { undocumentedCodes: '400-INVALID_REQUEST' } });
    const order = await paidOrder(sim);
    const gw = v3Gateway(sim);
    await gw.createRefund({
      outRefundNo: 'R-MM400',
      outTradeNo: order.outTradeNo,
      refundFen: 100,
      totalFen: order.totalFen,
    });
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R-MM400', outTradeNo: order.outTradeNo, refundFen: 5, totalFen: order.totalFen }),
    );
    expect(e).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400 });
  });
});

describe('amount caps (M4, M6)', () => {
  it('keeps the sum of non-closed refunds within the order total; a CLOSED refund frees its amount', async () => {
    // Paid by bank card: the refunds stay PROCESSING for days, so they all still count.
    const order = await paidOrder(sim, { totalFen: 10_000, payer: { bankType: 'CMB_DEBIT' } });
    const gw = v3Gateway(sim);
    await gw.createRefund({ outRefundNo: 'R-CAP1', outTradeNo: order.outTradeNo, refundFen: 6000, totalFen: 10_000 });
    await next();
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R-CAP2', outTradeNo: order.outTradeNo, refundFen: 5000, totalFen: 10_000 }),
    );
    expect(e).toMatchObject({ errorClass: 'Final', code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(e.message).toContain('refundable amount is 4000');
    await gw.createRefund({ outRefundNo: 'R-CAP3', outTradeNo: order.outTradeNo, refundFen: 4000, totalFen: 10_000 });
    await next();
    const full = await errorOf(
      gw.createRefund({ outRefundNo: 'R-CAP4', outTradeNo: order.outTradeNo, refundFen: 1, totalFen: 10_000 }),
    );
    expect(full.message).toContain('fully refunded');
    // Close the first refund: its 6000 become refundable again.
    await sim.admin.forceOutcome('R-CAP1', { status: 'CLOSED' });
    await sim.admin.advance({ seconds: 61 });
    await gw.createRefund({ outRefundNo: 'R-CAP5', outTradeNo: order.outTradeNo, refundFen: 6000, totalFen: 10_000 });
    expect((await sim.admin.invariants()).ok).toBe(true);
  });

  it('allows at most 50 refunds per order', async () => {
    const order = await paidOrder(sim, { totalFen: 1000 });
    const gw = v3Gateway(sim);
    for (let i = 1; i <= 50; i++) {
      await gw.createRefund({ outRefundNo: `R-50-${i}`, outTradeNo: order.outTradeNo, refundFen: 1, totalFen: 1000 });
      await next();
    }
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R-50-51', outTradeNo: order.outTradeNo, refundFen: 1, totalFen: 1000 }),
    );
    expect(e).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400 });
    expect(e.message).toContain('already has 50 refunds');
  });
});

describe('time rules (M5, M9)', () => {
  it('refuses orders paid more than a year ago with TRADE_OVERDUE (Final), accepts 364 days', async () => {
    const now = Date.parse((await sim.admin.clock()).now);
    const day = 86_400_000;
    const old = await paidOrder(sim, { paidAt: new Date(now - 366 * day).toISOString() });
    const recent = await paidOrder(sim, { paidAt: new Date(now - 364 * day).toISOString() });
    const gw = v3Gateway(sim);
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R-OLD', outTradeNo: old.outTradeNo, refundFen: 1, totalFen: old.totalFen }),
    );
    expect(e).toMatchObject({ errorClass: 'Final', code: 'TRADE_OVERDUE', httpStatus: 403 });
    const ok = await gw.createRefund({
      outRefundNo: 'R-RECENT',
      outTradeNo: recent.outTradeNo,
      refundFen: 1,
      totalFen: recent.totalFen,
    });
    expect(ok.status).toBe('PROCESSING');
  });

  it('refuses a second refund of one order within 60 simulated seconds with 429 FREQUENCY_LIMITED', async () => {
    const order = await paidOrder(sim);
    const gw = v3Gateway(sim);
    await gw.createRefund({
      outRefundNo: 'R-GAP1',
      outTradeNo: order.outTradeNo,
      refundFen: 1,
      totalFen: order.totalFen,
    });
    await sim.admin.advance({ seconds: 59 });
    const e = await errorOf(
      gw.createRefund({ outRefundNo: 'R-GAP2', outTradeNo: order.outTradeNo, refundFen: 1, totalFen: order.totalFen }),
    );
    expect(e).toMatchObject({ errorClass: 'Throttled', code: 'FREQUENCY_LIMITED', httpStatus: 429 });
    expect(e.message).toContain('59 s ago');
    await sim.admin.advance({ seconds: 1 });
    await expect(
      gw.createRefund({ outRefundNo: 'R-GAP2', outTradeNo: order.outTradeNo, refundFen: 1, totalFen: order.totalFen }),
    ).resolves.toMatchObject({ status: 'PROCESSING' });
  });

  it('refuses a concurrent create on the same order with 500 SYSTEM_ERROR (RetrySame)', async () => {
    await sim.admin.patchSettings({ rules: { createProcessingMs: 1500 } });
    const order = await paidOrder(sim);
    const gw = v3Gateway(sim);
    const a = gw.createRefund({
      outRefundNo: 'R-CONC-A',
      outTradeNo: order.outTradeNo,
      refundFen: 1,
      totalFen: order.totalFen,
    });
    await storedSoon(sim, 'R-CONC-A');
    const e = await errorOf(
      gw.createRefund({
        outRefundNo: 'R-CONC-B',
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'RetrySame', code: 'SYSTEM_ERROR', httpStatus: 500 });
    expect(e.message).toContain('being processed');
    await expect(a).resolves.toMatchObject({ outRefundNo: 'R-CONC-A' });
  });
});

describe('accounts (§8.3 step 10)', () => {
  it('refuses with 403 NOT_ENOUGH while the balance is short, then accepts the same number after a top-up', async () => {
    const order = await paidOrder(sim);
    await sim.admin.setBalance(DIRECT, 500);
    const gw = v3Gateway(sim);
    const input = { outRefundNo: 'R-FUNDS', outTradeNo: order.outTradeNo, refundFen: 1000, totalFen: order.totalFen };
    const e = await errorOf(gw.createRefund(input));
    expect(e).toMatchObject({ errorClass: 'NeedsOperator', code: 'NOT_ENOUGH', httpStatus: 403 });
    await sim.admin.setBalance(DIRECT, 100_000);
    await expect(gw.createRefund(input)).resolves.toMatchObject({ status: 'PROCESSING' });
    // 1000 minus the 0.6 % fee WeChat returns (6): the merchant pays 994.
    expect((await sim.admin.merchants()).find((m) => m.mchid === DIRECT)?.balanceFen).toBe(100_000 - 994);
  });

  it('refuses a payer whose account is closed with 403 USER_ACCOUNT_ABNORMAL (Final)', async () => {
    const order = await paidOrder(sim, { payer: { userAccount: 'CLOSED' } });
    const e = await errorOf(
      v3Gateway(sim).createRefund({
        outRefundNo: 'R-USER',
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'Final', code: 'USER_ACCOUNT_ABNORMAL', httpStatus: 403 });
  });

  it('refuses a merchant without refund permission with 403 NO_AUTH', async () => {
    const order = await paidOrder(sim);
    await sim.admin.patchMerchant(DIRECT, { refundPermission: false });
    const e = await errorOf(
      v3Gateway(sim).createRefund({
        outRefundNo: 'R-PERM',
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'NeedsOperator', code: 'NO_AUTH', httpStatus: 403 });
    await sim.admin.patchMerchant(DIRECT, { refundPermission: true });
  });
});

describe('request budgets (§3.10)', () => {
  it('answers 429 FREQUENCY_LIMITED above the configured create rate', async () => {
    await sim.admin.patchSettings({ rateLimits: { create: 3, windowMs: 60_000 } });
    const gw = v3Gateway(sim);
    for (let i = 0; i < 3; i++) {
      const order = await paidOrder(sim);
      await gw.createRefund({
        outRefundNo: `R-RATE-${i}`,
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      });
    }
    const order = await paidOrder(sim);
    const e = await errorOf(
      gw.createRefund({
        outRefundNo: 'R-RATE-X',
        outTradeNo: order.outTradeNo,
        refundFen: 1,
        totalFen: order.totalFen,
      }),
    );
    expect(e).toMatchObject({ errorClass: 'Throttled', code: 'FREQUENCY_LIMITED', httpStatus: 429 });
    expect(e.message).toContain('more than 3 create calls');
    // Queries have their own budget.
    await expect(gw.queryRefund({ outRefundNo: 'R-RATE-0' })).resolves.toMatchObject({ outRefundNo: 'R-RATE-0' });
  });

  it('answers 429 once a merchant exceeds the failing-call budget', async () => {
    await sim.admin.patchSettings({ rateLimits: { errors: 2, windowMs: 60_000 } });
    const gw = v3Gateway(sim);
    for (let i = 0; i < 2; i++) {
      await errorOf(
        gw.createRefund({ outRefundNo: `R-ERR-${i}`, outTradeNo: 'NO_SUCH_ORDER', refundFen: 1, totalFen: 1 }),
      );
    }
    const e = await errorOf(gw.queryRefund({ outRefundNo: 'ANY' }));
    expect(e).toMatchObject({ code: 'FREQUENCY_LIMITED', httpStatus: 429 });
    expect(e.message).toContain('failing calls');
  });
});

describe('partner (service provider) mode', () => {
  it("refunds and queries a sub-merchant's order; refuses sub-merchants that are not its own", async () => {
    const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const gw = v3Gateway(sim, PROVIDER);
    const created = await gw.createRefund({
      outRefundNo: 'R-SP',
      outTradeNo: order.outTradeNo,
      refundFen: 10,
      totalFen: order.totalFen,
      subMchid: SUB,
    });
    expect(created.status).toBe('PROCESSING');
    await expect(gw.queryRefund({ outRefundNo: 'R-SP', subMchid: SUB })).resolves.toMatchObject({
      refundId: created.refundId,
    });
    const stranger = await errorOf(gw.queryRefund({ outRefundNo: 'R-SP', subMchid: '1999999999' }));
    expect(stranger).toMatchObject({ code: 'MCH_NOT_EXISTS', httpStatus: 404 });
    // The refund belongs to the sub-merchant, so the direct merchant cannot see it.
    await expect(v3Gateway(sim, DIRECT).queryRefund({ outRefundNo: 'R-SP' })).resolves.toBeNull();
    expect((await sim.admin.refund('R-SP')).owner).toBe(SUB);
  });
});
