/** Shared set-up for the workflow tests: a worker on its own task queue, with activities over a fake gateway. */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import type { RefundGateway, RefundNotification } from '../../src/wechatpay/gateway';
import { orderWorkflowId, refundWorkflowId } from '../../src/domain/ids';
import type { OrderLedgerInput, RefundRequest, RefundWorkflowInput } from '../../src/domain/schemas';
import {
  refundListQuery,
  refundNotifiedSignal,
  requestRefundUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import type { RefundReceipt } from '../../src/workflows/types';
import type { refundWorkflow } from '../../src/workflows/refund';
import { orderLedgerWorkflow } from '../../src/workflows/order-ledger';
import { testDataConverter, uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { registerFakeOrder } from '../support/fake-gateway';
import { recordHistory } from '../replay/record';
import { pollJitterMs } from '../../src/domain/poll-jitter';

export async function createWorker(env: TestWorkflowEnvironment, gateway: RefundGateway, taskQueue: string) {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ gateway }),
    dataConverter: testDataConverter(),
  });
}

/** Workflows started by the current test: terminated when it ends, so a failed test cannot stall the next one
 * (the time-skipping server does not skip time while a workflow task waits for a worker that is gone). */
const started = new Set<WorkflowHandle>();
export function track<H extends WorkflowHandle>(handle: H): H {
  started.add(handle);
  return handle;
}

/** Runs `fn` while a worker serves a fresh task queue. */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  gateway: RefundGateway,
  fn: (taskQueue: string) => Promise<T>,
  taskQueue = uniqueTaskQueue('refund'),
): Promise<T> {
  const worker = await createWorker(env, gateway, taskQueue);
  return worker.runUntil(async () => {
    try {
      return await fn(taskQueue);
    } finally {
      await terminateStarted(env);
    }
  });
}

/**
 * Terminates what the test started, including the refunds a ledger started (they outlive it: ABANDON).
 *
 * Two quirks of the Java time-skipping server shape this: time stops skipping for good (1) when a workflow is
 * terminated while one of its activity or workflow tasks is still outstanding, and (2) when a child ends after its
 * parent closed. So: wait until nothing is in flight, then terminate children before their ledgers.
 */
export async function terminateStarted(env: TestWorkflowEnvironment): Promise<void> {
  const handles = [...started];
  started.clear();
  const children: string[] = [];
  for (const handle of handles) {
    if (!handle.workflowId.startsWith('refund-order-')) continue;
    const refunds = await handle.query(refundListQuery).catch(() => []);
    children.push(...refunds.map((r) => r.refundWorkflowId));
  }
  const terminateQuietly = async (handle: WorkflowHandle) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const d = await handle.describe().catch(() => undefined);
      if (!d || d.status.name !== 'RUNNING') return;
      const busy = (d.raw.pendingActivities?.length ?? 0) > 0 || d.raw.pendingWorkflowTask != null;
      if (!busy || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await handle.terminate('test finished').catch(() => undefined);
  };
  await Promise.all(children.map((id) => terminateQuietly(env.client.workflow.getHandle(id))));
  await Promise.all(handles.map(terminateQuietly));
}

let counter = 0;
/** A unique, valid out_refund_no per test (the ID is the business key, so tests must not collide). */
export function newRefundNo(prefix = 'R'): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}
export function newTradeNo(prefix = 'T'): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}x${counter}`;
}

export function refundInput(overrides: Partial<RefundWorkflowInput> = {}): RefundWorkflowInput {
  return {
    outRefundNo: newRefundNo(),
    outTradeNo: newTradeNo(),
    refundFen: 1_000,
    totalFen: 5_000,
    reason: 'goods returned',
    payerBankType: 'CMB_CREDIT',
    ...overrides,
  };
}

export async function startRefund(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  input: RefundWorkflowInput,
): Promise<WorkflowHandle<typeof refundWorkflow>> {
  const handle = await env.client.workflow.start('refundWorkflow', {
    taskQueue,
    workflowId: refundWorkflowId(input.outRefundNo, input.subMchid),
    args: [input],
    staticSummary: `Refund ${input.refundFen} fen of ${input.outTradeNo}`,
  });
  return track(handle as WorkflowHandle<typeof refundWorkflow>);
}

export async function notify(handle: WorkflowHandle, notification: RefundNotification): Promise<void> {
  await handle.signal(refundNotifiedSignal, notification);
}

export async function status(handle: WorkflowHandle) {
  return handle.query(statusQuery);
}

/** Waits (in real time, polling the query) until the refund reaches a state; time skipping is not involved. */
export async function waitForState(handle: WorkflowHandle, state: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await status(handle);
    if (view.state === state) return view;
    if (Date.now() > deadline) throw new Error(`refund stayed ${view.state}, expected ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { recordHistory };

// ---------------------------------------------------------------------------------------------------------------
// Order ledger

export function ledgerInput(nowMs: number, overrides: Partial<OrderLedgerInput> = {}): OrderLedgerInput {
  return {
    outTradeNo: newTradeNo(),
    transactionId: '4200001234202405011234567890',
    paidTotalFen: 10_000,
    paidAt: new Date(nowMs - 60 * 60 * 1000).toISOString(),
    payerBankType: 'CMB_CREDIT',
    ...overrides,
  };
}

/**
 * What the order service does: update-with-start, so the first refund request creates the ledger in the same call
 * and later ones reach the running ledger.
 */
export async function requestRefund(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  ledger: OrderLedgerInput,
  request: RefundRequest,
): Promise<RefundReceipt> {
  // WeChat knows the order as the test describes it; the ledger reads it from there.
  const { paidTotalFen, paidAt, payerBankType, ...identity } = ledger;
  if (paidTotalFen !== undefined && paidAt !== undefined) {
    registerFakeOrder({ ...identity, paidTotalFen, paidAt, payerBankType });
  }
  const startWorkflowOperation = new WithStartWorkflowOperation(orderLedgerWorkflow, {
    workflowId: orderWorkflowId(ledger.outTradeNo, { mchid: ledger.mchid, subMchid: ledger.subMchid }),
    taskQueue,
    workflowIdConflictPolicy: 'USE_EXISTING',
    args: [identity],
    staticSummary: `Refunds of order ${ledger.outTradeNo}`,
  });
  try {
    return await env.client.workflow.executeUpdateWithStart(requestRefundUpdate, {
      args: [request],
      startWorkflowOperation,
    });
  } finally {
    track(
      await startWorkflowOperation
        .workflowHandle()
        .catch(() =>
          env.client.workflow.getHandle(
            orderWorkflowId(ledger.outTradeNo, { mchid: ledger.mchid, subMchid: ledger.subMchid }),
          ),
        ),
    );
  }
}

export function ledgerHandle(env: TestWorkflowEnvironment, ledger: OrderLedgerInput) {
  return track(
    env.client.workflow.getHandle<typeof orderLedgerWorkflow>(
      orderWorkflowId(ledger.outTradeNo, { mchid: ledger.mchid, subMchid: ledger.subMchid }),
    ),
  );
}

/**
 * Workflow-time measurements are exact on the schedule but each workflow task starts a little after its timer fires
 * (more on a loaded machine): every actual time must be at or just after the expected one.
 */
export function expectTimesNear(actualMs: number[], expectedMs: number[], slackMs = 5_000): void {
  expect(actualMs).toHaveLength(expectedMs.length);
  const off = actualMs.map((a, i) => a - expectedMs[i]).filter((d) => d < -1_000 || d > slackMs);
  expect({ actualMs, expectedMs, off }).toEqual({ actualMs, expectedMs, off: [] });
}

/**
 * The scheduled poll offsets `expectedMs` (from acceptance) as a refund numbered `outRefundNo` runs them: each moved
 * by its per-refund spread (src/domain/poll-jitter.ts), computed from the wait the workflow planned after the poll
 * before (`actualMs`, as observed).
 */
export function withPollJitter(expectedMs: number[], actualMs: number[], outRefundNo: string): number[] {
  return expectedMs.map((t, i) => t + pollJitterMs(outRefundNo, t - (i === 0 ? 0 : (actualMs[i - 1] ?? 0))));
}

/** The reason the workflow gave for rejecting an update (the client wraps it in WorkflowUpdateFailedError). */
export async function rejectionOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return (err as WorkflowUpdateFailedError).cause?.message ?? '';
  }
  throw new Error('update was accepted');
}

/** A receipt without `current` (where the refund stands at each answer): what the same request must get every time. */
export function receiptIdentity<R extends { current?: unknown }>(receipt: R): Omit<R, 'current'> {
  const { current: _current, ...identity } = receipt;
  return identity;
}
