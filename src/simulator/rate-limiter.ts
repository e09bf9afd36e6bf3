/**
 * Per-merchant request budgets (reference §3.10, §8.3 step 4): successful calls per endpoint group, failing calls
 * across all groups (F22: 6 QPS), and creates for orders older than a month per minute. Counted in REAL time over
 * sliding windows: they limit the client process's throughput, not simulated business time.
 * v2 additionally blocks a merchant for a while once its error budget is exhausted (INVALID_REQ_TOO_MUCH).
 */
import type { RateLimitConfig } from './config';

export type BudgetGroup = 'create' | 'query' | 'abnormal';

export type BudgetVerdict =
  | { ok: true }
  | { ok: false; reason: 'SUCCESS_BUDGET' | 'ERROR_BUDGET' | 'OLD_ORDER_BUDGET' | 'V2_BLOCKED'; message: string };

class SlidingWindow {
  private readonly stamps = new Map<string, number[]>();

  count(key: string, now: number, windowMs: number): number {
    const list = this.stamps.get(key);
    if (!list) return 0;
    while (list.length > 0 && list[0] <= now - windowMs) list.shift();
    return list.length;
  }

  add(key: string, now: number): void {
    let list = this.stamps.get(key);
    if (!list) this.stamps.set(key, (list = []));
    list.push(now);
  }

  clear(): void {
    this.stamps.clear();
  }
}

export class RateLimiter {
  private readonly successes = new SlidingWindow();
  private readonly errors = new SlidingWindow();
  private readonly oldOrders = new SlidingWindow();
  private readonly v2BlockedUntil = new Map<string, number>();

  constructor(
    private config: RateLimitConfig,
    private readonly realNow: () => number = Date.now,
  ) {}

  reconfigure(config: RateLimitConfig): void {
    this.config = config;
  }

  reset(): void {
    this.successes.clear();
    this.errors.clear();
    this.oldOrders.clear();
    this.v2BlockedUntil.clear();
  }

  check(mchid: string, group: BudgetGroup, api: 'v3' | 'v2'): BudgetVerdict {
    const now = this.realNow();
    if (api === 'v2' && (this.v2BlockedUntil.get(mchid) ?? 0) > now) {
      return { ok: false, reason: 'V2_BLOCKED', message: 'too many invalid requests; wait before retrying' };
    }
    const limit = this.config[group];
    if (this.successes.count(`${mchid}/${group}`, now, this.config.windowMs) >= limit) {
      return {
        ok: false,
        reason: 'SUCCESS_BUDGET',
        message: `more than ${limit} ${group} calls per ${this.config.windowMs} ms`,
      };
    }
    if (this.errors.count(mchid, now, this.config.windowMs) >= this.config.errors) {
      if (api === 'v2' && this.config.v2ErrorBlockMs > 0)
        this.v2BlockedUntil.set(mchid, now + this.config.v2ErrorBlockMs);
      return {
        ok: false,
        reason: api === 'v2' ? 'V2_BLOCKED' : 'ERROR_BUDGET',
        message: `more than ${this.config.errors} failing calls per ${this.config.windowMs} ms`,
      };
    }
    return { ok: true };
  }

  /** Creates for orders paid more than a month ago share a per-minute budget. */
  checkOldOrder(mchid: string): BudgetVerdict {
    const now = this.realNow();
    if (this.oldOrders.count(mchid, now, 60_000) >= this.config.oldOrderCreatesPerMinute) {
      return {
        ok: false,
        reason: 'OLD_ORDER_BUDGET',
        message: `more than ${this.config.oldOrderCreatesPerMinute} refunds of old orders per minute`,
      };
    }
    this.oldOrders.add(mchid, now);
    return { ok: true };
  }

  record(mchid: string, group: BudgetGroup, success: boolean): void {
    const now = this.realNow();
    if (success) this.successes.add(`${mchid}/${group}`, now);
    else this.errors.add(mchid, now);
  }
}
