/** Unit tests of the simulator's building blocks: virtual clock, business days, seeded randomness, amount split. */
import { VirtualClock } from '../../src/simulator/clock';
import { computeRefundAmounts } from '../../src/simulator/amounts';
import { SeededRandom } from '../../src/simulator/random';
import { addBusinessDays, rfc3339, v2Time } from '../../src/simulator/time-format';
import type { SimOrder, SimRefund } from '../../src/simulator/model';

describe('VirtualClock', () => {
  const start = Date.parse('2026-03-02T10:00:00+08:00');

  it('runs timeScale times faster than real time, and not at all at scale 0', () => {
    let real = 0;
    const clock = new VirtualClock({ startAt: start, timeScale: 1440, realNow: () => real });
    real += 60_000;
    expect(clock.now() - start).toBe(86_400_000);
    clock.setTimeScale(0);
    real += 60_000;
    expect(clock.now() - start).toBe(86_400_000);
    clock.close();
  });

  it('advance() fires due timers in time order at their own time, including timers they schedule', async () => {
    const clock = new VirtualClock({ startAt: start, timeScale: 0 });
    const log: Array<[string, number]> = [];
    clock.at(start + 3000, 'c', () => log.push(['c', clock.now() - start]));
    clock.at(start + 1000, 'a', () => {
      log.push(['a', clock.now() - start]);
      clock.after(500, 'a2', () => log.push(['a2', clock.now() - start]));
    });
    const cancelled = clock.at(start + 2000, 'b', () => log.push(['b', 0]));
    cancelled.cancel();
    await clock.advance(2999);
    expect(log).toEqual([
      ['a', 1000],
      ['a2', 1500],
    ]);
    expect(clock.now() - start).toBe(2999);
    await clock.advance(1);
    expect(log.map((l) => l[0])).toEqual(['a', 'a2', 'c']);
    clock.close();
  });

  it('advance() waits for the async work a timer started (e.g. a delivery) before moving on', async () => {
    const clock = new VirtualClock({ startAt: start, timeScale: 0 });
    const seen: number[] = [];
    clock.at(start + 10, 'slow', async () => {
      await new Promise((r) => setTimeout(r, 30));
      seen.push(clock.now() - start);
      clock.after(5, 'follow-up', () => seen.push(clock.now() - start));
    });
    await clock.advance(100);
    expect(seen).toEqual([10, 15]);
    clock.close();
  });

  it('refuses to move backwards', () => {
    const clock = new VirtualClock({ startAt: start, timeScale: 0 });
    expect(() => clock.advance(-1)).toThrow('backwards');
    clock.close();
  });
});

describe('time formats and business days (Beijing time)', () => {
  it('formats RFC 3339 with +08:00 and v2 yyyy-MM-dd HH:mm:ss', () => {
    const t = Date.parse('2026-03-02T02:03:04Z');
    expect(rfc3339(t)).toBe('2026-03-02T10:03:04+08:00');
    expect(v2Time(t)).toBe('2026-03-02 10:03:04');
  });

  it('skips weekends', () => {
    const friday = Date.parse('2026-03-06T10:00:00+08:00');
    const saturday = Date.parse('2026-03-07T10:00:00+08:00');
    expect(rfc3339(addBusinessDays(friday, 1))).toBe('2026-03-09T10:00:00+08:00');
    expect(rfc3339(addBusinessDays(friday, 3))).toBe('2026-03-11T10:00:00+08:00');
    expect(rfc3339(addBusinessDays(saturday, 1))).toBe('2026-03-09T10:00:00+08:00');
  });
});

describe('SeededRandom', () => {
  it('is reproducible per seed and per stream, and replays after reset', () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const seqA = Array.from({ length: 5 }, () => a.stream('x').int(0, 1_000_000));
    // Drawing from another stream first must not change stream x.
    b.stream('y').int(0, 10);
    const seqB = Array.from({ length: 5 }, () => b.stream('x').int(0, 1_000_000));
    expect(seqB).toEqual(seqA);
    expect(new SeededRandom(8).stream('x').int(0, 1_000_000)).not.toBe(seqA[0]);
    a.reset();
    expect(a.stream('x').int(0, 1_000_000)).toBe(seqA[0]);
  });
});

describe('computeRefundAmounts', () => {
  const order = {
    totalFen: 1000,
    coupons: [
      { couponId: 'C1', type: 'COUPON', scope: 'GLOBAL', amountFen: 100 },
      { couponId: 'C2', type: 'DISCOUNT', scope: 'SINGLE', amountFen: 33 },
    ],
  } as unknown as SimOrder;

  it('returns every coupon exactly once the order is fully refunded, whatever the split', () => {
    const prior: SimRefund[] = [];
    for (const refundFen of [1, 333, 7, 659]) {
      const r = computeRefundAmounts(order, prior, refundFen, 60);
      expect(r.amount.payerRefund + r.amount.discountRefund).toBe(refundFen);
      prior.push({ amount: r.amount, coupons: r.coupons } as SimRefund);
    }
    const couponTotals = (id: string) =>
      prior.reduce((s, r) => s + (r.coupons.find((c) => c.couponId === id)?.refundFen ?? 0), 0);
    expect(couponTotals('C1')).toBe(100);
    expect(couponTotals('C2')).toBe(33);
    expect(prior.reduce((s, r) => s + r.amount.payerRefund, 0)).toBe(867);
  });

  it('returns the processing fee pro rata and debits the merchant the settled part minus it', () => {
    const r = computeRefundAmounts({ totalFen: 10_000, coupons: [] } as unknown as SimOrder, [], 5000, 60);
    expect(r.amount.refundFee).toBe(30);
    expect(r.merchantDebitFen).toBe(4970);
  });
});
