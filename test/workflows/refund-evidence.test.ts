/**
 * Evidence is checked before it moves state (time-skipping server, fake WeChat): a create reply, a query reply or a
 * notification that disagrees with the refund's request (its order, merchant, amounts, currency) is never applied.
 * A disagreeing reply or notification makes the workflow ask WeChat's own record; if that disagrees too, the refund
 * waits in MANUAL_REVIEW with the field named, and an alert is raised.
 */
import { createTimeSkippingEnv } from '../harness/temporal';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RefundNotification, RefundRecord } from '../../src/wechatpay/gateway';
import { FAKE_MCHID, FakeGateway } from '../support/fake-gateway';
import { notify, recordHistory, refundInput, startRefund, status, waitForState, withWorker } from './helpers';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

const withAmounts = (patch: Partial<RefundRecord['amounts']>) => (r: RefundRecord) => ({
  ...r,
  amounts: { ...r.amounts, ...patch },
});

/** Each field a piece of evidence names, and a way to make it disagree. */
const DISAGREEMENTS: Array<[string, (n: RefundNotification) => RefundNotification]> = [
  ['amount.refund', (n) => ({ ...n, amounts: { ...n.amounts, refundFen: n.amounts.refundFen - 1 } })],
  ['amount.total', (n) => ({ ...n, amounts: { ...n.amounts, totalFen: n.amounts.totalFen + 100 } })],
  ['amount.currency', (n) => ({ ...n, amounts: { ...n.amounts, currency: 'USD' } })],
  ['out_trade_no', (n) => ({ ...n, outTradeNo: 'TANOTHERORDER1' })],
  ['transaction_id', (n) => ({ ...n, transactionId: '4200009999999999999999999999' })],
  ['mchid', (n) => ({ ...n, mchid: '1900009999' })],
  ['sub_mchid', (n) => ({ ...n, subMchid: '1900008888' })],
];

describe('a notification that disagrees with the request is not applied', () => {
  test.each(DISAGREEMENTS)('%s: WeChat is asked, and its matching record settles the refund', async (field, spoil) => {
    const gateway = new FakeGateway();
    await withWorker(env, gateway, async (taskQueue) => {
      const input = refundInput({
        mchid: FAKE_MCHID,
        subMchid: '1900000201',
        transactionId: '4200000000000000000000000000',
      });
      const handle = await startRefund(env, taskQueue, input);
      await waitForState(handle, 'PROCESSING');
      await notify(handle, spoil(gateway.settle(input.outRefundNo, 'SUCCESS')));
      const outcome = await handle.result();
      // Settled by WeChat's own record (the query), never by the disagreeing notification.
      expect(outcome).toMatchObject({ state: 'SUCCESS', requestedFen: input.refundFen });
      expect(outcome.amounts).toMatchObject({ refundFen: input.refundFen, currency: 'CNY' });
      const view = await status(handle);
      expect(view.notifications).toEqual([expect.objectContaining({ decision: 'mismatch' })]);
      expect(view.notifications[0].note).toContain(field);
      expect(view.polls.map((p) => p.reason)).toEqual(['VERIFY_EVIDENCE']);
      expect(view.transitions.map((t) => `${t.to}:${t.evidence}`)).toEqual(['PROCESSING:create', 'SUCCESS:query']);
      expect(view.alerts).toEqual([expect.stringContaining(field)]);
      if (field === 'amount.refund') await recordHistory('refund-notification-disagrees-settled-by-query', handle);
    });
  });
});

test("WeChat's own record disagreeing with the request sends the refund to MANUAL_REVIEW, naming the field", async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput({ refundFen: 1_500 });
    const handle = await startRefund(env, taskQueue, input);
    await waitForState(handle, 'PROCESSING');
    gateway.tamper(input.outRefundNo, (r) => ({ ...withAmounts({ refundFen: 1_499 })(r), status: 'SUCCESS' }));
    await env.sleep(10 * 60_000); // past the first scheduled queries (virtual time)
    const review = await status(handle);
    expect(review.state).toBe('MANUAL_REVIEW');
    expect(review).toMatchObject({ reviewReason: 'EVIDENCE_MISMATCH' });
    expect(review.note).toBe('EVIDENCE_MISMATCH: query reply: amount.refund 1499 ≠ requested 1500');
    expect(review.alerts).toEqual([expect.stringContaining('amount.refund 1499 ≠ requested 1500')]);
    // Nothing of the disagreeing record was taken: not its status, not its amounts.
    expect(review.amounts?.refundFen).not.toBe(1_499);
    expect(gateway.callsOf('createRefund')).toHaveLength(1);
    await recordHistory('refund-query-disagrees-manual-review', handle);
  });
});

test('a create reply that disagrees is checked by a query before anything moves', async () => {
  const gateway = new FakeGateway();
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput({ outTradeNo: 'TORDERAAAA1' });
    // The create "succeeds" but its reply names another order (as an aliased number would).
    const spoiled = gateway.createRefund.bind(gateway);
    gateway.createRefund = async (req) => ({ ...(await spoiled(req)), outTradeNo: 'TORDERBBBB2' });
    const handle = await startRefund(env, taskQueue, input);
    const view = await waitForState(handle, 'PROCESSING');
    expect(view.polls.map((p) => p.reason)).toEqual(['VERIFY_EVIDENCE']);
    expect(view.transitions.map((t) => `${t.to}:${t.evidence}`)).toEqual(['PROCESSING:query']);
    expect(view.alerts).toEqual([expect.stringContaining('out_trade_no TORDERBBBB2 ≠ requested TORDERAAAA1')]);
  });
});

test('a refund settled by a notification (which names no channel) still gets its RefundChannel', async () => {
  const gateway = new FakeGateway({ channel: 'UNKNOWN' });
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    const handle = await startRefund(env, taskQueue, input);
    await waitForState(handle, 'PROCESSING');
    const notification = gateway.settle(input.outRefundNo, 'SUCCESS');
    gateway.tamper(input.outRefundNo, (r) => ({ ...r, channel: 'OTHER_BANKCARD' }));
    await notify(handle, notification);
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'SUCCESS', channel: 'OTHER_BANKCARD' });
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ RefundChannel: ['OTHER_BANKCARD'] });
    expect((await status(handle)).polls.map((p) => p.reason)).toEqual(['CHANNEL']);
    await recordHistory('refund-channel-learned-after-notification', handle);
  });
});

test('a create reply arriving after the notification that settled the refund still names its channel: no extra query', async () => {
  const gateway = new FakeGateway({ channel: 'BALANCE' });
  let replyWritten!: () => void;
  const written = new Promise<void>((resolve) => (replyWritten = resolve));
  let deliverReply!: () => void;
  const delivered = new Promise<void>((resolve) => (deliverReply = resolve));
  const create = gateway.createRefund.bind(gateway);
  // WeChat stores the refund and writes its reply, which reaches the worker only after the notification.
  gateway.createRefund = async (req) => {
    const reply = await create(req);
    replyWritten();
    await delivered;
    return reply;
  };
  await withWorker(env, gateway, async (taskQueue) => {
    const input = refundInput();
    const handle = await startRefund(env, taskQueue, input);
    await written;
    await notify(handle, gateway.settle(input.outRefundNo, 'SUCCESS'));
    await waitForState(handle, 'SUCCESS');
    deliverReply();
    const outcome = await handle.result();
    expect(outcome).toMatchObject({ state: 'SUCCESS', channel: 'BALANCE' });
    const view = await status(handle);
    expect(view.polls).toEqual([]);
    expect(view.transitions.map((t) => `${t.to}:${t.evidence}`)).toEqual(['SUCCESS:notification']);
    expect((await handle.describe()).searchAttributes).toMatchObject({ RefundChannel: ['BALANCE'] });
  });
});
