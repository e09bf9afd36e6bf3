/** The refund resource (API answers and event bodies) from the refund workflow's view and its ledger entry. */
import { refundEventBody, refundResourceOf } from '../../../src/api/refund-resource';
import { snapshotOf } from '../../../src/workflows/refund-events';
import type { RefundStatusView } from '../../../src/workflows/types';

function view(overrides: Partial<RefundStatusView> = {}): RefundStatusView {
  return {
    workflowId: 'refund-R1',
    outRefundNo: 'R1',
    outTradeNo: 'T1',
    state: 'SUCCESS',
    channel: 'BALANCE',
    refundId: '50300000001',
    requestedFen: 300,
    totalFen: 1_000,
    amounts: { refundFen: 300, totalFen: 1_000, payerRefundFen: 300, payerTotalFen: 1_000, currency: 'CNY' },
    successTime: '2026-12-03T10:05:00+08:00',
    submitAttempts: [{ at: '2026-12-03T02:00:01.000Z', result: 'ACCEPTED', wechatStatus: 'PROCESSING' }],
    polls: [],
    notifications: [],
    transitions: [
      { at: '2026-12-03T02:00:01.000Z', from: 'PENDING', to: 'PROCESSING', evidence: 'create' },
      { at: '2026-12-03T02:05:00.000Z', from: 'PROCESSING', to: 'SUCCESS', evidence: 'notification' },
    ],
    abnormalResolutions: [],
    operatorActions: [],
    alerts: [],
    version: 2,
    startedAt: '2026-12-03T02:00:00.000Z',
    metadata: { ticket: 'CS-1' },
    ...overrides,
  };
}

test('a settled refund: money in fen as WeChat reported it, times, the last evidence, metadata', () => {
  expect(refundResourceOf(view())).toEqual({
    object: 'refund',
    out_refund_no: 'R1',
    out_trade_no: 'T1',
    amount_fen: 300,
    metadata: { ticket: 'CS-1' },
    state: 'SUCCESS',
    channel: 'BALANCE',
    refund_id: '50300000001',
    amounts: { refund_fen: 300, total_fen: 1_000, payer_refund_fen: 300, payer_total_fen: 1_000 },
    created_at: '2026-12-03T02:00:00.000Z',
    updated_at: '2026-12-03T02:05:00.000Z',
    settled_at: '2026-12-03T10:05:00+08:00',
    last_evidence: { source: 'notification', at: '2026-12-03T02:05:00.000Z' },
  });
});

test('the ledger’s record of the request wins for when it was accepted, its reason and a cancel it decided', () => {
  const queued = view({ state: 'PENDING', transitions: [], amounts: undefined, successTime: undefined });
  const r = refundResourceOf(queued, {
    requestedAt: '2026-12-03T01:59:59.000Z',
    reason: '退货',
    status: 'CANCELLED',
    lastChangeAt: '2026-12-03T02:01:00.000Z',
  });
  expect(r).toMatchObject({
    state: 'CANCELLED',
    reason: '退货',
    created_at: '2026-12-03T01:59:59.000Z',
    updated_at: '2026-12-03T02:01:00.000Z',
    settled_at: '2026-12-03T02:01:00.000Z',
  });
  expect(r.last_evidence).toBeUndefined();
});

test('review reason only in MANUAL_REVIEW; failure only when REJECTED', () => {
  const review = refundResourceOf(view({ state: 'MANUAL_REVIEW', reviewReason: 'POLL_HORIZON_EXCEEDED' }));
  expect(review.review_reason).toBe('POLL_HORIZON_EXCEEDED');
  expect(review.settled_at).toBeUndefined();
  const rejected = refundResourceOf(
    view({ state: 'REJECTED', rejection: { errorClass: 'Final', code: 'INVALID_REQUEST', message: 'no' } } as never),
  );
  expect(rejected.failure).toEqual({ code: 'INVALID_REQUEST', message: 'no' });
  expect(refundResourceOf(view({ reviewReason: 'POLL_HORIZON_EXCEEDED' })).review_reason).toBeUndefined();
});

test('an event body is the same bytes every time it is built, with `created` in unix seconds', () => {
  const event = {
    id: 'refund-R1:event-2',
    type: 'refund.succeeded' as const,
    createdAt: '2026-12-03T02:05:00.900Z',
    refund: snapshotOf(view()),
  };
  const body = refundEventBody(event);
  expect(refundEventBody(structuredClone(event))).toBe(body);
  const parsed = JSON.parse(body);
  expect(parsed).toMatchObject({
    id: 'refund-R1:event-2',
    object: 'event',
    type: 'refund.succeeded',
    created: 1796263500,
  });
  expect(parsed.data.refund.state).toBe('SUCCESS');
  // The long timelines stay out of events.
  expect(body).not.toContain('submitAttempts');
});

test('a refund names its merchant and sub-merchant, in answers and in events, so one events URL can serve many', () => {
  const partner = view({ mchid: '1900000100', subMchid: '1900000201' });
  expect(refundResourceOf(partner)).toMatchObject({ mchid: '1900000100', sub_mchid: '1900000201' });
  const event = JSON.parse(
    refundEventBody({
      id: 'refund-1900000100.1900000201.R1:event-2',
      type: 'refund.succeeded',
      createdAt: '2026-12-03T02:05:00.900Z',
      refund: snapshotOf(partner),
    }),
  );
  expect(event.data.refund).toMatchObject({ mchid: '1900000100', sub_mchid: '1900000201' });
  // Refunds from before merchants were named show no mchid rather than a guess.
  expect(refundResourceOf(view())).not.toHaveProperty('mchid');
});
