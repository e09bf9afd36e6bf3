/**
 * How the benchmarks learn that a step has happened without asking the system they measure (issue 18: a status
 * query every 25 ms per refund was load on the very worker and server being timed).
 *
 *  - refund side: the simulator (in process; it is WeChat, not the system measured) tells when it has answered a
 *    refund's create (`core.service.onCreateAnswered`): WeChat has it, the bench may settle it;
 *  - baseline side: the baseline activity, run by the bench's own in-process worker, tells when it has returned
 *    (`observedBaselineActivities`, installed by runWorker): the same moment, "the one activity is done".
 *
 * Neither costs Temporal a call. Completion is then observed by `handle.result()` on both sides (one long poll per
 * workflow on the server, the same on both sides).
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { createBaselineActivities } from '../baseline/activities';

/**
 * One-shot latches by key: `arrive(key)` from whoever learns it, `wait(key)` by the bench. An arrival before its wait
 * is kept until waited for, so the bench may subscribe after starting the work.
 */
export class Arrivals {
  private readonly arrived = new Set<string>();
  private readonly waiting = new Map<string, () => void>();

  constructor(private readonly what: string) {}

  arrive(key: string): void {
    const resolve = this.waiting.get(key);
    if (resolve) {
      this.waiting.delete(key);
      resolve();
    } else {
      this.arrived.add(key);
    }
  }

  /** Resolves once `key` has arrived (at once if it already has); rejects after `timeoutMs`. */
  wait(key: string, timeoutMs = 120_000): Promise<void> {
    if (this.arrived.delete(key)) return Promise.resolve();
    if (this.waiting.has(key)) throw new Error(`${this.what}: ${key} is already awaited`);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`${this.what}: ${key} did not happen within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

const createsBySimulator = new WeakMap<SimulatorHandle, Arrivals>();
/** The simulator has answered the create of a refund (key: out_refund_no). One subscription per simulator. */
export function createsAnswered(sim: SimulatorHandle): Arrivals {
  let arrivals = createsBySimulator.get(sim);
  if (!arrivals) {
    const created = new Arrivals('create answered by the simulator');
    sim.core.service.onCreateAnswered((refund) => created.arrive(refund.outRefundNo));
    createsBySimulator.set(sim, created);
    arrivals = created;
  }
  return arrivals;
}

/** The baseline activity has returned (key: the id it was given, the baseline workflow's ID). */
export const baselineSubmitted = new Arrivals('baseline activity returned');

/** The baseline activities, each telling `baselineSubmitted` when it returns (runWorker installs these). */
export function observedBaselineActivities(): ReturnType<typeof createBaselineActivities> {
  const base = createBaselineActivities();
  return {
    async baselineSubmit(id: string) {
      const accepted = await base.baselineSubmit(id);
      baselineSubmitted.arrive(id);
      return accepted;
    },
  };
}
