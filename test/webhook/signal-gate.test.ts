/**
 * The gate that bounds the webhook's signals in flight (src/webhook/signal-gate.ts), on fake time: never more than
 * its bound running, arrival order kept, and a notification that cannot be signalled before its deadline refused
 * without its signal ever starting.
 */
import { NoTimeToSignal, SignalGate } from '../../src/webhook/signal-gate';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A stand-in signal that takes `ms` and records that it ran. */
function slowSignal(ms: number, log: string[], name: string, gate: SignalGate, peak: { max: number }) {
  return async () => {
    log.push(name);
    peak.max = Math.max(peak.max, gate.inFlight);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return name;
  };
}

it('never runs more than maxInFlight at once, and starts the waiting ones in arrival order', async () => {
  const gate = new SignalGate({ maxInFlight: 3 });
  const started: string[] = [];
  const peak = { max: 0 };
  const deadlineAt = Date.now() + 10_000;
  const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
  const all = Promise.all(names.map((n) => gate.run({ deadlineAt }, slowSignal(100, started, n, gate, peak))));
  expect(gate.inFlight).toBe(3);
  expect(gate.queued).toBe(17);
  await jest.advanceTimersByTimeAsync(100 * 7);
  await expect(all).resolves.toEqual(names);
  expect(peak.max).toBe(3);
  expect(started).toEqual(names);
  expect(gate.inFlight).toBe(0);
});

it('a waiter whose last useful start passes leaves the queue with NoTimeToSignal; its signal never starts', async () => {
  const gate = new SignalGate({ maxInFlight: 1, initialEstimateMs: 50 });
  const started: string[] = [];
  const peak = { max: 0 };
  const first = gate.run({ deadlineAt: Date.now() + 5_000 }, slowSignal(2_000, started, 'first', gate, peak));
  const late = gate.run({ deadlineAt: Date.now() + 1_000 }, slowSignal(10, started, 'late', gate, peak));
  const lateSettled = late.catch((e: unknown) => e);
  await jest.advanceTimersByTimeAsync(960); // 1,000 − the 50 ms a signal is expected to take
  expect(await lateSettled).toBeInstanceOf(NoTimeToSignal);
  expect(gate.queued).toBe(0);
  await jest.advanceTimersByTimeAsync(2_000);
  await expect(first).resolves.toBe('first');
  expect(started).toEqual(['first']);
});

it('refuses at once when the predicted wait plus a signal cannot end before the deadline', async () => {
  const gate = new SignalGate({ maxInFlight: 2, initialEstimateMs: 400 });
  const started: string[] = [];
  const peak = { max: 0 };
  const far = Date.now() + 60_000;
  const busy = [0, 1, 2, 3].map((i) => gate.run({ deadlineAt: far }, slowSignal(400, started, `b${i}`, gate, peak)));
  // 2 running, 2 waiting: a newcomer waits about (2 waiting / 2 slots + ½) × 400 ms, then signals for 400 ms: 1,000 ms.
  const refused = gate.run({ deadlineAt: Date.now() + 900 }, slowSignal(1, started, 'x', gate, peak));
  await expect(refused).rejects.toThrow(/predicted wait/);
  const admitted = gate.run({ deadlineAt: Date.now() + 1_300 }, slowSignal(1, started, 'y', gate, peak));
  await jest.advanceTimersByTimeAsync(1_000);
  await expect(admitted).resolves.toBe('y');
  await Promise.all(busy);
  expect(started).not.toContain('x');
});

it('hands no slot to a notification whose route already answered (commit refused), and leaves on abort', async () => {
  const gate = new SignalGate({ maxInFlight: 1 });
  const started: string[] = [];
  const peak = { max: 0 };
  const far = Date.now() + 60_000;
  const first = gate.run({ deadlineAt: far }, slowSignal(100, started, 'first', gate, peak));
  const aborted = new AbortController();
  const leaves = gate.run({ deadlineAt: far, abortSignal: aborted.signal }, slowSignal(1, started, 'gone', gate, peak));
  const refusesCommit = gate
    .run({ deadlineAt: far, commit: () => false }, slowSignal(1, started, 'late', gate, peak))
    .catch((e: unknown) => e);
  const next = gate.run({ deadlineAt: far }, slowSignal(1, started, 'next', gate, peak));
  aborted.abort();
  await expect(leaves).rejects.toBeInstanceOf(NoTimeToSignal);
  expect(gate.queued).toBe(2);
  await jest.advanceTimersByTimeAsync(101);
  expect(await refusesCommit).toBeInstanceOf(NoTimeToSignal);
  await expect(Promise.all([first, next])).resolves.toEqual(['first', 'next']);
  expect(started).toEqual(['first', 'next']);
});

it('learns the signal time from the signals it ran', async () => {
  const gate = new SignalGate({ maxInFlight: 1, initialEstimateMs: 50 });
  const peak = { max: 0 };
  for (let i = 0; i < 10; i++) {
    const run = gate.run({ deadlineAt: Date.now() + 60_000 }, slowSignal(500, [], `s${i}`, gate, peak));
    await jest.advanceTimersByTimeAsync(500);
    await run;
  }
  expect(gate.expectedSignalMs).toBeGreaterThan(400);
  expect(gate.expectedSignalMs).toBeLessThanOrEqual(500);
});

it('does not stay closed after an outage taught it that signals take their whole deadline', async () => {
  const gate = new SignalGate({ maxInFlight: 4, initialEstimateMs: 50 });
  const peak = { max: 0 };
  for (let i = 0; i < 20; i++) {
    const run = gate.run({ deadlineAt: Date.now() + 60_000 }, slowSignal(3_000, [], `o${i}`, gate, peak));
    await jest.advanceTimersByTimeAsync(3_000);
    await run;
  }
  // Temporal is back; notifications arrive with 1 s left when they reach the gate.
  let admitted = 0;
  for (let i = 0; i < 40 && admitted === 0; i++) {
    await gate.run({ deadlineAt: Date.now() + 1_000 }, async () => (admitted += 1)).catch(() => undefined);
  }
  expect(admitted).toBe(1);
});
