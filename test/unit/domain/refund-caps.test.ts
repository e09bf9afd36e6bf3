import fc from 'fast-check';
import {
  checkRefundRequest,
  MAX_REFUNDS_PER_ORDER,
  refundDeadlineMs,
  summarizeOrder,
  type LedgerEntryMoney,
  type OrderPayment,
} from '../../../src/domain/refund-caps';
import { DAY_MS } from '../../../src/domain/poll-schedule';
import type { LedgerEntryStatus } from '../../../src/domain/status';

const paidAtMs = Date.parse('2024-05-01T10:00:00+08:00');
const payment: OrderPayment = { outTradeNo: 'T20240501001', paidTotalFen: 1_000, paidAtMs };
const now = paidAtMs + DAY_MS;
const entry = (outRefundNo: string, amountFen: number, status: LedgerEntryStatus): LedgerEntryMoney => ({
  outRefundNo,
  amountFen,
  status,
});

describe('money rules of one order', () => {
  test('M1: the amount is a positive integer of fen', () => {
    for (const amountFen of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      const check = checkRefundRequest(payment, [], { outRefundNo: 'R1', amountFen }, now);
      expect(check).toMatchObject({ ok: false, rule: 'M1' });
    }
  });

  test('M4: succeeded plus in-flight plus this refund stays within the paid total', () => {
    const entries = [entry('R1', 300, 'SUCCESS'), entry('R2', 200, 'PROCESSING'), entry('R3', 100, 'QUEUED')];
    expect(checkRefundRequest(payment, entries, { outRefundNo: 'R4', amountFen: 400 }, now)).toEqual({
      ok: true,
      kind: 'new',
    });
    expect(checkRefundRequest(payment, entries, { outRefundNo: 'R4', amountFen: 401 }, now)).toEqual({
      ok: false,
      rule: 'M4',
      message:
        'amountFen 401 exceeds the refundable amount of order T20240501001: 400 fen (paid 1000, refunded 300, in flight 300) (M4)',
    });
  });

  test('M4: CLOSED and REJECTED refunds release their amount; ABNORMAL and MANUAL_REVIEW keep it', () => {
    const released = [entry('R1', 600, 'CLOSED'), entry('R2', 400, 'REJECTED')];
    expect(checkRefundRequest(payment, released, { outRefundNo: 'R3', amountFen: 1_000 }, now).ok).toBe(true);
    const kept = [entry('R1', 600, 'ABNORMAL'), entry('R2', 400, 'MANUAL_REVIEW')];
    expect(checkRefundRequest(payment, kept, { outRefundNo: 'R3', amountFen: 1 }, now)).toMatchObject({ rule: 'M4' });
  });

  test('M5: until payment + 365 days, not a millisecond later', () => {
    const deadline = refundDeadlineMs(paidAtMs);
    expect(deadline - paidAtMs).toBe(365 * DAY_MS);
    expect(checkRefundRequest(payment, [], { outRefundNo: 'R1', amountFen: 1 }, deadline).ok).toBe(true);
    expect(checkRefundRequest(payment, [], { outRefundNo: 'R1', amountFen: 1 }, deadline + 1)).toEqual({
      ok: false,
      rule: 'M5',
      message:
        'order T20240501001 was paid at 2024-05-01T02:00:00.000Z; refunds are only possible until ' +
        '2025-05-01T02:00:00.000Z (payment + 365 days, M5)',
    });
  });

  test('M6: the 51st refund is refused, closed ones counted, rejected ones not', () => {
    const big: OrderPayment = { ...payment, paidTotalFen: 1_000_000 };
    const fifty = Array.from({ length: MAX_REFUNDS_PER_ORDER }, (_, i) =>
      entry(`R${i}`, 1, i < 10 ? 'CLOSED' : 'SUCCESS'),
    );
    expect(checkRefundRequest(big, fifty, { outRefundNo: 'X', amountFen: 1 }, now)).toEqual({
      ok: false,
      rule: 'M6',
      message: 'order T20240501001 already has 50 refunds (closed ones count); WeChat allows at most 50 per order (M6)',
    });
    const withRejected = [...fifty.slice(1), entry('R0', 1, 'REJECTED')];
    expect(checkRefundRequest(big, withRejected, { outRefundNo: 'X', amountFen: 1 }, now).ok).toBe(true);
  });

  test('M8 and idempotency: same number and amount is the same request, another amount is refused', () => {
    const entries = [entry('R1', 300, 'PROCESSING')];
    expect(checkRefundRequest(payment, entries, { outRefundNo: 'R1', amountFen: 300 }, now)).toEqual({
      ok: true,
      kind: 'duplicate',
      entry: entries[0],
    });
    expect(checkRefundRequest(payment, entries, { outRefundNo: 'R1', amountFen: 301 }, now)).toMatchObject({
      ok: false,
      rule: 'M8',
    });
  });

  test('a repeat of an accepted request gets its answer even after the caps or the deadline bite', () => {
    const full = [entry('R1', 1_000, 'SUCCESS')];
    const late = refundDeadlineMs(paidAtMs) + DAY_MS;
    expect(checkRefundRequest(payment, full, { outRefundNo: 'R1', amountFen: 1_000 }, late)).toMatchObject({
      ok: true,
      kind: 'duplicate',
    });
  });

  test('summary', () => {
    const entries = [
      entry('A', 100, 'SUCCESS'),
      entry('B', 200, 'PENDING'),
      entry('C', 300, 'CLOSED'),
      entry('D', 50, 'REJECTED'),
    ];
    expect(summarizeOrder(payment, entries)).toEqual({
      paidTotalFen: 1_000,
      succeededFen: 100,
      reservedFen: 200,
      releasedFen: 350,
      refundableFen: 700,
      refundCount: 3,
    });
  });

  test('property: whatever is requested and however refunds end, money out never exceeds the paid total', () => {
    const statuses: LedgerEntryStatus[] = ['SUCCESS', 'CLOSED', 'REJECTED', 'PROCESSING', 'ABNORMAL', 'MANUAL_REVIEW'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.record({ amountFen: fc.integer({ min: 1, max: 120_000 }), endsAs: fc.constantFrom(...statuses) }), {
          maxLength: 80,
        }),
        (paidTotalFen, requests) => {
          const order = { ...payment, paidTotalFen };
          const entries: LedgerEntryMoney[] = [];
          requests.forEach((r, i) => {
            const check = checkRefundRequest(order, entries, { outRefundNo: `R${i}`, amountFen: r.amountFen }, now);
            if (check.ok) entries.push(entry(`R${i}`, r.amountFen, r.endsAs));
            const s = summarizeOrder(order, entries);
            expect(s.succeededFen + s.reservedFen).toBeLessThanOrEqual(paidTotalFen);
            expect(s.refundCount).toBeLessThanOrEqual(MAX_REFUNDS_PER_ORDER);
          });
        },
      ),
    );
  });
});
