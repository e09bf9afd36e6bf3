import { formatFen } from '../../../src/domain/money';

test('fen are shown as CNY with exactly two decimals, without floating point', () => {
  expect(formatFen(0)).toBe('0.00');
  expect(formatFen(7)).toBe('0.07');
  expect(formatFen(12_345)).toBe('123.45');
  expect(formatFen(-150)).toBe('-1.50');
  expect(formatFen(Number.MAX_SAFE_INTEGER)).toBe('90071992547409.91');
});
