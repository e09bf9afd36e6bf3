/**
 * Short-term memory of notifications already handed to Temporal. WeChat re-sends a notification until it sees our
 * 2xx, sometimes concurrently; the workflow ignores repeats anyway, this only saves Temporal the round trip.
 * An id is remembered only after its signal succeeded, so a failed attempt never hides the retry that could succeed.
 */
import { LRUCache } from 'lru-cache';

export interface RecentNotificationsOptions {
  maxEntries: number;
  ttlMs: number;
}

export class RecentNotifications<T extends object> {
  private readonly done: LRUCache<string, T>;
  /** Concurrent deliveries of one id share a single Temporal call instead of racing. */
  private readonly inFlight = new Map<string, Promise<T>>();

  constructor(opts: RecentNotificationsOptions) {
    this.done = new LRUCache<string, T>({ max: opts.maxEntries, ttl: opts.ttlMs, ttlAutopurge: false });
  }

  /** The outcome remembered for `key`, if it was handled recently. */
  seen(key: string): T | undefined {
    return this.done.get(key);
  }

  /**
   * Runs `work` once per key at a time. `remember(result)` decides whether the outcome is final enough to remember
   * (successes are; failures are not, so WeChat's retry gets a fresh attempt).
   */
  async once(
    key: string,
    work: () => Promise<T>,
    remember: (result: T) => boolean,
  ): Promise<{ result: T; shared: boolean }> {
    const running = this.inFlight.get(key);
    if (running) return { result: await running, shared: true };
    const promise = work();
    this.inFlight.set(key, promise);
    try {
      const result = await promise;
      if (remember(result)) this.done.set(key, result);
      return { result, shared: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  get size(): number {
    return this.done.size;
  }
}
