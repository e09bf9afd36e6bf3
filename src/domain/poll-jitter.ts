/**
 * A per-refund offset added to every scheduled poll, so that refunds accepted in the same second (a batch, a burst
 * from one order service) do not query WeChat in the same second ever after: their first polls spread over 12 s, the
 * later ones over up to a minute. Deterministic (a hash of out_refund_no, never Math.random), so a replay computes
 * the same timers, and bounded so a poll is never later than a fifth of its own interval.
 */
const MAX_JITTER_MS = 60_000;
const JITTER_SHARE_OF_WAIT = 0.2;

/**
 * FNV-1a of the text, finished with MurmurHash3's fmix32 so that numbers differing only in their last characters
 * (R-1001, R-1002, …, the usual case) still land far apart; as a fraction in [0, 1).
 */
function stableFraction(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32;
}

/** The offset of this refund's poll that is due `waitMs` from now. */
export function pollJitterMs(outRefundNo: string, waitMs: number): number {
  if (waitMs <= 0) return 0;
  return Math.floor(stableFraction(outRefundNo) * Math.min(MAX_JITTER_MS, waitMs * JITTER_SHARE_OF_WAIT));
}
