/**
 * Endpoint faults on demand (reference §8.6 F1–F7, issue 5 point 7), seen through the project's v3 gateway: each one
 * produces the symptom a real outage would (error class on the client) AND the right server-side effect (refund
 * stored or not), so a client that recovers here recovers in production.
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { DIRECT, errorOf, paidOrder, v3Gateway, shareSimulator } from './support';

let sim: SimulatorHandle;

shareSimulator((s) => (sim = s));

const fastGateway = () => v3Gateway(sim, DIRECT, { timeouts: { connectMs: 1000, headersMs: 400, bodyMs: 400 } });

async function createInput(outRefundNo: string) {
  const order = await paidOrder(sim);
  return { outRefundNo, outTradeNo: order.outTradeNo, refundFen: 100, totalFen: order.totalFen };
}

const stored = async (outRefundNo: string) =>
  (await sim.admin.refunds()).filter((r) => r.outRefundNo === outRefundNo).length;

describe('before anything is stored', () => {
  it.each([
    ['SYSTEM_ERROR', { errorClass: 'RetrySame', code: 'SYSTEM_ERROR', httpStatus: 500 }],
    ['FREQUENCY_LIMITED', { errorClass: 'Throttled', code: 'FREQUENCY_LIMITED', httpStatus: 429 }],
  ] as const)('%s: the client sees %o and nothing exists; the identical resend succeeds', async (kind, expected) => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind, times: 1 });
    const input = await createInput(`R-${kind}`);
    const gw = v3Gateway(sim);
    expect(await errorOf(gw.createRefund(input))).toMatchObject(expected);
    expect(await stored(input.outRefundNo)).toBe(0);
    await expect(gw.createRefund(input)).resolves.toMatchObject({ status: 'PROCESSING' });
  });

  it('SERVICE_UNAVAILABLE: an unsigned 503 HTML page → RetrySame, nothing stored', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'SERVICE_UNAVAILABLE', times: 1 });
    const input = await createInput('R-503');
    const e = await errorOf(v3Gateway(sim).createRefund(input));
    expect(e).toMatchObject({ errorClass: 'RetrySame', httpStatus: 503 });
    expect(await stored('R-503')).toBe(0);
  });

  it('RESET: the connection drops before processing → UnknownOutcome, nothing stored', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'RESET', times: 1 });
    const input = await createInput('R-RESET');
    expect(await errorOf(v3Gateway(sim).createRefund(input))).toMatchObject({ errorClass: 'UnknownOutcome' });
    expect(await stored('R-RESET')).toBe(0);
    expect((await sim.admin.calls())['v3.create'].byStatus).toMatchObject({ RESET: 1 });
  });

  it('HANG: no reply at all → the client times out (UnknownOutcome), nothing stored', async () => {
    await sim.admin.addFault({ endpoint: 'v3.query', kind: 'HANG', times: 1 });
    const e = await errorOf(fastGateway().queryRefund({ outRefundNo: 'R-HANG' }));
    expect(e).toMatchObject({ errorClass: 'UnknownOutcome', code: 'TIMEOUT' });
    expect((await sim.admin.calls())['v3.query'].byStatus).toMatchObject({ HANG: 1 });
  });
});

describe('after the refund is stored', () => {
  it('SYSTEM_ERROR_AFTER_COMMIT: 500 but the refund exists; the resend is an idempotent 200', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'SYSTEM_ERROR_AFTER_COMMIT', times: 1 });
    const input = await createInput('R-500-AFTER');
    const gw = v3Gateway(sim);
    expect(await errorOf(gw.createRefund(input))).toMatchObject({ errorClass: 'RetrySame', httpStatus: 500 });
    expect(await stored('R-500-AFTER')).toBe(1);
    const again = await gw.createRefund(input);
    expect(again.refundId).toBe((await sim.admin.refund('R-500-AFTER')).refundId);
    expect(await stored('R-500-AFTER')).toBe(1);
  });

  it('FREQUENCY_LIMITED_AFTER_COMMIT: 429 "in acceptance" — the refund exists anyway', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'FREQUENCY_LIMITED_AFTER_COMMIT', times: 1 });
    const input = await createInput('R-429-AFTER');
    expect(await errorOf(v3Gateway(sim).createRefund(input))).toMatchObject({
      errorClass: 'Throttled',
      httpStatus: 429,
    });
    expect(await stored('R-429-AFTER')).toBe(1);
  });

  it('LOST_REPLY: created, then the connection drops → UnknownOutcome; a query finds the refund', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'LOST_REPLY', outRefundNo: 'R-LOST' });
    const input = await createInput('R-LOST');
    const gw = v3Gateway(sim);
    expect(await errorOf(gw.createRefund(input))).toMatchObject({ errorClass: 'UnknownOutcome' });
    await expect(gw.queryRefund({ outRefundNo: 'R-LOST' })).resolves.toMatchObject({ status: 'PROCESSING' });
  });

  it('SLOW: a reply held past the client timeout → UnknownOutcome, but the refund was stored', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'SLOW', delayMs: 1200, times: 1 });
    const input = await createInput('R-SLOW');
    expect(await errorOf(fastGateway().createRefund(input))).toMatchObject({
      errorClass: 'UnknownOutcome',
      code: 'TIMEOUT',
    });
    expect(await stored('R-SLOW')).toBe(1);
  });

  it('SLOW within the timeout is just slow', async () => {
    await sim.admin.addFault({ endpoint: 'v3.query', kind: 'SLOW', delayMs: 150, times: 1 });
    const gw = v3Gateway(sim);
    await gw.createRefund(await createInput('R-SLOW-OK'));
    const started = Date.now();
    await expect(gw.queryRefund({ outRefundNo: 'R-SLOW-OK' })).resolves.toMatchObject({ outRefundNo: 'R-SLOW-OK' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });
});

describe('unverifiable 2xx replies (F7): never a success for the client', () => {
  it.each([
    ['BAD_SIGNATURE', 'UNVERIFIABLE_RESPONSE_BAD_SIGNATURE'],
    ['SIGNTEST_SIGNATURE', 'UNVERIFIABLE_RESPONSE_SIGNTEST_PROBE'],
    ['UNKNOWN_SERIAL', 'UNVERIFIABLE_RESPONSE_UNKNOWN_SERIAL'],
    ['STALE_TIMESTAMP', 'UNVERIFIABLE_RESPONSE_STALE_TIMESTAMP'],
    ['MISSING_SIGNATURE', 'UNVERIFIABLE_RESPONSE_MISSING_HEADERS'],
  ] as const)('%s → UnknownOutcome %s, refund stored', async (kind, code) => {
    const input = await createInput(`R-${kind}`);
    // Selected by refund number: a reply an earlier test's SLOW fault still holds must not consume this fault.
    await sim.admin.addFault({ endpoint: 'v3.create', kind, times: 1, outRefundNo: input.outRefundNo });
    expect(await errorOf(v3Gateway(sim).createRefund(input))).toMatchObject({ errorClass: 'UnknownOutcome', code });
    expect(await stored(input.outRefundNo)).toBe(1);
  });
});

describe('query visibility lag (F6)', () => {
  it('hides a new refund from queries for lagSeconds; the identical create resend is idempotent meanwhile', async () => {
    await sim.admin.addFault({ endpoint: 'v3.query', kind: 'QUERY_LAG', lagSeconds: 120 });
    const input = await createInput('R-LAG');
    const gw = v3Gateway(sim);
    const created = await gw.createRefund(input);
    await expect(gw.queryRefund({ outRefundNo: 'R-LAG' })).resolves.toBeNull();
    await expect(gw.createRefund(input)).resolves.toMatchObject({ refundId: created.refundId });
    await sim.admin.advance({ seconds: 120 });
    await expect(gw.queryRefund({ outRefundNo: 'R-LAG' })).resolves.toMatchObject({ refundId: created.refundId });
  });
});

describe('selection', () => {
  it('strikes only the selected refund number, the selected merchant, and only `times` times', async () => {
    await sim.admin.addFault({ endpoint: '*', kind: 'SYSTEM_ERROR', outRefundNo: 'R-SEL-HIT', times: 2 });
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'SYSTEM_ERROR', mchid: '1900000100' });
    const gw = v3Gateway(sim);
    await expect(gw.createRefund(await createInput('R-SEL-MISS'))).resolves.toMatchObject({ status: 'PROCESSING' });
    const hit = await createInput('R-SEL-HIT');
    await errorOf(gw.createRefund(hit));
    await errorOf(gw.createRefund(hit));
    await expect(gw.createRefund(hit)).resolves.toMatchObject({ status: 'PROCESSING' });
    const hits = await sim.admin.faultHits();
    expect(hits.map((h) => [h.kind, h.outRefundNo])).toEqual([
      ['SYSTEM_ERROR', 'R-SEL-HIT'],
      ['SYSTEM_ERROR', 'R-SEL-HIT'],
    ]);
    expect((await sim.admin.faults()).faults.map((f) => f.mchid)).toEqual(['1900000100']); // the spent one is gone
  });

  it('a fault strikes only requests that arrive after it (a reply already held is left alone)', async () => {
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'SLOW', delayMs: 1_000, times: 1 });
    const gw = v3Gateway(sim);
    const held = gw.createRefund(await createInput('R-HELD'));
    for (let i = 0; i < 50 && (await stored('R-HELD')) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await sim.admin.addFault({ endpoint: 'v3.create', kind: 'BAD_SIGNATURE', times: 1 });
    await expect(held).resolves.toMatchObject({ outRefundNo: 'R-HELD' });
    // Still there for the next request, which arrives after it.
    expect(await errorOf(gw.createRefund(await createInput('R-NEXT')))).toMatchObject({
      code: 'UNVERIFIABLE_RESPONSE_BAD_SIGNATURE',
    });
  });

  it('probabilistic faults are seeded: the same request sequence fails the same way after a reset', async () => {
    async function run() {
      await sim.admin.reset();
      await sim.admin.addFault({ endpoint: 'v3.query', kind: 'SYSTEM_ERROR', probability: 0.5 });
      const gw = v3Gateway(sim);
      const outcomes: string[] = [];
      for (let i = 0; i < 12; i++) {
        outcomes.push(
          await gw.queryRefund({ outRefundNo: 'R-PROB' }).then(
            () => 'ok',
            (e: Error & { code?: string }) => e.code ?? 'error',
          ),
        );
      }
      return outcomes;
    }
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain('ok');
    expect(first).toContain('SYSTEM_ERROR');
  });

  it('validates fault definitions and names the field', async () => {
    const e = await sim.admin.addFault({ endpoint: 'v2.refund', kind: 'SIGNTEST_SIGNATURE' }).catch((x: Error) => x);
    expect(String(e)).toContain('400');
    expect(String(e)).toContain('kind: this fault only exists for v3 endpoints');
    const bad = await sim.admin
      .addFault({ endpoint: 'v3.create', kind: 'SLOW', probability: 2 } as never)
      .catch((x: Error) => x);
    expect(String(bad)).toContain('probability');
  });
});
