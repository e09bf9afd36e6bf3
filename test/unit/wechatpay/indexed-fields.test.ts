import {
  buildIndexedFields,
  MalformedIndexedFields,
  parseIndexedFields,
  parseRefundQueryItems,
  parseRefundReplyCoupons,
  REFUND_QUERY_COUPON_FIELDS,
  REFUND_QUERY_ITEM_FIELDS,
} from '../../../src/wechatpay/v2/indexed-fields';

const stringify = (r: Record<string, string | number>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));

describe('v2 $n / $n_$m fields', () => {
  const reply = {
    refund_count: '2',
    refund_fee: '300', // order level: must not be read as a per-refund field
    coupon_refund_fee: '10',
    out_refund_no_0: 'R1',
    refund_fee_0: '100',
    settlement_refund_fee_0: '90',
    coupon_refund_fee_0: '10',
    coupon_refund_count_0: '2',
    coupon_refund_fee_0_0: '4',
    coupon_type_0_0: 'CASH',
    coupon_refund_fee_0_1: '6',
    coupon_refund_id_0_1: 'C2',
    refund_status_0: 'SUCCESS',
    out_refund_no_1: 'R2',
    refund_fee_1: '200',
    refund_status_1: 'PROCESSING',
    refund_recv_accout_1: '支付用户零钱',
  };

  it('groups 0-based indices, keeping refund_fee_0, coupon_refund_fee_0 and settlement_refund_fee_0 apart', () => {
    const { items, rest } = parseRefundQueryItems(reply);
    expect(items).toHaveLength(2);
    expect(items[0].fields).toEqual({
      out_refund_no: 'R1',
      refund_fee: '100',
      settlement_refund_fee: '90',
      coupon_refund_fee: '10',
      coupon_refund_count: '2',
      refund_status: 'SUCCESS',
    });
    expect(items[0].coupons).toEqual([
      { coupon_refund_fee: '4', coupon_type: 'CASH' },
      { coupon_refund_fee: '6', coupon_refund_id: 'C2' },
    ]);
    expect(items[1].fields.refund_recv_accout).toBe('支付用户零钱');
    expect(rest).toEqual({ refund_count: '2', refund_fee: '300', coupon_refund_fee: '10' });
  });

  it('does not assume the first entry is _0 or _1: 1-based numbering (older docs) groups the same way', () => {
    const oneBased = { refund_count: '1', out_refund_no_1: 'R9', refund_fee_1: '5', refund_status_1: 'CHANGE' };
    const { items } = parseRefundQueryItems(oneBased);
    expect(items).toEqual([
      { index: 1, fields: { out_refund_no: 'R9', refund_fee: '5', refund_status: 'CHANGE' }, coupons: [] },
    ]);
  });

  it('rejects a reply whose number of refunds differs from refund_count', () => {
    expect(() => parseRefundQueryItems({ ...reply, refund_count: '3' })).toThrow(MalformedIndexedFields);
    expect(() => parseRefundQueryItems({ ...reply, coupon_refund_count_0: '1' })).toThrow(MalformedIndexedFields);
  });

  it('rejects indices with leading zeros (two spellings of one index)', () => {
    expect(() => parseIndexedFields({ refund_fee_01: '1' }, { itemFields: REFUND_QUERY_ITEM_FIELDS })).toThrow(
      MalformedIndexedFields,
    );
  });

  it('builds the inverse, 0-based, and parses back to the same lists', () => {
    const flat = buildIndexedFields([
      {
        fields: { out_refund_no: 'A', refund_fee: 1, refund_status: 'SUCCESS' },
        children: [{ coupon_refund_fee: 1, coupon_type: 'NO_CASH' }],
      },
      { fields: { out_refund_no: 'B', refund_fee: 2, refund_status: 'REFUNDCLOSE', refund_account: undefined } },
    ]);
    expect(flat).toEqual({
      out_refund_no_0: 'A',
      refund_fee_0: 1,
      refund_status_0: 'SUCCESS',
      coupon_refund_fee_0_0: 1,
      coupon_type_0_0: 'NO_CASH',
      out_refund_no_1: 'B',
      refund_fee_1: 2,
      refund_status_1: 'REFUNDCLOSE',
    });
    const { groups } = parseIndexedFields(stringify(flat), {
      itemFields: REFUND_QUERY_ITEM_FIELDS,
      childFields: REFUND_QUERY_COUPON_FIELDS,
    });
    expect(groups.map((g) => g.fields.out_refund_no)).toEqual(['A', 'B']);
    expect(groups[0].children[0].fields).toEqual({ coupon_refund_fee: '1', coupon_type: 'NO_CASH' });
  });

  it('parses the per-coupon fields of a refund reply against coupon_refund_count', () => {
    const flat = {
      coupon_refund_count: '2',
      coupon_refund_fee: '7',
      coupon_type_0: 'CASH',
      coupon_refund_fee_0: '3',
      coupon_refund_id_0: 'X',
      coupon_type_1: 'NO_CASH',
      coupon_refund_fee_1: '4',
    };
    expect(parseRefundReplyCoupons(flat)).toEqual([
      { coupon_type: 'CASH', coupon_refund_fee: '3', coupon_refund_id: 'X' },
      { coupon_type: 'NO_CASH', coupon_refund_fee: '4' },
    ]);
    expect(() => parseRefundReplyCoupons({ ...flat, coupon_refund_count: '1' })).toThrow(MalformedIndexedFields);
  });
});
