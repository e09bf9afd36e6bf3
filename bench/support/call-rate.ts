/**
 * WeChat calls per second as the simulator saw them: its call counters (in process, no HTTP) read once a second, so
 * the peak is a real one-second figure, comparable with a merchant's budget ("never more than N calls in any second").
 */
import type { SimulatorHandle } from '../../src/simulator/server';

export interface CallRatePeaks {
  /** Highest calls in one second, per endpoint, and for all endpoints together. */
  peakPerSecond: Record<string, number>;
  peakAllPerSecond: number;
  /** Seconds observed. */
  seconds: number;
}

export class CallRateMeter {
  private last: Record<string, number> = {};
  private lastAt = 0;
  private peaks: Record<string, number> = {};
  private peakAll = 0;
  private seconds = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly sim: SimulatorHandle) {}

  private totals(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.sim.core.calls.snapshot()).map(([k, v]) => [k, v.total]));
  }

  start(): void {
    this.last = this.totals();
    this.lastAt = Date.now();
    this.timer = setInterval(() => this.tick(), 1_000);
  }

  private tick(): void {
    const now = this.totals();
    // A busy event loop fires late: a 1.4 s window counts as 1.4 s, never as one second.
    const windowSeconds = Math.max(1, (Date.now() - this.lastAt) / 1000);
    this.lastAt = Date.now();
    let all = 0;
    for (const [endpoint, total] of Object.entries(now)) {
      const delta = Math.round((total - (this.last[endpoint] ?? 0)) / windowSeconds);
      all += delta;
      this.peaks[endpoint] = Math.max(this.peaks[endpoint] ?? 0, delta);
    }
    this.peakAll = Math.max(this.peakAll, all);
    this.seconds += 1;
    this.last = now;
  }

  /** Peaks since start (or the last reset); the meter keeps running. */
  read(): CallRatePeaks {
    return { peakPerSecond: { ...this.peaks }, peakAllPerSecond: this.peakAll, seconds: this.seconds };
  }

  /** Starts a new phase: peaks from now on. */
  reset(): CallRatePeaks {
    const r = this.read();
    this.peaks = {};
    this.peakAll = 0;
    this.seconds = 0;
    return r;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
