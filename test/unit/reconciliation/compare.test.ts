/**
 * The comparison of a day's bill with the engine's refunds (src/reconciliation/compare.ts): every kind of finding, the
 * totals, the day boundary, and what a query to WeChat settles (reconcile-day.ts `settle`).
 */
import {
  beijingDate,
  beijingDayBounds,
  BillComparison,
  minutesFromBeijingMidnight,
  type EngineRefund,
} from '../../../src/reconciliation/compare';
import { settle } from '../../../src/reconciliation/reconcile-day';
import type { BillRow } from '../../../src/reconciliation/types';
import type { RefundRecord } from '../../../src/wechatpay/gateway';

const DAY = '2026-11-30';

const engine = (no: string, over: Partial<EngineRefund> = {}): EngineRefund => ({
  outRefundNo: no,
  outTradeNo: `T-${no}`,
  refundFen: 1_000,
  state: 'SUCCESS',
  workflowId: `refund-${no}`,
  requestedAt: '2026-11-30T04:00:00.000Z', // 12:00 Beijing
  ...over,
});

let line = 1;
const row = (no: string, over: Partial<BillRow> = {}): BillRow => ({
  line: ++line,
  mchid: '1900000109',
  outTradeNo: `T-${no}`,
  outRefundNo: no,
  refundId: `5030${no}`,
  refundFen: 1_000,
  refundStatus: 'SUCCESS',
  refundRequestedAt: '2026-11-30 12:00:00',
  ...over,
});

const record = (no: string, over: Partial<RefundRecord> = {}): RefundRecord => ({
  outRefundNo: no,
  status: 'SUCCESS',
  channel: 'ORIGINAL',
  amounts: { totalFen: 5_000, refundFen: 1_000, currency: 'CNY' },
  createTime: '2026-11-30T12:00:00+08:00',
  apiVersion: 'v3',
  ...over,
});

test('each bill row gets one finding, of every kind, and the leftovers are what the bill lacks', () => {
  const c = new BillComparison([
    engine('MATCH'),
    engine('AMOUNT', { refundFen: 900 }),
    engine('ORDER', { outTradeNo: 'T-OTHER' }),
    engine('SNAPSHOT', { state: 'SUCCESS' }),
    engine('LOST', { state: 'PROCESSING' }),
    engine('NEVER', { state: 'REJECTED' }),
  ]);
  const kinds = [
    c.row(row('MATCH')),
    c.row(row('AMOUNT')),
    c.row(row('ORDER')),
    c.row(row('SNAPSHOT', { refundStatus: 'PROCESSING' })),
    c.row(row('PORTAL', { refundFen: 500 })),
  ].map((f) => [f.outRefundNo, f.kind, f.needsQuery ?? false]);
  expect(kinds).toEqual([
    ['MATCH', 'MATCHED', false],
    ['AMOUNT', 'AMOUNT_MISMATCH', false],
    ['ORDER', 'IDENTITY_MISMATCH', false],
    ['SNAPSHOT', 'STATUS_DIFFERENCE', true],
    ['PORTAL', 'MISSING_LOCALLY', false],
  ]);
  const rest = c.finish({ rows: 5, refundTotalFen: 4_500 }, DAY);
  // The REJECTED refund never reached WeChat: not expected in a bill. The PROCESSING one was, and is missing.
  expect(rest.map((f) => [f.outRefundNo, f.kind])).toEqual([
    ['LOST', 'MISSING_IN_BILL'],
    ['*', 'TOTAL_MISMATCH'],
  ]);
  expect(rest[1].detail).toMatch(/4500 fen over 5 rows; the engine's refunds of the day sum to 4900 fen/);
  expect(c.totals()).toEqual({ billRows: 5, billSumFen: 4_500, engineSumFen: 4_900 });
});

test('the requested amount (申请退款金额) is compared when the bill has it, 退款金额 being after coupons', () => {
  const c = new BillComparison([engine('COUPON', { refundFen: 1_000 })]);
  expect(c.row(row('COUPON', { refundFen: 800, requestedRefundFen: 1_000 })).kind).toBe('MATCHED');
});

test('a day that matches has no total finding', () => {
  const c = new BillComparison([engine('A'), engine('B', { refundFen: 1 })]);
  c.row(row('A'));
  c.row(row('B', { refundFen: 1 }));
  expect(c.finish({ rows: 2, refundTotalFen: 1_001 }, DAY)).toEqual([]);
});

test("a refund requested just before midnight and billed the next day matches there, from the neighbours' list", () => {
  const late = engine('LATE', { requestedAt: '2026-11-29T15:55:00.000Z' }); // 23:55 Beijing, the day before
  const c = new BillComparison([], { nearby: new Map([['LATE', late]]) });
  expect(c.row(row('LATE')).kind).toBe('MATCHED');
  expect(c.finish({ rows: 1, refundTotalFen: 1_000 }, DAY)).toEqual([]);
});

test('a refund the bill lacks near midnight says so', () => {
  const c = new BillComparison([engine('EDGE', { requestedAt: '2026-11-30T15:50:00.000Z' })]); // 23:50 Beijing
  const [missing] = c.finish({ rows: 0, refundTotalFen: 0 }, DAY);
  expect(missing.detail).toMatch(/near Beijing midnight/);
});

test('partner bills key by sub-merchant too: the same out_refund_no of two sub-merchants are two refunds', () => {
  const c = new BillComparison(
    [engine('SAME', { subMchid: '1900000201' }), engine('SAME', { subMchid: '1900000202', refundFen: 2_000 })],
    {
      partner: true,
    },
  );
  expect(c.row(row('SAME', { subMchid: '1900000202', refundFen: 2_000 })).kind).toBe('MATCHED');
  expect(c.row(row('SAME', { subMchid: '1900000201' })).kind).toBe('MATCHED');
});

describe('what a query settles', () => {
  test('a PROCESSING snapshot that WeChat now reports SUCCESS, as the engine does', () => {
    const c = new BillComparison([engine('SNAP')]);
    const f = c.row(row('SNAP', { refundStatus: 'PROCESSING' }));
    settle(f, record('SNAP'), DAY);
    expect(f.resolved?.evidence).toMatch(/WeChat now says SUCCESS, as the engine does/);
  });

  test('a status WeChat still disagrees on stays open', () => {
    const c = new BillComparison([engine('DIFF')]);
    const f = c.row(row('DIFF', { refundStatus: 'CLOSED' }));
    settle(f, record('DIFF', { status: 'CLOSED' }), DAY);
    expect(f.resolved).toBeUndefined();
    expect(f.detail).toMatch(/WeChat now says CLOSED/);
  });

  test('a refund missing in the bill that WeChat accepted the next day is settled; one WeChat does not know is not', () => {
    const c = new BillComparison([engine('NEXT'), engine('GONE')]);
    const [next, gone] = c.finish(undefined, DAY);
    settle(next, record('NEXT', { createTime: '2026-12-01T00:03:00+08:00' }), DAY);
    settle(gone, null, DAY);
    expect(next.resolved?.evidence).toMatch(/accepted it on 2026-12-01/);
    expect(gone.resolved).toBeUndefined();
    expect(gone.detail).toMatch(/WeChat has no refund with this number/);
  });
});

test('Beijing-time days', () => {
  expect(beijingDate('2026-11-29T16:00:00.000Z')).toBe('2026-11-30');
  expect(beijingDate('2026-11-30T15:59:59.999Z')).toBe('2026-11-30');
  expect(beijingDayBounds(DAY).startMs).toBe(Date.parse('2026-11-29T16:00:00.000Z'));
  expect(minutesFromBeijingMidnight('2026-11-30T15:50:00.000Z')).toBe(10);
});
