/** Display helpers for integer fen. Arithmetic stays in integers; the decimal point is only ever a string. */

/** 12345 → "123.45" (CNY). */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
