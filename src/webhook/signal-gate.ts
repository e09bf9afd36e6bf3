/**
 * Bounds the Temporal signals the webhook has in flight. When refunds settle in bursts, WeChat delivers thousands of
 * notifications at once; starting a signal for each one made every signal slow (they queued inside the server), so
 * they missed their deadline, were answered 503 and came back again: 5.7 deliveries per notification in
 * bench/in-flight-10k.ts at 2,000. Here at most `maxInFlight` signals run; the rest wait in arrival order, each for as
 * long as its own answer budget allows, and no longer:
 *  - on arrival, a notification whose predicted wait plus a signal's expected time would pass its deadline is turned
 *    away at once (503 now rather than a signal that would be cut off later);
 *  - a waiting one whose last useful start time passes leaves the queue (503), and so does one whose route gave up;
 *  - a slot is only handed to a notification whose route can still take the answer (`commit`): once started, the
 *    signal's outcome is what WeChat hears, never a 503 written over an accepted signal.
 * The expected signal time is a moving average of the signals this gate ran, so the admission follows the server's
 * actual pace.
 */

export class NoTimeToSignal extends Error {
  override readonly name = 'NoTimeToSignal';
}

export interface GateTicket {
  /** Absolute time (ms) by which the signal must have finished to be answered in time. */
  deadlineAt: number;
  /** The route gave up (answered 503): leave the queue, never start. */
  abortSignal?: AbortSignal;
  /** Claims the answer for the signal about to start; false when the route already answered (then nothing starts). */
  commit?: () => boolean;
}

export interface SignalGateOptions {
  maxInFlight: number;
  /** Expected signal time until the first signals have been measured. */
  initialEstimateMs?: number;
  now?: () => number;
  /** Called when a notification gets its slot, with how long it waited (metrics). */
  onStart?: (waitedMs: number) => void;
  /** Called when a signal ends, with how long it took (metrics). */
  onFinish?: (signalMs: number) => void;
}

interface Waiter {
  ticket: GateTicket;
  enqueuedAt: number;
  start: () => void;
  refuse: (why: string) => void;
  /** Stops the waiter's own timer and abort listener. */
  forget: () => void;
}

/** Weight of the newest signal time in the moving average: recent enough to follow a server slowing down. */
const ESTIMATE_WEIGHT = 0.2;

export class SignalGate {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private estimateMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: SignalGateOptions) {
    if (!Number.isSafeInteger(opts.maxInFlight) || opts.maxInFlight < 1) {
      throw new Error(`maxInFlight: must be a positive integer (got ${opts.maxInFlight})`);
    }
    this.estimateMs = opts.initialEstimateMs ?? 50;
    this.now = opts.now ?? Date.now;
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** The moving average of how long a signal took (ms). */
  get expectedSignalMs(): number {
    return this.estimateMs;
  }

  /**
   * Runs `work` when a slot is free and the ticket's deadline still leaves time for it; rejects with NoTimeToSignal
   * (without running it) otherwise. `work` is called at most once.
   */
  run<T>(ticket: GateTicket, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        if (!(ticket.commit?.() ?? true)) {
          this.release();
          reject(new NoTimeToSignal('the route answered before a signal slot was free'));
          return;
        }
        const startedAt = this.now();
        work().then(
          (value) => {
            this.learn(this.now() - startedAt);
            this.release();
            resolve(value);
          },
          (err: unknown) => {
            this.learn(this.now() - startedAt);
            this.release();
            reject(err as Error);
          },
        );
      };
      const refuse = (why: string) => reject(new NoTimeToSignal(why));

      if (ticket.abortSignal?.aborted) return refuse('the route answered before the signal');
      const now = this.now();
      if (this.running < this.opts.maxInFlight && this.waiting.length === 0) {
        if (now + this.estimateMs > ticket.deadlineAt) {
          // Refusals teach the average nothing, so an estimate inflated by an outage (signals running to their
          // deadline) would refuse everyone for ever once Temporal is back: let each refusal at a free slot shrink it.
          this.estimateMs *= 0.9;
          return refuse('not enough time left for a signal');
        }
        this.running += 1;
        this.opts.onStart?.(0);
        return start();
      }
      // Every slot busy: slots free at maxInFlight per signal time (Little's law), so the waiters ahead of us take
      // waiting / maxInFlight signal times, plus half of one for the signals running now; then our own signal.
      const waitMs = (this.waiting.length / this.opts.maxInFlight + 0.5) * this.estimateMs;
      if (now + waitMs + this.estimateMs > ticket.deadlineAt) {
        return refuse(`predicted wait for a signal slot passes the deadline (${this.waiting.length} waiting)`);
      }
      this.enqueue(ticket, start, refuse);
    });
  }

  private enqueue(ticket: GateTicket, start: () => void, refuse: (why: string) => void): void {
    const leave = (why: string) => {
      const i = this.waiting.indexOf(waiter);
      if (i < 0) return;
      this.waiting.splice(i, 1);
      waiter.forget();
      refuse(why);
    };
    const onAbort = () => leave('the route answered while the notification waited for a signal slot');
    // Latest useful start: a signal started later would likely be cut off by the deadline.
    const timer = setTimeout(
      () => leave('waited for a signal slot until no time was left'),
      Math.max(0, ticket.deadlineAt - this.estimateMs - this.now()),
    );
    ticket.abortSignal?.addEventListener('abort', onAbort, { once: true });
    const waiter: Waiter = {
      ticket,
      enqueuedAt: this.now(),
      start,
      refuse,
      forget: () => {
        clearTimeout(timer);
        ticket.abortSignal?.removeEventListener('abort', onAbort);
      },
    };
    this.waiting.push(waiter);
  }

  /** A slot came free: hand it to the first waiter that can still use it. */
  private release(): void {
    this.running -= 1;
    while (this.running < this.opts.maxInFlight && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      next.forget();
      const now = this.now();
      if (next.ticket.abortSignal?.aborted || now + this.estimateMs > next.ticket.deadlineAt) {
        next.refuse('waited for a signal slot until no time was left');
        continue;
      }
      this.running += 1;
      this.opts.onStart?.(now - next.enqueuedAt);
      next.start();
    }
  }

  private learn(ms: number): void {
    this.opts.onFinish?.(ms);
    this.estimateMs = (1 - ESTIMATE_WEIGHT) * this.estimateMs + ESTIMATE_WEIGHT * Math.max(1, ms);
  }
}
