/**
 * Signals what the webhook's outbox holds (outbox.ts): entries stored by this process, and at start every entry an
 * earlier process left on disk. At most `concurrency` signals at once, oldest first, so a burst drains at the pace
 * Temporal takes it instead of all at once. An entry is removed only once its outcome is final: signalled, its
 * workflow already closed, or recorded as an orphan. When Temporal does not take a signal, the relay pauses (1 s,
 * doubling up to `maxBackoffMs`) and tries that entry again first; nothing is dropped.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { NotificationOutbox, OutboxEntry } from './outbox';
import { orphanRecordOf, type OrphanSink } from './orphans';
import type { SignalOutcome } from './signal-refund';

export interface OutboxRelayOptions {
  outbox: NotificationOutbox;
  /** One signal exchange for the entry's workflow (signal-refund.ts under the webhook's signal timeout). */
  signal: (entry: OutboxEntry) => Promise<SignalOutcome>;
  orphans: OrphanSink;
  concurrency: number;
  maxBackoffMs: number;
  log: FastifyBaseLogger;
  /** Called once an entry's outcome is final, with how long it was in the outbox (metrics). */
  onRelayed?: (outcome: SignalOutcome['kind'], waitedMs: number) => void;
  now?: () => number;
}

const FIRST_BACKOFF_MS = 1_000;

export class OutboxRelay {
  private readonly queue: OutboxEntry[] = [];
  private readonly queued = new Set<string>();
  private running = 0;
  private backoffMs = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly now: () => number;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.now = opts.now ?? Date.now;
  }

  get outbox(): NotificationOutbox {
    return this.opts.outbox;
  }

  /** Entries waiting or being signalled. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /** Picks up what an earlier process left in the outbox. */
  async start(): Promise<void> {
    const left = await this.opts.outbox.load((file, err) =>
      this.opts.log.error({ file, err: { message: err.message } }, 'outbox: entry unreadable; set aside, not relayed'),
    );
    if (left.length > 0)
      this.opts.log.info({ entries: left.length }, 'outbox: relaying entries left by an earlier run');
    for (const entry of left) this.enqueue(entry);
  }

  /** Adds a freshly stored entry (a redelivery of one already waiting is not queued twice). */
  enqueue(entry: OutboxEntry): void {
    if (this.stopped || this.queued.has(entry.key)) return;
    this.queued.add(entry.key);
    this.queue.push(entry);
    this.pump();
  }

  /** Resolves when nothing is waiting or under way (tests, and shutdown after `stop`). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts nothing more; resolves when the signals under way have ended (the rest stay on disk for the next run). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.resumeTimer);
    this.queue.length = 0;
    this.queued.clear();
    if (this.running > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.resumeTimer === undefined && this.running < this.opts.concurrency) {
      const entry = this.queue.shift();
      if (!entry) break;
      this.running++;
      void this.relay(entry).finally(() => {
        this.running--;
        this.pump();
        if (this.pending === 0 || (this.stopped && this.running === 0)) {
          for (const resolve of this.idleWaiters.splice(0)) resolve();
        }
      });
    }
  }

  private async relay(entry: OutboxEntry): Promise<void> {
    let outcome: SignalOutcome;
    try {
      outcome = await this.opts.signal(entry);
      if (outcome.kind === 'orphaned') {
        const record = orphanRecordOf(entry.notification, {
          requestId: entry.requestId,
          workflowId: entry.workflowId,
          now: new Date(this.now()),
        });
        await this.opts.orphans.record(record);
        this.opts.log.warn({ orphan: record }, 'outbox: orphaned refund notification recorded for reconciliation');
      }
      await this.opts.outbox.remove(entry.key);
    } catch (err) {
      this.retryLater(entry, err);
      return;
    }
    this.backoffMs = 0;
    this.queued.delete(entry.key);
    this.opts.onRelayed?.(outcome.kind, this.now() - Date.parse(entry.storedAt));
  }

  /** Temporal (or the orphan log) did not take it: back to the head of the queue, and a pause for everyone. */
  private retryLater(entry: OutboxEntry, err: unknown): void {
    if (this.stopped) return;
    this.queue.unshift(entry);
    this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs === 0 ? FIRST_BACKOFF_MS : this.backoffMs * 2);
    this.opts.log.warn(
      { err: { message: (err as Error).message }, key: entry.key, retryInMs: this.backoffMs },
      'outbox: signal not taken; pausing the relay',
    );
    if (this.resumeTimer !== undefined) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.pump();
    }, this.backoffMs);
    this.resumeTimer.unref();
  }
}
