/**
 * Helpers of the worker-kill and server-restart scenarios: a seeded random stream (the seed is printed, so a failing
 * run is replayed with RELIABILITY_SEED=<seed>), a look at a workflow's history without a worker (which activities
 * are open or done), and small statistics.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { Client, WorkflowHandle } from '@temporalio/client';

/** The scenario's seed: RELIABILITY_SEED if set, else the given default. */
export function chaosSeed(fallback: number): number {
  const fromEnv = Number(process.env.RELIABILITY_SEED);
  return Number.isInteger(fromEnv) && process.env.RELIABILITY_SEED !== '' ? fromEnv : fallback;
}

export class Rng {
  private readonly rng: RandomGenerator;
  constructor(readonly seed: number) {
    this.rng = xoroshiro128plus(seed);
  }
  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.rng, min, max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

export type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** What a workflow's history says about its activities (read from the server: needs no worker). */
export interface ActivityPicture {
  events: HistoryEvent[];
  /** Activity names whose last scheduled task has no result yet (running, or died with its worker). */
  open: string[];
  /** Activity names with at least one successful completion. */
  completed: Set<string>;
}

export async function activityPicture(client: Client, workflowId: string): Promise<ActivityPicture> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Map<string, string>();
  const completed = new Set<string>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
    const done = e.activityTaskCompletedEventAttributes;
    const closed =
      done ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) {
      const key = String(closed.scheduledEventId);
      const name = scheduled.get(key);
      if (done && name) completed.add(name);
      scheduled.delete(key);
    }
  }
  return { events, open: [...scheduled.values()], completed };
}

/** A comparable fingerprint of one history event (id, type, time). */
export function eventKey(e: HistoryEvent): string {
  const t = e.eventTime;
  return `${String(e.eventId)}:${String(e.eventType)}:${t ? `${String(t.seconds)}.${t.nanos ?? 0}` : '-'}`;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2);
}

export function stats(values: number[]): { n: number; min: number; median: number; max: number } {
  return {
    n: values.length,
    min: values.length ? Math.min(...values) : NaN,
    median: median(values),
    max: values.length ? Math.max(...values) : NaN,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads `read` until `done` holds of what it returned, or `timeoutMs` has passed, and returns the last reading either
 * way: for figures that settle a moment after the event awaited, where the checks that follow judge the result.
 */
export async function lastReading<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  let value = await read();
  for (const until = Date.now() + timeoutMs; !done(value) && Date.now() < until;) {
    await sleep(100);
    value = await read();
  }
  return value;
}

/** Polls `probe` until it returns a value (not undefined); throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}
