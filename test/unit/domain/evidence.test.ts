/**
 * The one judge of whether a reply or notification is about the refund that was asked for (domain/evidence.ts):
 * every identifying field and every amount is compared, and only fields the evidence carries are judged.
 */
import {
  compareEvidence,
  describeMismatches,
  type RefundEvidence,
  type RequestedRefund,
} from '../../../src/domain/evidence';

const requested: RequestedRefund = {
  outRefundNo: 'R20261202001',
  outTradeNo: 'T20261202001',
  transactionId: '4200000000000000000000000001',
  mchid: '1900000100',
  subMchid: '1900000201',
  refundFen: 1_500,
  totalFen: 10_000,
};

const agreeing: RefundEvidence = {
  outRefundNo: requested.outRefundNo,
  outTradeNo: requested.outTradeNo,
  transactionId: requested.transactionId,
  mchid: requested.mchid,
  subMchid: requested.subMchid,
  amounts: { refundFen: 1_500, totalFen: 10_000, currency: 'CNY' },
};

test('evidence that names the same refund, order, merchant and money agrees', () => {
  expect(compareEvidence(requested, agreeing)).toEqual([]);
});

test.each([
  ['out_refund_no', { outRefundNo: 'R20261202999' }, 'R20261202999', 'R20261202001'],
  ['out_trade_no', { outTradeNo: 'T20261202999' }, 'T20261202999', 'T20261202001'],
  [
    'transaction_id',
    { transactionId: '4200000000000000000000000999' },
    '4200000000000000000000000999',
    '4200000000000000000000000001',
  ],
  ['mchid', { mchid: '1900000999' }, '1900000999', '1900000100'],
  ['sub_mchid', { subMchid: '1900000999' }, '1900000999', '1900000201'],
  ['amount.refund', { amounts: { ...agreeing.amounts, refundFen: 1_499 } }, '1499', '1500'],
  ['amount.total', { amounts: { ...agreeing.amounts, totalFen: 20_000 } }, '20000', '10000'],
  ['amount.currency', { amounts: { ...agreeing.amounts, currency: 'USD' } }, 'USD', 'CNY'],
] as const)('%s that differs is named, with both values', (field, patch, reported, want) => {
  const mismatches = compareEvidence(requested, { ...agreeing, ...patch });
  expect(mismatches).toEqual([{ field, requested: want, reported }]);
  expect(describeMismatches(mismatches)).toBe(`${field} ${reported} ≠ requested ${want}`);
});

test('identifiers the evidence does not carry, or the refund does not know, are not judged; money always is', () => {
  // A v3 direct create reply names no merchant and may omit transaction_id.
  const bare: RefundEvidence = { outRefundNo: requested.outRefundNo, amounts: agreeing.amounts };
  expect(compareEvidence(requested, bare)).toEqual([]);
  // A refund whose ledger predates verified facts has no mchid: the evidence's mchid is not compared.
  expect(compareEvidence({ ...requested, mchid: undefined }, { ...agreeing, mchid: '1900000999' })).toEqual([]);
  // An empty string is "not carried" (v2 XML omits nothing but may leave a field blank)...
  expect(compareEvidence(requested, { ...agreeing, transactionId: '' })).toEqual([]);
  // ...but amounts are always compared: there is no refund without them.
  expect(compareEvidence(requested, { ...bare, amounts: { ...agreeing.amounts, refundFen: 0 } })).toEqual([
    { field: 'amount.refund', requested: '1500', reported: '0' },
  ]);
});

test('several disagreements are all named, in a fixed order', () => {
  const mismatches = compareEvidence(requested, {
    ...agreeing,
    outTradeNo: 'T2',
    amounts: { refundFen: 1_499, totalFen: 10_000, currency: 'CNY' },
  });
  expect(describeMismatches(mismatches)).toBe(
    'out_trade_no T2 ≠ requested T20261202001; amount.refund 1499 ≠ requested 1500',
  );
});
