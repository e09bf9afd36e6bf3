/**
 * Refund workflow, ABNORMAL: the card route failed; an operator supplies bank details (validated at once), the
 * workflow applies abnormal refund and follows the refund on the bank-card schedule again.
 */
import { createTimeSkippingEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { HOUR_MS, MINUTE_MS } from '../../src/domain/poll-schedule';
import { resolveAbnormalUpdate, retryNowUpdate } from '../../src/workflows/definitions';
import type { ResolveAbnormalRequest } from '../../src/domain/schemas';
import { FakeGateway } from '../support/fake-gateway';
import {
  expectTimesNear,
  notify,
  withPollJitter,
  recordHistory,
  refundInput,
  startRefund,
  status,
  waitForState,
  withWorker,
  rejectionOf,
} from './helpers';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const goodCard: ResolveAbnormalRequest = {
  type: 'USER_BANK_CARD',
  bankType: 'ICBC_DEBIT',
  bankAccount: '6222020202020202021',
  realName: '张三',
  operator: 'alice',
};

test('ABNORMAL, then an operator resolves it with bank details, then SUCCESS', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    gateway.progress(input.outRefundNo, [{ afterMs: 2 * MINUTE_MS, status: 'ABNORMAL' }]);
    gateway.progressAfterApply(input.outRefundNo, [
      { afterMs: 20 * HOUR_MS, status: 'SUCCESS', channel: 'OTHER_BANKCARD' },
    ]);
    const handle = await startRefund(env, taskQueue, input);
    await env.sleep(3 * MINUTE_MS);

    // WeChat says ABNORMAL; the workflow confirms it with a query before alerting.
    const abnormalNotice = gateway.notificationFor(input.outRefundNo, 'ABNORMAL', 'EV-abnormal-1');
    await notify(handle, abnormalNotice);
    const abnormal = await waitForState(handle, 'ABNORMAL');
    expect(abnormal.polls.at(-1)).toMatchObject({
      reason: 'VERIFY_NOTIFICATION',
      result: 'ABNORMAL',
      decision: 'apply',
    });
    expect(abnormal.notifications).toEqual([expect.objectContaining({ decision: 'verifying' })]);
    expect((await handle.describe()).searchAttributes.RefundStatus).toEqual(['ABNORMAL']);

    // Bad input is rejected at once by the validator, naming the field; nothing reaches WeChat.
    const badAccount = await rejectionOf(
      handle.executeUpdate(resolveAbnormalUpdate, { args: [{ ...goodCard, bankAccount: '6222-0202' }] }),
    );
    expect(badAccount).toMatch(/^bankAccount: .*12–19 digits/);
    const badBank = await rejectionOf(
      handle.executeUpdate(resolveAbnormalUpdate, {
        args: [{ ...goodCard, bankType: 'CMB_CREDIT' } as unknown as ResolveAbnormalRequest],
      }),
    );
    expect(badBank).toMatch(/^bankType: .*debit cards only/);
    const missing = await rejectionOf(
      handle.executeUpdate(resolveAbnormalUpdate, {
        args: [{ type: 'USER_BANK_CARD' } as unknown as ResolveAbnormalRequest],
      }),
    );
    expect(missing).toMatch(/bankType/);
    expect(gateway.callsOf('applyAbnormalRefund')).toHaveLength(0);

    const resolved = await handle.executeUpdate(resolveAbnormalUpdate, { args: [goodCard] });
    expect(resolved).toMatchObject({ state: 'PROCESSING', channel: 'OTHER_BANKCARD', schedule: { kind: 'BANK_CARD' } });
    expect(resolved.abnormalResolutions).toEqual([
      expect.objectContaining({
        type: 'USER_BANK_CARD',
        bankType: 'ICBC_DEBIT',
        operator: 'alice',
        result: 'ACCEPTED',
      }),
    ]);
    expect(JSON.stringify(resolved)).not.toContain(goodCard.type === 'USER_BANK_CARD' ? goodCard.bankAccount : '');
    expect(gateway.callsOf('applyAbnormalRefund')[0].input).toMatchObject({
      refundId: abnormal.refundId,
      type: 'USER_BANK_CARD',
    });

    // A late re-delivery of the old ABNORMAL notification, and a new one, change nothing.
    await notify(handle, abnormalNotice);
    await notify(handle, gateway.notificationFor(input.outRefundNo, 'ABNORMAL', 'EV-abnormal-2'));
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'SUCCESS', channel: 'OTHER_BANKCARD' });

    const view = await status(handle);
    expect(view.transitions.map((t) => `${t.to}:${t.evidence}`)).toEqual([
      'PROCESSING:create',
      'ABNORMAL:query',
      'PROCESSING:apply-abnormal',
      'SUCCESS:query',
    ]);
    expect(view.notifications.find((n) => n.notificationId === 'EV-abnormal-1')?.deliveries).toBe(2);
    // After the apply, the bank-card schedule restarts: +1 min, +5, +30 min, +2 h, +6 h, +12 h, +24 h (each moved by
    // this refund's own spread, domain/poll-jitter.ts).
    const applyAt = Date.parse(view.transitions[2].at);
    const after = view.polls
      .filter((p) => p.reason === 'SCHEDULED' && Date.parse(p.at) > applyAt)
      .map((p) => Date.parse(p.at) - applyAt);
    const schedule = [1, 5, 30, 120, 360, 720, 1440].map((m) => m * MINUTE_MS);
    expectTimesNear(after, withPollJitter(schedule, after, input.outRefundNo));
    expect((await handle.describe()).searchAttributes.RefundChannel).toEqual(['OTHER_BANKCARD']);
    await recordHistory('refund-abnormal-operator-success', handle);
  });
});

test('resolveAbnormal is rejected at once when the refund is not ABNORMAL', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    const handle = await startRefund(env, taskQueue, input);
    await waitForState(handle, 'PROCESSING');
    const message = await rejectionOf(handle.executeUpdate(resolveAbnormalUpdate, { args: [goodCard] }));
    expect(message).toMatch(/is PROCESSING, not ABNORMAL/);
    expect(gateway.callsOf('applyAbnormalRefund')).toHaveLength(0);
    await notify(handle, gateway.settle(input.outRefundNo, 'SUCCESS'));
    await handle.result();
  });
});

test('an ABNORMAL refund handled in the merchant portal is seen by the daily query; retryNow queries at once', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    gateway.progress(input.outRefundNo, [{ afterMs: 30_000, status: 'ABNORMAL' }]);
    const handle = await startRefund(env, taskQueue, input);
    await env.sleep(2 * MINUTE_MS);
    const abnormal = await waitForState(handle, 'ABNORMAL');
    expect(Date.parse(abnormal.nextPollAt!) - Date.parse(abnormal.transitions.at(-1)!.at)).toBeGreaterThanOrEqual(
      24 * HOUR_MS,
    );

    // Someone pays the refund out by hand in the portal; no notification reaches us.
    gateway.settle(input.outRefundNo, 'SUCCESS');
    const answer = await handle.executeUpdate(retryNowUpdate, { args: [{ operator: 'bob' }] });
    expect(answer).toEqual({ state: 'ABNORMAL', action: 'query' });
    const outcome = await handle.result();
    expect(outcome.state).toBe('SUCCESS');
    expect((await status(handle)).polls.at(-1)).toMatchObject({ reason: 'OPERATOR', result: 'SUCCESS' });
  });
});
