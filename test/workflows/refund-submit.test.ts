/**
 * Refund workflow, submission: the same out_refund_no and amounts on every retry, backoff by error class,
 * REJECTED on final errors, a visible wait for an operator on fixable ones.
 */
import { createTimeSkippingEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { HOUR_MS, MINUTE_MS } from '../../src/domain/poll-schedule';
import { Final, NeedsOperator, RetrySame, Throttled, UnknownOutcome } from '../../src/wechatpay/errors';
import type { GatewayRefundStatus } from '../../src/wechatpay/gateway';
import { retryNowUpdate } from '../../src/workflows/definitions';
import { FakeGateway } from '../support/fake-gateway';
import {
  expectTimesNear,
  notify,
  recordHistory,
  refundInput,
  startRefund,
  status,
  waitForState,
  withWorker,
} from './helpers';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const systemError = () => new RetrySame({ code: 'SYSTEM_ERROR', message: 'system timeout', httpStatus: 500 });
const gaps = (times: string[]) => times.slice(1).map((t, i) => Date.parse(t) - Date.parse(times[i]));

test('create failing 5 times with SYSTEM_ERROR, then accepted: one out_refund_no, one refund at WeChat', async () => {
  const gateway = new FakeGateway({ defaultProgress: [{ afterMs: 10 * MINUTE_MS, status: 'SUCCESS' }] });
  gateway.failNext('createRefund', systemError(), systemError(), systemError(), systemError(), systemError());
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    const handle = await startRefund(env, taskQueue, input);
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'SUCCESS', submitAttempts: 6 });

    const creates = gateway.callsOf('createRefund').map((c) => c.input);
    expect(creates).toHaveLength(6);
    for (const create of creates) {
      expect(create).toMatchObject({
        outRefundNo: input.outRefundNo,
        refundFen: input.refundFen,
        totalFen: input.totalFen,
      });
    }
    expect(new Set(creates.map((c) => JSON.stringify(c))).size).toBe(1); // byte-for-byte the same request
    expect(gateway.refundCount()).toBe(1);

    const view = await status(handle);
    expect(view.submitAttempts.map((a) => a.result)).toEqual([
      'FAILED',
      'FAILED',
      'FAILED',
      'FAILED',
      'FAILED',
      'ACCEPTED',
    ]);
    expect(view.submitAttempts[0].error).toMatchObject({
      errorClass: 'RetrySame',
      code: 'SYSTEM_ERROR',
      httpStatus: 500,
    });
    // RETRY_SAME advice: every resend is preceded by a query by out_refund_no (404 here, so the create goes out).
    const queriesBeforeAcceptance = gateway
      .callsOf('queryRefund')
      .filter((q) => q.at < gateway.callsOf('createRefund')[5].at + 1);
    expect(queriesBeforeAcceptance).toHaveLength(5);
    // Backing off: 1, 2, 4, 8, 16 minutes.
    expectTimesNear(
      gaps(view.submitAttempts.map((a) => a.at)),
      [1, 2, 4, 8, 16].map((m) => m * MINUTE_MS),
    );
    await recordHistory('refund-submit-system-error-5x', handle);
  });
});

test('a create accepted by WeChat whose reply was lost is adopted by the query, never sent twice', async () => {
  const gateway = new FakeGateway({ createStatus: 'SUCCESS', channel: 'BALANCE' });
  gateway.failNext('createRefund', {
    acceptedButThrow: new UnknownOutcome({ code: 'NETWORK_ERROR', message: 'socket hang up' }),
  });
  await withWorker(env, gateway, async (taskQueue) => {
    const handle = await startRefund(env, taskQueue, refundInput());
    const outcome = await handle.result();
    expect(outcome.state).toBe('SUCCESS');
    expect(gateway.callsOf('createRefund')).toHaveLength(1);
    expect(gateway.refundCount()).toBe(1);
    expect((await status(handle)).submitAttempts.map((a) => a.result)).toEqual(['FAILED', 'ADOPTED']);
    await recordHistory('refund-submit-lost-reply-adopted', handle);
  });
});

test('FREQUENCY_LIMITED backs off longer than a system error', async () => {
  const gateway = new FakeGateway({ createStatus: 'SUCCESS' });
  const limited = () => new Throttled({ code: 'FREQUENCY_LIMITED', message: 'too many requests', httpStatus: 429 });
  gateway.failNext('createRefund', limited(), limited());
  await withWorker(env, gateway, async (taskQueue) => {
    const handle = await startRefund(env, taskQueue, refundInput());
    expect((await handle.result()).state).toBe('SUCCESS');
    const view = await status(handle);
    expect(view.submitAttempts.map((a) => a.error?.errorClass ?? a.result)).toEqual([
      'Throttled',
      'Throttled',
      'ACCEPTED',
    ]);
    // RETRY_SAME would wait 1 and 2 minutes.
    expectTimesNear(gaps(view.submitAttempts.map((a) => a.at)), [2 * MINUTE_MS, 4 * MINUTE_MS]);
    expect(gateway.refundCount()).toBe(1);
    await recordHistory('refund-submit-throttled', handle);
  });
});

test.each([
  ['USER_ACCOUNT_ABNORMAL', 403, "payer's account is closed"],
  ['INVALID_REQUEST', 400, 'refund amount exceeds refundable'],
  ['TRADE_OVERDUE', 403, 'order paid more than a year ago'],
])('a final error (%s) ends the refund as REJECTED with the reason', async (code, httpStatus, message) => {
  const gateway = new FakeGateway();
  gateway.failNext('createRefund', new Final({ code, message, httpStatus, requestId: 'req-1' }));
  await withWorker(env, gateway, async (taskQueue) => {
    const handle = await startRefund(env, taskQueue, refundInput());
    const outcome = await handle.result();
    expect(outcome).toMatchObject({
      state: 'REJECTED',
      rejection: { errorClass: 'Final', code, message, httpStatus, requestId: 'req-1' },
      submitAttempts: 1,
      queries: 0,
    });
    expect(gateway.callsOf('queryRefund')).toHaveLength(0);
    expect((await handle.describe()).searchAttributes.RefundStatus).toEqual(['REJECTED']);
    if (code === 'USER_ACCOUNT_ABNORMAL') await recordHistory('refund-submit-final-error', handle);
  });
});

test('merchant balance short: waits visibly in MANUAL_REVIEW, then an operator retries after the top-up', async () => {
  const gateway = new FakeGateway();
  const notEnough = () => new NeedsOperator({ code: 'NOT_ENOUGH', message: 'balance insufficient', httpStatus: 403 });
  gateway.failNext('createRefund', notEnough());
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    const handle = await startRefund(env, taskQueue, input);
    const waiting = await waitForState(handle, 'MANUAL_REVIEW');
    expect(waiting).toMatchObject({ reviewReason: 'SUBMIT_NEEDS_OPERATOR', note: 'NOT_ENOUGH: balance insufficient' });
    expectTimesNear([Date.parse(waiting.nextSubmitAt!) - Date.parse(waiting.submitAttempts[0].at)], [HOUR_MS]);
    expect((await handle.describe()).searchAttributes.RefundStatus).toEqual(['MANUAL_REVIEW']);
    // The Web UI's "current details" say what is wrong and what to do.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('**MANUAL_REVIEW**');
    expect(metadata.currentDetails).toContain('NOT_ENOUGH: balance insufficient. Fix it, then send retryNow.');
    expect(gateway.refundCount()).toBe(0);

    // The merchant tops up; the operator does not want to wait for the hourly retry.
    const answer = await handle.executeUpdate(retryNowUpdate, { args: [{ operator: 'alice', note: 'topped up' }] });
    expect(answer).toEqual({ state: 'MANUAL_REVIEW', action: 'resubmit' });
    const accepted = await waitForState(handle, 'PROCESSING');
    expect(accepted.operatorActions).toEqual([expect.objectContaining({ action: 'retryNow', operator: 'alice' })]);
    expect(accepted.transitions.map((t) => t.to)).toEqual(['MANUAL_REVIEW', 'PROCESSING']);

    await notify(handle, gateway.settle(input.outRefundNo, 'SUCCESS'));
    expect(await handle.result()).toMatchObject({ state: 'SUCCESS', submitAttempts: 2 });
    expect(
      gateway
        .callsOf('createRefund')
        .every((c) => 'outRefundNo' in c.input && c.input.outRefundNo === input.outRefundNo),
    ).toBe(true);
    await recordHistory('refund-submit-balance-short-operator-retry', handle);
  });
});

test('merchant balance short: retried on its own every few hours until the top-up lands', async () => {
  const gateway = new FakeGateway({ createStatus: 'SUCCESS' });
  const notEnough = () => new NeedsOperator({ code: 'NOT_ENOUGH', message: 'balance insufficient', httpStatus: 403 });
  gateway.failNext('createRefund', notEnough(), notEnough(), notEnough());
  await withWorker(env, gateway, async (taskQueue) => {
    const handle = await startRefund(env, taskQueue, refundInput());
    expect((await handle.result()).state).toBe('SUCCESS');
    const view = await status(handle);
    expectTimesNear(
      gaps(view.submitAttempts.map((a) => a.at)),
      [1, 2, 4].map((h) => h * HOUR_MS),
    );
    await recordHistory('refund-submit-balance-short-auto-retry', handle);
  });
});

test('retryNow is refused at once for a refund that is already final', async () => {
  const gateway = new FakeGateway({ createStatus: 'SUCCESS' });
  await withWorker(env, gateway, async (taskQueue) => {
    const handle = await startRefund(env, taskQueue, refundInput());
    await handle.result();
    await expect(handle.executeUpdate(retryNowUpdate, { args: [{}] })).rejects.toThrow();
  });
});

test('a create reply with a status nobody knows goes to MANUAL_REVIEW; retryNow then queries, never re-creates', async () => {
  const gateway = new FakeGateway({ createStatus: 'SOMETHING_NEW' as GatewayRefundStatus });
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    gateway.progress(input.outRefundNo, [{ afterMs: 10 * MINUTE_MS, status: 'SUCCESS' }]);
    const handle = await startRefund(env, taskQueue, input);
    const review = await waitForState(handle, 'MANUAL_REVIEW');
    expect(review).toMatchObject({ reviewReason: 'UNRECOGNISED_STATUS', note: 'WeChat status SOMETHING_NEW' });

    await env.sleep(15 * MINUTE_MS);
    expect(await handle.executeUpdate(retryNowUpdate, { args: [{}] })).toEqual({
      state: 'MANUAL_REVIEW',
      action: 'query',
    });
    expect(await handle.result()).toMatchObject({ state: 'SUCCESS' });
    expect(gateway.callsOf('createRefund')).toHaveLength(1);
  });
});
