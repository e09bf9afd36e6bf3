/**
 * Order ledger across continue-as-new: the state is carried, and the refund workflows (started by an earlier run,
 * parent close policy ABANDON) keep reporting to whichever run is current.
 *
 * Its own file and environment: once a child completes while the run that started it has already continued as new,
 * the Java time-skipping server stops skipping time (the completion is addressed to a closed run). So after the
 * children settle, this test only waits in real time and never asks the server to skip again.
 */
import { createTimeSkippingEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { MINUTE_MS } from '../../src/domain/poll-schedule';
import { ledgerQuery } from '../../src/workflows/definitions';
import type { LedgerView } from '../../src/workflows/definitions';
import { FakeGateway } from '../support/fake-gateway';
import { ledgerHandle, ledgerInput, newRefundNo, notify, recordHistory, requestRefund, withWorker } from './helpers';

// The Java test server's continue-as-new is not atomic (temporalio/sdk-java#1538): about one run in five here, it
// stops skipping time after the ledger continues as new and the test would hang. Each attempt gets a fresh server;
// a real regression fails all three.
jest.retryTimes(2, { logErrorsBeforeRetry: true });
jest.setTimeout(40_000);

let env: TestWorkflowEnvironment;
beforeEach(async () => {
  env = await createTimeSkippingEnv();
});
afterEach(async () => {
  await env?.teardown();
});

async function waitForLedger(handle: ReturnType<typeof ledgerHandle>, done: (view: LedgerView) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const view = await handle.query(ledgerQuery);
    if (done(view)) return view;
    if (Date.now() > deadline) throw new Error(`ledger never reached the expected state: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('continue-as-new keeps the ledger: refunds, reservations, receipts, and children still report back', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 10_000, maxHistoryEvents: 20 });
    const requests = ['A', 'B', 'C'].map((p) => ({ outRefundNo: newRefundNo(p), amountFen: 1_000 }));
    const receipts = [];
    for (const request of requests) receipts.push(await requestRefund(env, taskQueue, order, request));
    const ledger = ledgerHandle(env, order);
    const { runId: firstRunId } = await ledger.describe();

    await env.sleep(5 * MINUTE_MS); // all three submitted, 60 s apart, across runs
    const submitted = await ledger.query(ledgerQuery);
    expect(submitted.continuedAsNew).toBeGreaterThanOrEqual(1);
    expect(submitted.refunds.map((r) => r.status)).toEqual(['PROCESSING', 'PROCESSING', 'PROCESSING']);

    const [a, b] = receipts;
    await notify(env.client.workflow.getHandle(a.refundWorkflowId), gateway.settle(a.outRefundNo, 'SUCCESS'));
    await notify(env.client.workflow.getHandle(b.refundWorkflowId), gateway.settle(b.outRefundNo, 'CLOSED'));
    const view = await waitForLedger(ledger, (v) => v.money.succeededFen === 1_000 && v.money.releasedFen === 1_000);

    expect((await ledger.describe()).runId).not.toBe(firstRunId);
    expect(view.refunds.map((r) => [r.outRefundNo, r.status])).toEqual([
      [requests[0].outRefundNo, 'SUCCESS'],
      [requests[1].outRefundNo, 'CLOSED'],
      [requests[2].outRefundNo, 'PROCESSING'],
    ]);
    expect(view.money).toMatchObject({ reservedFen: 1_000, refundableFen: 8_000, refundCount: 3 });
    expect(view.queue).toEqual([]);
    expect(gateway.refundCount()).toBe(3);

    // Requests after continue-as-new still get the original answers and still obey the caps.
    expect(await requestRefund(env, taskQueue, order, requests[0])).toEqual(receipts[0]);
    const tooMuch = requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 8_001 });
    await expect(tooMuch).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(tooMuch).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/refundable amount .*: 8000 fen/) },
    });
    await recordHistory('ledger-after-continue-as-new', ledger);
  });
});
