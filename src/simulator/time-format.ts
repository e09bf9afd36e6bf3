/**
 * WeChat's time formats and calendar (Beijing time, UTC+8, no DST): RFC 3339 with +08:00 for v3, `yyyy-MM-dd HH:mm:ss`
 * for v2, and business days (bank-card refunds settle in 1–3 business days; weekends do not count; public holidays
 * are not modelled).
 */
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** v3 times (§3.1): RFC 3339 in Beijing time with its offset, e.g. 2020-12-01T16:18:12+08:00 (no fractions). */
export function rfc3339(ms: number): string {
  const iso = new Date(ms + BEIJING_OFFSET_MS).toISOString();
  return `${iso.slice(0, 19)}+08:00`;
}

export function v2Time(ms: number): string {
  const iso = new Date(ms + BEIJING_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** yyyyMMdd in Beijing time (used inside generated ids). */
export function beijingDate(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString().slice(0, 10).replace(/-/g, '');
}

function isWeekend(ms: number): boolean {
  const day = new Date(ms + BEIJING_OFFSET_MS).getUTCDay();
  return day === 0 || day === 6;
}

/** The instant `n` business days after `from` (same time of day; Saturday and Sunday skipped). */
export function addBusinessDays(from: number, n: number): number {
  let t = from;
  let left = n;
  while (left > 0) {
    t += DAY_MS;
    if (!isWeekend(t)) left--;
  }
  // A refund accepted on a weekend cannot settle on one either.
  while (isWeekend(t) && n > 0) t += DAY_MS;
  return t;
}

export const SECOND_MS = 1000;
export const DAY = DAY_MS;
