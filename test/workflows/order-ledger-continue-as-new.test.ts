/**
 * Order ledger across continue-as-new: the state is carried, and the refund workflows (started by an earlier run,
 * parent close policy ABANDON) keep reporting to whichever run is current.
 *
 * On the real dev server, in real time (about 70 s). The Java time-skipping server cannot run it: its
 * continue-as-new is not atomic (temporalio/sdk-java#1538), and once a child completes after the run that started it
 * has continued as new, the ledger stops answering queries there. Refund workflows are started when they are
 * requested, by the ledger's first run, so that is exactly what this test does. It hung there on every run on an idle
 * machine (and passed only under load), so it moved here.
 */
import { createDevServerEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ledgerQuery } from '../../src/workflows/definitions';
import type { LedgerView } from '../../src/workflows/types';
import { FakeGateway } from '../support/fake-gateway';
import {
  ledgerHandle,
  ledgerInput,
  newRefundNo,
  notify,
  receiptIdentity,
  recordHistory,
  requestRefund,
  withWorker,
} from './helpers';

jest.setTimeout(150_000);

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createDevServerEnv();
});
afterAll(async () => {
  await env?.teardown();
});

async function waitForLedger(
  handle: ReturnType<typeof ledgerHandle>,
  done: (view: LedgerView) => boolean,
  withinMs = 15_000,
) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const view = await handle.query(ledgerQuery);
    if (done(view)) return view;
    if (Date.now() > deadline) throw new Error(`ledger never reached the expected state: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('continue-as-new keeps the ledger: refunds, reservations, receipts, and children still report back', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(Date.now(), { paidTotalFen: 10_000, maxHistoryEvents: 20 });
    const requests = ['A', 'B', 'C'].map((p) => ({ outRefundNo: newRefundNo(p), amountFen: 1_000 }));
    const receipts = [];
    for (const request of requests) receipts.push(await requestRefund(env, taskQueue, order, request));
    const ledger = ledgerHandle(env, order);
    const { runId: firstRunId } = await ledger.describe();

    // A is sent at once, B a minute later (M9), C a minute after B: A and B are enough to cross runs.
    const processing = (v: LedgerView) => v.refunds.filter((r) => r.status === 'PROCESSING').length;
    const submitted = await waitForLedger(ledger, (v) => processing(v) === 2, 100_000);
    expect(submitted.continuedAsNew).toBeGreaterThanOrEqual(1);
    expect(submitted.refunds.map((r) => r.status)).toEqual(['PROCESSING', 'PROCESSING', 'QUEUED']);

    const [a, b] = receipts;
    await notify(env.client.workflow.getHandle(a.refundWorkflowId), gateway.settle(a.outRefundNo, 'SUCCESS'));
    await notify(env.client.workflow.getHandle(b.refundWorkflowId), gateway.settle(b.outRefundNo, 'CLOSED'));
    const view = await waitForLedger(ledger, (v) => v.money.succeededFen === 1_000 && v.money.releasedFen === 1_000);

    expect((await ledger.describe()).runId).not.toBe(firstRunId);
    expect(view.refunds.map((r) => [r.outRefundNo, r.status])).toEqual([
      [requests[0].outRefundNo, 'SUCCESS'],
      [requests[1].outRefundNo, 'CLOSED'],
      [requests[2].outRefundNo, 'QUEUED'],
    ]);
    expect(view.money).toMatchObject({ reservedFen: 1_000, refundableFen: 8_000, refundCount: 3 });
    expect(view.queue).toEqual([requests[2].outRefundNo]);
    expect(gateway.refundCount()).toBe(2);

    // Requests after continue-as-new still get the original answers and still obey the caps.
    expect(receiptIdentity(await requestRefund(env, taskQueue, order, requests[0]))).toEqual(
      receiptIdentity(receipts[0]),
    );
    const tooMuch = requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 8_001 });
    await expect(tooMuch).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(tooMuch).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/refundable amount .*: 8000 fen/) },
    });
    // The run that continued told A (in flight) to report its end by signal; the new run heard it that way.
    const aHistory = await env.client.workflow.getHandle(a.refundWorkflowId).fetchHistory();
    const signalled = (aHistory.events ?? []).flatMap(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? [],
    );
    expect(signalled).toContain('ledgerContinued');
    // (test/fixtures/histories/ledger-after-continue-as-new.json is the same run before LEAN_LEDGER.)
    // The first run, which told A and continued: a closed, complete history (the current run may have just started).
    await recordHistory(
      'ledger-lean-handed-off-then-continued',
      env.client.workflow.getHandle(ledger.workflowId, firstRunId),
    );
    await recordHistory('refund-lean-told-ledger-continued', env.client.workflow.getHandle(a.refundWorkflowId));
  });
});
