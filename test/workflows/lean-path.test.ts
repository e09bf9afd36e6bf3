/**
 * The lean path (LEAN_REFUND, LEAN_LEDGER in src/workflows/patches.ts): what one refund costs in Temporal, counted
 * from the histories of every workflow it touches, and the two cases where its ledger must hear from it by signal.
 * On the Java time-skipping server, like the other ledger tests.
 */
import { createTimeSkippingEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { MINUTE_MS } from '../../src/domain/poll-schedule';
import { ledgerQuery } from '../../src/workflows/definitions';
import { FakeGateway } from '../support/fake-gateway';
import { ledgerHandle, ledgerInput, newRefundNo, notify, recordHistory, requestRefund, withWorker } from './helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const { EventType } = temporal.api.enums.v1;

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

async function eventsOf(handle: { fetchHistory(): Promise<{ events?: HistoryEvent[] | null }> }) {
  return (await handle.fetchHistory()).events ?? [];
}
/**
 * Waits, reading history only, until `done(events)`. Not by query: on the Java test server a query that arrives while
 * a workflow task runs is answered by a workflow task of its own, which would count against the refund it observes.
 */
async function waitForHistory(
  handle: { fetchHistory(): Promise<{ events?: HistoryEvent[] | null }> },
  done: (events: HistoryEvent[]) => boolean,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await eventsOf(handle);
    if (done(events)) return events;
    if (Date.now() > deadline) throw new Error('history did not reach the expected point in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Whether the workflow finished a workflow task after its first event of `type`. */
const taskCompletedAfter = (type: number) => (events: HistoryEvent[]) => {
  const at = events.findIndex((e) => e.eventType === type);
  return at >= 0 && events.slice(at).some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
};
const countOf = (events: HistoryEvent[], type: number) => events.filter((e) => e.eventType === type).length;
const signalNames = (events: HistoryEvent[]) =>
  events.flatMap((e) =>
    e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName] : [],
  );

test('a one-refund order settled by a notification: 3 workflow tasks in the refund, 3 in its ledger, no reports by signal', async () => {
  const gateway = new FakeGateway({ channel: 'BALANCE' });
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 1_000 });
    const receipt = await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo(), amountFen: 400 });
    const refund = env.client.workflow.getHandle(receipt.refundWorkflowId);
    // PROCESSING: WeChat accepted the create and the refund waits for its first poll.
    await waitForHistory(refund, (events) => countOf(events, EventType.EVENT_TYPE_TIMER_STARTED) > 0);
    await notify(refund, gateway.settle(receipt.outRefundNo, 'SUCCESS'));
    expect(await refund.result()).toMatchObject({ state: 'SUCCESS', requestedFen: 400 });

    // The ledger hears the end as its child's completion.
    const ledger = ledgerHandle(env, order);
    const ledgerEvents = await waitForHistory(
      ledger,
      taskCompletedAfter(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED),
    );
    const view = await ledger.query(ledgerQuery);
    expect(view.money).toMatchObject({ succeededFen: 400, reservedFen: 0, refundableFen: 600 });
    expect(view.refunds[0]).toMatchObject({ status: 'SUCCESS', submissionSettled: true, channel: 'BALANCE' });

    const refundEvents = await eventsOf(refund);
    // The floor (1 activity + 1 signal) takes 3; the goal is at most twice that for refund and ledger together.
    expect(countOf(refundEvents, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)).toBe(3);
    // The ledger: started with the request (order read by a local activity, child started), child started (receipt
    // given), child completed. A local activity slower than the task's heartbeat can cost one task more.
    expect(countOf(ledgerEvents, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)).toBeLessThanOrEqual(4);
    // Nothing told by signal: no status report left the refund, none reached the ledger.
    expect(countOf(refundEvents, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)).toBe(0);
    expect(signalNames(ledgerEvents)).toEqual([]);
    // One patch marker per workflow; the order was read by a local activity; one timer for the one-year window.
    const markers = (events: HistoryEvent[]) => events.map((e) => e.markerRecordedEventAttributes?.markerName);
    expect(markers(refundEvents).filter((m) => m === 'core_patch')).toHaveLength(1);
    expect(markers(ledgerEvents).filter((m) => m === 'core_patch')).toHaveLength(1);
    expect(markers(ledgerEvents).filter((m) => m === 'core_local_activity')).toHaveLength(1);
    expect(countOf(ledgerEvents, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(0);
    expect(countOf(ledgerEvents, EventType.EVENT_TYPE_TIMER_STARTED)).toBe(1);
    // The refund's first search attributes came with its start: its upserts are the patch's and its two states'.
    expect(countOf(refundEvents, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)).toBe(3);
    await recordHistory('ledger-lean-one-refund', ledger);
    await recordHistory('refund-lean-settled-by-notification', refund);
  });
});

test('a second refund while the first create is in flight: the ledger asks the first for its report; a minute apart still', async () => {
  const gateway = new FakeGateway({ channel: 'BALANCE' });
  await withWorker(env, gateway, async (taskQueue) => {
    const order = ledgerInput(await env.currentTimeMs(), { paidTotalFen: 1_000 });
    const first = await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo('A'), amountFen: 300 });
    const second = await requestRefund(env, taskQueue, order, { outRefundNo: newRefundNo('B'), amountFen: 300 });
    await env.sleep(3 * MINUTE_MS); // the second waits a minute for its turn, then both are PROCESSING

    const creates = gateway.callsOf('createRefund');
    expect(creates.map((c) => (c.input as { outRefundNo: string }).outRefundNo)).toEqual([
      first.outRefundNo,
      second.outRefundNo,
    ]);
    // M9: the second create went out at least a minute after WeChat answered the first.
    expect(creates[1].at - creates[0].at).toBeGreaterThanOrEqual(MINUTE_MS);

    const a = env.client.workflow.getHandle(first.refundWorkflowId);
    const aEvents = await eventsOf(a);
    // The first refund was asked once, and reported once (the end of its create) by signal.
    expect(signalNames(aEvents)).toEqual(['reportSubmission']);
    expect(countOf(aEvents, EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)).toBe(1);
    const view = await ledgerHandle(env, order).query(ledgerQuery);
    expect(view.refunds.map((r) => [r.outRefundNo, r.submissionSettled])).toEqual([
      [first.outRefundNo, true],
      [second.outRefundNo, true],
    ]);
    expect(view.submitting).toBeUndefined();
    await recordHistory('refund-lean-asked-for-submission-report', a);
  });
});
