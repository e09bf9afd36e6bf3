import {
  describeZodError,
  orderLedgerInputSchema,
  refundNotificationSchema,
  refundWorkflowInputSchema,
  requestRefundSchema,
  resolveAbnormalSchema,
} from '../../../src/domain/schemas';
import type { z } from 'zod';

function errorOf(schema: z.ZodType, value: unknown): string {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected a validation error');
  return describeZodError(result.error);
}

describe('resolveAbnormal bank details (§3.8)', () => {
  const card = { type: 'USER_BANK_CARD', bankType: 'CMB_DEBIT', bankAccount: '6225880137000000', realName: '李四' };

  test('a debit card of one of the 15 banks, the card number and the holder name', () => {
    expect(resolveAbnormalSchema.parse(card)).toEqual(card);
    expect(resolveAbnormalSchema.parse({ ...card, realName: '  王 五 ' })).toMatchObject({ realName: '王 五' });
    expect(resolveAbnormalSchema.parse({ type: 'MERCHANT_BANK_CARD' })).toEqual({ type: 'MERCHANT_BANK_CARD' });
  });

  test.each([
    [
      { ...card, bankType: 'CMB_CREDIT' },
      /^bankType: bankType must be one of CMB_DEBIT, .* \(debit cards only, §3.8\)$/,
    ],
    [
      { ...card, bankAccount: '6225 8801 3700 0000' },
      /^bankAccount: bankAccount must be the card number: 12–19 digits/,
    ],
    [{ ...card, bankAccount: '12345' }, /^bankAccount: /],
    [{ ...card, realName: '' }, /^realName: realName must not be empty/],
    [{ ...card, realName: 'Zhang 3' }, /^realName: .*no digits/],
    [
      { type: 'USER_BANK_CARD' },
      /bankType: .*; bankAccount: bankAccount is required for USER_BANK_CARD; realName: realName is required/,
    ],
    [{ type: 'SOMEWHERE' }, /type must be USER_BANK_CARD, USER_BANK_CARD_SEALED or MERCHANT_BANK_CARD/],
  ])('rejects %j', (value, message) => {
    expect(errorOf(resolveAbnormalSchema, value)).toMatch(message);
  });
});

describe('requestRefund', () => {
  test('names the field and the rule', () => {
    expect(errorOf(requestRefundSchema, { outRefundNo: 'R1', amountFen: 1.5 })).toBe(
      'amountFen: must be an integer number of fen (no decimals, M1)',
    );
    expect(errorOf(requestRefundSchema, { outRefundNo: 'R1', amountFen: 1, reason: 'x'.repeat(81) })).toBe(
      'reason: reason must be at most 80 characters (M12)',
    );
    expect(errorOf(requestRefundSchema, { amountFen: 1 })).toBe('outRefundNo: out_refund_no must be a string');
  });
});

describe('workflow inputs', () => {
  const refund = { outRefundNo: 'R1', outTradeNo: 'T20240501001', refundFen: 100, totalFen: 1_000 };

  test('a refund needs an order id and cannot exceed the order total', () => {
    expect(refundWorkflowInputSchema.parse(refund)).toEqual(refund);
    expect(errorOf(refundWorkflowInputSchema, { ...refund, outTradeNo: undefined })).toBe(
      'outTradeNo: one of outTradeNo / transactionId is required',
    );
    expect(errorOf(refundWorkflowInputSchema, { ...refund, refundFen: 1_001 })).toBe(
      'refundFen: refundFen must not exceed totalFen (M4)',
    );
    expect(errorOf(refundWorkflowInputSchema, { ...refund, notifyUrl: 'http://example.com/notify' })).toMatch(
      /^notifyUrl: .*https:\/\//,
    );
  });

  test('poll schedules must be increasing', () => {
    const polling = {
      balance: {
        initialOffsetsMs: [60_000, 30_000],
        thenEveryMs: 60_000,
        horizon: { calendarDays: 1, businessDays: 0 },
      },
    };
    expect(errorOf(refundWorkflowInputSchema, { ...refund, polling })).toBe(
      'polling.balance.initialOffsetsMs: initialOffsetsMs must be strictly increasing',
    );
  });

  test('a ledger needs the paid total and the payment time with offset; spacing at least a minute (M9)', () => {
    const ledger = { outTradeNo: 'T20240501001', paidTotalFen: 1_000, paidAt: '2024-05-01T10:00:00+08:00' };
    expect(orderLedgerInputSchema.parse(ledger)).toEqual(ledger);
    expect(errorOf(orderLedgerInputSchema, { ...ledger, paidAt: '2024-05-01' })).toMatch(
      /^paidAt: must be an ISO-8601 date-time/,
    );
    expect(errorOf(orderLedgerInputSchema, { ...ledger, minSpacingMs: 1_000 })).toBe(
      'minSpacingMs: minSpacingMs must be at least 60000 (M9)',
    );
  });
});

test('notifications are validated again inside the workflow', () => {
  const n = {
    notificationId: 'EV-1',
    apiVersion: 'v3',
    mchid: '1900000001',
    outTradeNo: 'T20240501001',
    transactionId: '4200000000',
    outRefundNo: 'R1',
    refundId: '50300000000000000000000001',
    status: 'SUCCESS',
    amounts: { totalFen: 1_000, refundFen: 100, currency: 'CNY' },
    receivedAt: '2024-05-01T10:00:00+08:00',
  };
  expect(refundNotificationSchema.parse(n)).toEqual(n);
  expect(errorOf(refundNotificationSchema, { ...n, status: 'PROCESSING' })).toMatch(/^status: /);
  expect(errorOf(refundNotificationSchema, { ...n, amounts: { ...n.amounts, refundFen: 1.5 } })).toMatch(
    /^amounts.refundFen: /,
  );
});
