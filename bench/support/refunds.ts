/** Preparing and driving refunds through the real product path (starter → ledger → refund workflow → simulator). */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { refundWorkflowId } from '../../src/domain/ids';
import type { SimulatorHandle } from '../../src/simulator/server';
import { multiOperationStatuses } from '../../src/ledger-busy';
import {
  awaitRefundOutcome,
  RefundUndecided,
  requestRefund,
  type RefundOutcome,
  type RefundReceipt,
} from '../../src/starter';
import { MCHID } from './stack';
import { mapLimit, sleep } from './util';

export interface BenchRefund {
  outTradeNo: string;
  outRefundNo: string;
  workflowId: string;
}

/** Visibility queries the in-flight benchmarks count by (never a query to each workflow). */
export const REFUNDS = `WorkflowType = "refundWorkflow"`;
export const RUNNING_REFUNDS = `${REFUNDS} AND ExecutionStatus = "Running"`;
/** Accepted by WeChat and waiting (search attribute RefundStatus). */
export const PROCESSING_REFUNDS = `${RUNNING_REFUNDS} AND RefundStatus = "PROCESSING"`;
export const RUNNING_LEDGERS = `WorkflowType = "orderLedgerWorkflow" AND ExecutionStatus = "Running"`;

/** How many workflows match a visibility query. */
export const countWorkflows = (client: Client, query: string) => client.workflow.count(query).then((c) => c.count);

export const PAID_TOTAL_FEN = 1_000;
export const REFUND_FEN = 100;

/** One order per refund (WeChat's 60 s same-order spacing never applies), numbered under a run-unique tag. */
export function benchRefunds(tag: string, count: number): BenchRefund[] {
  return Array.from({ length: count }, (_, i) => ({
    outTradeNo: `T${tag}${i}`,
    outRefundNo: `R${tag}${i}`,
    workflowId: refundWorkflowId(`R${tag}${i}`),
  }));
}

/** Seeds the paid orders at the simulator (bank_type OTHERS = balance, else a bank card). */
export async function seedOrders(sim: SimulatorHandle, refunds: BenchRefund[], bankType: string, concurrency = 20) {
  const paidAt = new Date(sim.clock.now() - 3_600_000).toISOString();
  await mapLimit(refunds, concurrency, (r) =>
    sim.admin.seedOrder({
      mchid: MCHID,
      outTradeNo: r.outTradeNo,
      totalFen: PAID_TOTAL_FEN,
      paidAt,
      payer: { bankType },
    }),
  );
  return paidAt;
}

/** The order service's call: update-with-start on the order's ledger, which starts the refund workflow. */
export function requestBenchRefund(
  client: Client,
  taskQueue: string,
  r: BenchRefund,
  paidAt: string,
  payerBankType: string,
): Promise<RefundReceipt> {
  return requestRefund(
    { client, taskQueue, decisionTimeoutMs: 120_000 },
    {
      order: { outTradeNo: r.outTradeNo, paidTotalFen: PAID_TOTAL_FEN, paidAt, payerBankType },
      refund: { outRefundNo: r.outRefundNo, amountFen: REFUND_FEN, reason: 'bench', requestedBy: 'bench' },
    },
  );
}

/** What an update-with-start refused for: its code and message, and each operation's own status packed inside. */
function multiOperationReason(err: unknown): string | undefined {
  const e = err as { code?: number; message?: string };
  if (typeof e?.code !== 'number') return undefined;
  const statuses = multiOperationStatuses(err) ?? [];
  return [
    `code ${e.code}: ${e.message ?? ''}`,
    ...statuses.map((s) => `[${s.code} ${s.message}${s.detail ? ` ${s.detail}` : ''}]`),
  ].join(' ');
}

/**
 * The order service's request, retried as an order service would when the server refused without deciding (a gRPC
 * error, not the ledger's answer) or the ledger did not answer in time: the same out_refund_no, so a retry can never
 * make a second refund. Each retry's reason is counted in `retries` (and logged the first time): it is a finding, not
 * noise.
 */
export async function requestWithRetry(
  request: () => Promise<unknown>,
  retries: Map<string, number>,
  log: (line: string) => void,
  attempts = 6,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await request();
      return;
    } catch (err) {
      // Undecided: the ledger did not answer in time (its message says the same request is safe to repeat).
      const reason =
        err instanceof RefundUndecided ? 'undecided: no answer from the ledger in time' : multiOperationReason(err);
      if (reason === undefined || attempt >= attempts) throw err;
      const key = reason.slice(0, 300);
      if (!retries.has(key)) log(`request refused, retrying: ${key}`);
      retries.set(key, (retries.get(key) ?? 0) + 1);
      await sleep(1_000 * attempt);
    }
  }
}

export async function awaitOutcome(client: Client, receipt: RefundReceipt): Promise<RefundOutcome> {
  return awaitRefundOutcome(client, receipt, { startTimeoutMs: 10 * 60_000, pollMs: 50 });
}

/**
 * The refund's outcome by one long poll on its workflow's result (what the baseline side does too): for a timed
 * section, where awaitOutcome's describe and identity query would be extra calls the baseline does not make. The
 * workflow must exist (the simulator has answered its create).
 */
export async function refundResult(client: Client, r: BenchRefund, expected = 'SUCCESS'): Promise<RefundOutcome> {
  const outcome = (await client.workflow.getHandle(r.workflowId).result()) as RefundOutcome;
  if (outcome.state !== expected) throw new Error(`${r.outRefundNo} ended ${outcome.state}, not ${expected}`);
  return outcome;
}

/** WeChat settles the refund now (simulated clock frozen): the simulator sends its notification to the webhook. */
export function settleAtWechat(sim: SimulatorHandle, r: BenchRefund, status: 'SUCCESS' | 'CLOSED' = 'SUCCESS') {
  return sim.admin.forceOutcome(r.outRefundNo, { status, afterSeconds: 0 });
}

/**
 * Polls a workflow's query (every `everyMs`) until it reports `state`; the workflow may not exist yet. Each query is
 * work for the worker and the server: never inside a timed section (support/observe.ts observes at no cost).
 */
export async function waitForState<S>(
  handle: WorkflowHandle,
  query: QueryDefinition<S>,
  state: string,
  timeoutMs = 120_000,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const view = (await handle.query(query)) as unknown;
      const current = typeof view === 'string' ? view : (view as { state?: string }).state;
      if (current === state) return;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} did not reach ${state} in ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
