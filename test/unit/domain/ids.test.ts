import { orderWorkflowId, refundWorkflowId } from '../../../src/domain/ids';

describe('workflow ids are business keys', () => {
  test('direct mode', () => {
    expect(refundWorkflowId('R20240501001')).toBe('refund-R20240501001');
    expect(orderWorkflowId('T20240501001')).toBe('refund-order-T20240501001');
  });

  test('partner mode inserts the sub-merchant (out_refund_no is unique per sub-merchant only)', () => {
    expect(refundWorkflowId('R1', '1900000109')).toBe('refund-1900000109-R1');
    expect(orderWorkflowId('T20240501001', '1900000109')).toBe('refund-order-1900000109-T20240501001');
    expect(refundWorkflowId('R1', '1900000109')).not.toBe(refundWorkflowId('R1', '1900000110'));
  });

  test('numbers outside WeChat’s alphabet and lengths are refused with the rule', () => {
    expect(() => refundWorkflowId('')).toThrow('out_refund_no must have 1–64 characters');
    expect(() => refundWorkflowId('x'.repeat(65))).toThrow('out_refund_no must have 1–64 characters');
    expect(() => refundWorkflowId('R 1')).toThrow('out_refund_no may only contain');
    expect(() => orderWorkflowId('T123')).toThrow('out_trade_no must have 6–32 characters');
    expect(() => orderWorkflowId('T12345@')).toThrow('out_trade_no may only contain');
    expect(() => refundWorkflowId('R1', 'abc')).toThrow('sub_mchid must be 1–32 digits');
  });

  test('an out_refund_no that would collide with a ledger id is refused', () => {
    expect(() => refundWorkflowId('order-123456')).toThrow("must not start with 'order-'");
    expect(refundWorkflowId('R|*@_-9')).toBe('refund-R|*@_-9');
  });
});
