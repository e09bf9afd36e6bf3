/**
 * The activity-only workers of the merchants' budgeted task queues (docs/merchants.md "Call budgets"): two per
 * merchant, `<queue>.wechat.<mchid>.create` and `….query` (domain/merchant-queues.ts), each with
 * `maxTaskQueueActivitiesPerSecond` set to half the merchant's budget (below). The server enforces that rate per task
 * queue across
 * all pollers, so however many worker processes run, a merchant's calls stay within its budget, and one merchant's
 * backlog never delays another's. `serve()` is called again after each registry reload: it starts the queues of new
 * merchants, restarts those whose budget changed, and stops those of removed merchants once their running activities
 * have finished (Worker.shutdown lets them complete).
 */
import { NativeConnection, Worker, type Logger } from '@temporalio/worker';
import type { LoadedDataConverter } from '@temporalio/common';
import { merchantTaskQueue, type MerchantCallKind } from '../domain/merchant-queues';
import type { CallBudget, MerchantEntry } from './types';

type DataConverterOption = Parameters<typeof Worker.create>[0]['dataConverter'];

export interface MerchantQueueWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  /** The main task queue; the merchants' queues are named after it. */
  taskQueue: string;
  dataConverter?: DataConverterOption | LoadedDataConverter;
  activities: object;
  log: Logger;
  /** A queue's worker failed (not a shutdown): the caller stops the process. */
  onFatal: (err: unknown) => void;
}

interface Served {
  budget: CallBudget;
  workers: Array<{ worker: Worker; running: Promise<void> }>;
}

/**
 * A budget is a ceiling: never more calls than this in any one second. The server's limiter is a token bucket whose
 * burst equals its rate, so after a quiet spell one second can see the full bucket plus a second's refill, twice the
 * rate (measured: 4 in one second at a rate of 2). A queue rate of half the budget therefore keeps every second within
 * it; the steady rate is half the budget.
 */
export const QUEUE_RATE_SHARE_OF_BUDGET = 0.5;

const KINDS: ReadonlyArray<{ kind: MerchantCallKind; rate: (b: CallBudget) => number }> = [
  { kind: 'create', rate: (b) => b.createsPerSecond * QUEUE_RATE_SHARE_OF_BUDGET },
  { kind: 'query', rate: (b) => b.queriesPerSecond * QUEUE_RATE_SHARE_OF_BUDGET },
];

export class MerchantQueueWorkers {
  private readonly served = new Map<string, Served>();
  private stopped = false;

  constructor(private readonly options: MerchantQueueWorkersOptions) {}

  /** How many budgeted queues are being polled. */
  get size(): number {
    let n = 0;
    for (const s of this.served.values()) n += s.workers.length;
    return n;
  }

  /** Serve exactly these merchants' queues at their budgets. */
  async serve(merchants: readonly MerchantEntry[]): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map(merchants.map((m) => [m.mchid, m]));
    for (const [mchid, served] of this.served) {
      const next = wanted.get(mchid);
      if (!next || !sameBudget(next.budget, served.budget)) await this.retire(mchid);
    }
    for (const m of merchants) {
      if (!this.served.has(m.mchid)) this.served.set(m.mchid, await this.start(m));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const mchid of [...this.served.keys()]) await this.retire(mchid);
  }

  private async start(m: MerchantEntry): Promise<Served> {
    const { connection, namespace, taskQueue, dataConverter, activities, log } = this.options;
    const workers = [];
    for (const { kind, rate } of KINDS) {
      const queue = merchantTaskQueue(taskQueue, m.mchid, kind);
      const worker = await Worker.create({
        connection,
        namespace,
        taskQueue: queue,
        dataConverter: dataConverter as DataConverterOption,
        activities,
        maxTaskQueueActivitiesPerSecond: rate(m.budget),
      });
      // SIGINT/SIGTERM stop every worker of the process (the SDK's Runtime), these with the main one.
      const running = worker.run().catch((err: unknown) => {
        // A merchant's calls would wait unserved: a fatal error, so the process is restarted whole.
        log.error(`worker of ${queue} failed: ${String(err)}`);
        this.options.onFatal(err);
      });
      workers.push({ worker, running });
    }
    log.info(
      `merchant ${m.mchid}: polling its queues at ${m.budget.createsPerSecond} creates/s and ${m.budget.queriesPerSecond} queries/s`,
    );
    return { budget: m.budget, workers };
  }

  private async retire(mchid: string): Promise<void> {
    const served = this.served.get(mchid);
    if (!served) return;
    this.served.delete(mchid);
    for (const { worker, running } of served.workers) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    }
  }
}

function sameBudget(a: CallBudget, b: CallBudget): boolean {
  return a.createsPerSecond === b.createsPerSecond && a.queriesPerSecond === b.queriesPerSecond;
}
