/** v2 times are `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8, no DST); the internal model uses RFC 3339 with offset. */
export function v2TimeToRfc3339(v2: string | undefined): string | undefined {
  if (!v2) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(v2);
  return m ? `${m[1]}T${m[2]}+08:00` : undefined;
}

/** v2 order-query `time_end` (`yyyyMMddHHmmss`, Beijing time) → RFC 3339 with +08:00, e.g. 2026-11-20T10:00:00+08:00. */
export function v2CompactTimeToRfc3339(v2: string | undefined): string | undefined {
  if (!v2) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(v2);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00` : undefined;
}

/** An instant as RFC 3339 in Beijing time, like WeChat's own timestamps (e.g. 2020-12-01T16:18:12+08:00). */
export function toBeijingRfc3339(ms: number): string {
  const shifted = new Date(ms + 8 * 60 * 60 * 1000).toISOString();
  return `${shifted.slice(0, 19)}+08:00`;
}
