/** Calls per endpoint, by HTTP status (or RESET / HANG for replies never sent) and by WeChat code. */
import type { CallCounts } from './admin-schemas';

export class CallStats {
  private counts: CallCounts = {};

  record(endpoint: string, outcome: number | 'RESET' | 'HANG', code?: string): void {
    const e = (this.counts[endpoint] ??= { total: 0, byStatus: {}, byCode: {} });
    e.total += 1;
    e.byStatus[String(outcome)] = (e.byStatus[String(outcome)] ?? 0) + 1;
    if (code) e.byCode[code] = (e.byCode[code] ?? 0) + 1;
  }

  snapshot(): CallCounts {
    return JSON.parse(JSON.stringify(this.counts)) as CallCounts;
  }

  reset(): void {
    this.counts = {};
  }
}
