/**
 * The simulator's virtual clock: simulated time runs `timeScale` times faster than real time (1440 = one simulated day
 * per real minute; 0 = frozen) and can be advanced on demand, so tests jump days instantly.
 *
 * Everything WeChat does "later" (settlement, notification retries, daily funds checks) is a timer on this clock.
 * Timers fire in time order. While advancing, the clock stops at each timer's due time and waits for what the timer
 * started (e.g. a notification delivery) before moving on, so a one-day jump delivers and retries exactly as the real
 * schedule would, and `advance()` resolves only when everything due has happened.
 */

export interface TimerHandle {
  readonly id: number;
  readonly dueAt: number;
  cancel(): void;
}

interface Timer {
  id: number;
  dueAt: number;
  label: string;
  fn: () => unknown;
  cancelled: boolean;
}

export interface ClockOptions {
  /** Simulated epoch ms at start. */
  startAt: number;
  timeScale: number;
  realNow?: () => number;
  onError?: (error: unknown, label: string) => void;
}

/** setTimeout's maximum delay; longer waits are re-armed. */
const MAX_REAL_DELAY_MS = 2 ** 31 - 1;

export class VirtualClock {
  private readonly realNow: () => number;
  private realBase: number;
  private virtualBase: number;
  private scale: number;
  private readonly timers: Timer[] = [];
  private nextId = 1;
  private realTimer?: NodeJS.Timeout;
  private advancing: Promise<unknown> = Promise.resolve();
  /** Work started by fired timers and not yet finished (deliveries): advance() waits for it. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly onError: (error: unknown, label: string) => void;

  constructor(options: ClockOptions) {
    this.realNow = options.realNow ?? Date.now;
    this.realBase = this.realNow();
    this.virtualBase = options.startAt;
    this.scale = options.timeScale;
    this.onError = options.onError ?? ((e, label) => console.error(`[simulator] timer ${label} failed:`, e));
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return Math.floor(this.virtualBase + (this.realNow() - this.realBase) * this.scale);
  }

  get timeScale(): number {
    return this.scale;
  }

  setTimeScale(scale: number): void {
    this.rebase(this.now());
    this.scale = scale;
    this.arm();
  }

  /** Run `fn` at simulated time `dueAt` (immediately on the next tick if already due). */
  at(dueAt: number, label: string, fn: () => unknown): TimerHandle {
    const timer: Timer = { id: this.nextId++, dueAt, label, fn, cancelled: false };
    // Keep the list sorted by (dueAt, id): insertion after every timer due at the same time preserves FIFO order.
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].dueAt > dueAt) i--;
    this.timers.splice(i, 0, timer);
    this.arm();
    return {
      id: timer.id,
      dueAt,
      cancel: () => {
        timer.cancelled = true;
        const idx = this.timers.indexOf(timer);
        if (idx >= 0) this.timers.splice(idx, 1);
        this.arm();
      },
    };
  }

  after(delayMs: number, label: string, fn: () => unknown): TimerHandle {
    return this.at(this.now() + Math.max(0, delayMs), label, fn);
  }

  /** Let advance() wait for work a timer started without awaiting it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  get nextDueAt(): number | undefined {
    return this.timers[0]?.dueAt;
  }

  /** Move simulated time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError('cannot move the clock backwards');
    return this.advanceTo(this.now() + ms);
  }

  advanceTo(target: number): Promise<void> {
    const run = this.advancing.then(async () => {
      await this.settle();
      for (;;) {
        const next = this.timers[0];
        if (!next || next.dueAt > target || this.closed) break;
        if (next.dueAt > this.now()) this.rebase(next.dueAt);
        this.fireDue();
        await this.settle();
      }
      if (target > this.now()) this.rebase(target);
      this.arm();
    });
    this.advancing = run.catch(() => undefined);
    return run;
  }

  /** Wait until all work started by timers has finished (new due timers included). */
  async settle(): Promise<void> {
    for (let round = 0; round < 1000 && (this.inFlight.size > 0 || this.hasDue()); round++) {
      this.fireDue();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  close(): void {
    this.closed = true;
    if (this.realTimer) clearTimeout(this.realTimer);
    this.timers.length = 0;
  }

  /** Drop every timer (admin reset). */
  clearTimers(): void {
    this.timers.length = 0;
    this.arm();
  }

  private hasDue(): boolean {
    return this.timers.length > 0 && this.timers[0].dueAt <= this.now();
  }

  private rebase(virtualNow: number): void {
    this.realBase = this.realNow();
    this.virtualBase = virtualNow;
  }

  /** Fire every timer due now. Timers that return a promise are tracked, not awaited. */
  private fireDue(): void {
    const now = this.now();
    while (this.timers.length > 0 && this.timers[0].dueAt <= now && !this.closed) {
      const timer = this.timers.shift() as Timer;
      if (timer.cancelled) continue;
      try {
        const result = timer.fn();
        if (result instanceof Promise) {
          this.track(result.catch((e: unknown) => this.onError(e, timer.label)));
        }
      } catch (e) {
        this.onError(e, timer.label);
      }
    }
  }

  /** One real setTimeout for the earliest timer (only when time flows). */
  private arm(): void {
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    if (this.closed || this.timers.length === 0) return;
    const due = this.timers[0].dueAt;
    const wait = due - this.now();
    if (wait > 0 && this.scale === 0) return;
    const realDelay = wait <= 0 ? 0 : Math.min(MAX_REAL_DELAY_MS, Math.ceil(wait / this.scale));
    this.realTimer = setTimeout(() => {
      this.realTimer = undefined;
      this.fireDue();
      this.arm();
    }, realDelay);
    this.realTimer.unref();
  }
}
