import fc from 'fast-check';
import { YuanFormatError, yuanToFen } from '../../../src/reconciliation/yuan';

describe('yuanToFen: bill amounts (yuan, two decimals) to integer fen, exactly', () => {
  it.each([
    ['0.01', 1],
    ['0.10', 10],
    ['0.1', 10],
    ['1234.50', 123450],
    ['1234.5', 123450],
    ['12', 1200],
    ['0', 0],
    ['0.00', 0],
    ['100.00', 10000],
    // Amounts where `Number(text) * 100` is not an integer in binary floating point.
    ['0.29', 29],
    ['1.13', 113],
    ['4.35', 435],
    ['9999999999999.99', 999999999999999],
  ])('%s yuan is %d fen', (text, fen) => {
    expect(yuanToFen(text, '退款金额')).toBe(fen);
  });

  it('round-trips every amount written with two decimals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999_999 }), (fen) => {
        const text = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
        expect(yuanToFen(text, '退款金额')).toBe(fen);
      }),
    );
  });

  it.each([
    ['', 'empty'],
    ['-0.50', 'negative: refund bills have none'],
    ['+1.00', 'a sign'],
    ['1.234', 'three decimals'],
    ['1.', 'a dot without decimals'],
    ['.50', 'no integer part'],
    ['01.00', 'a leading zero'],
    ['1,234.50', 'grouping'],
    ['1e3', 'an exponent'],
    [' 1.00', 'spaces'],
    ['1.00 ', 'spaces'],
    ['¥1.00', 'a currency sign'],
    ['`1.00', 'the backtick (the parser strips it first)'],
    ['NaN', 'not a number'],
    ['１.00', 'a full-width digit'],
    ['10000000000000.00', 'more than 13 integer digits (not a safe integer in fen)'],
  ])('refuses %j (%s), naming the field', (text) => {
    expect(() => yuanToFen(text, '申请退款金额')).toThrow(YuanFormatError);
    expect(() => yuanToFen(text, '申请退款金额')).toThrow(/^申请退款金额: /);
  });
});
