/**
 * Yuan → fen for the amounts of WeChat's bills (docs/wechatpay-protocol.md §12.3: "yuan with two decimals"), by string
 * arithmetic only: `Number('1234.50') * 100` is 123449.99999999999 in binary floating point, and a reconciliation that
 * rounds its way to a match proves nothing.
 */

/**
 * Non-negative yuan, at most two decimals, no sign, no exponent, no grouping, no leading zeros ("0.01" but not
 * "00.01"). At most 13 integer digits, so the fen value stays a safe integer (< 2^53). Refund bills never write a
 * negative amount; a minus sign means the file is not what we think it is.
 */
const YUAN = /^(0|[1-9]\d{0,12})(?:\.(\d{1,2}))?$/;

/** A bill amount that is not yuan as §12.3 writes it; `field` says which (the parser adds the line). */
export class YuanFormatError extends Error {
  /** What is wrong, without the field name (the bill parser puts the line and column in front of it). */
  readonly reason: string;
  constructor(
    readonly field: string,
    readonly text: string,
  ) {
    const reason = `${JSON.stringify(text)} is not an amount in yuan with at most two decimals (e.g. 0.01, 1234.50)`;
    super(`${field}: ${reason}`);
    this.name = 'YuanFormatError';
    this.reason = reason;
  }
}

/**
 * Exact integer fen of a yuan amount: `0.01` → 1, `1234.50` → 123450, `1234.5` → 123450, `12` → 1200, `0` → 0.
 * Throws {@link YuanFormatError} naming `field` for anything else (empty, negative, three decimals, `1e3`, spaces).
 */
export function yuanToFen(text: string, field: string): number {
  const m = YUAN.exec(text);
  if (!m) throw new YuanFormatError(field, text);
  const decimals = (m[2] ?? '').padEnd(2, '0');
  // Both parts are short digit strings, so Number() is exact here; the sum stays below 2^53 by the 13-digit cap.
  return Number(m[1]) * 100 + Number(decimals);
}
