import {
  allowedTransitions,
  countsTowardsRefundLimit,
  decideTransition,
  isTerminal,
  moneyEffect,
  REFUND_STATES,
  stateFromWechatStatus,
  type Evidence,
} from '../../../src/domain/status';

const ALL_EVIDENCE: Evidence[] = [
  'create',
  'query',
  'notification',
  'apply-abnormal',
  'submit-error',
  'poll-horizon',
  'evidence-mismatch',
  'operator',
];

describe('internal status set (§6.1)', () => {
  test('SUCCESS, CLOSED, REJECTED and CANCELLED are terminal; nothing else is', () => {
    expect(REFUND_STATES.filter(isTerminal)).toEqual(['SUCCESS', 'CLOSED', 'REJECTED', 'CANCELLED']);
  });

  test('CANCELLED is reached only from PENDING, only by the order service’s cancel, and never left', () => {
    const evidences = ['create', 'query', 'notification', 'operator', 'submit-error', 'cancel'] as const;
    const applied = REFUND_STATES.flatMap((from) =>
      evidences
        .filter((evidence) => decideTransition(from, 'CANCELLED', evidence).kind === 'apply')
        .map((evidence) => `${from} on ${evidence}`),
    );
    expect(applied).toEqual(['PENDING on cancel']);
    for (const to of REFUND_STATES.filter((s) => s !== 'CANCELLED')) {
      expect(decideTransition('CANCELLED', to, 'query').kind).not.toBe('apply');
    }
  });
});

describe('mapping WeChat statuses (§6.2)', () => {
  test.each([
    ['PROCESSING', 'PROCESSING'],
    ['SUCCESS', 'SUCCESS'],
    ['CLOSED', 'CLOSED'],
    ['CLOSE', 'CLOSED'],
    ['REFUNDCLOSE', 'CLOSED'],
    ['ABNORMAL', 'ABNORMAL'],
    ['CHANGE', 'ABNORMAL'],
    ['NOTSURE', 'PENDING'],
    ['SOMETHING_NEW', 'MANUAL_REVIEW'],
    ['', 'MANUAL_REVIEW'],
  ])('%s → %s', (wechat, internal) => {
    expect(stateFromWechatStatus(wechat)).toBe(internal);
  });
});

describe('allowed transitions (§6.3)', () => {
  test('final states never change: the same state is a duplicate, an earlier one stale, another outcome a contradiction', () => {
    const expected = (from: string, to: string) =>
      from === to ? 'duplicate' : to === 'PENDING' || to === 'PROCESSING' ? 'stale' : 'contradiction';
    for (const from of ['SUCCESS', 'CLOSED', 'REJECTED'] as const) {
      for (const to of REFUND_STATES) {
        for (const evidence of ALL_EVIDENCE) {
          const decision = decideTransition(from, to, evidence);
          expect({ from, to, evidence, kind: decision.kind }).toEqual({ from, to, evidence, kind: expected(from, to) });
        }
      }
    }
  });

  test('a reply written before the refund settled, arriving after the notification, raises no alert', () => {
    // Reliability soak: the create reply (PROCESSING) reached the workflow after the SUCCESS notification.
    expect(decideTransition('SUCCESS', 'PROCESSING', 'create')).toMatchObject({ kind: 'stale' });
    expect(decideTransition('SUCCESS', 'CLOSED', 'query')).toMatchObject({ kind: 'contradiction' });
    expect(decideTransition('SUCCESS', 'ABNORMAL', 'notification')).toMatchObject({ kind: 'contradiction' });
  });

  test('WeChat evidence moves a pending or processing refund forward', () => {
    for (const evidence of ['create', 'query', 'notification'] as const) {
      for (const to of ['SUCCESS', 'CLOSED', 'ABNORMAL'] as const) {
        expect(decideTransition('PENDING', to, evidence).kind).toBe('apply');
        expect(decideTransition('PROCESSING', to, evidence).kind).toBe('apply');
      }
    }
  });

  test('create errors: FINAL → REJECTED, OPERATOR → MANUAL_REVIEW, only from PENDING', () => {
    expect(decideTransition('PENDING', 'REJECTED', 'submit-error').kind).toBe('apply');
    expect(decideTransition('PENDING', 'MANUAL_REVIEW', 'submit-error').kind).toBe('apply');
    expect(decideTransition('PROCESSING', 'REJECTED', 'submit-error').kind).toBe('stale');
  });

  test('nothing moves a refund backwards', () => {
    expect(decideTransition('PROCESSING', 'PENDING', 'query').kind).toBe('stale');
    expect(decideTransition('ABNORMAL', 'PROCESSING', 'notification').kind).toBe('stale');
    expect(decideTransition('ABNORMAL', 'PROCESSING', 'query').kind).toBe('stale');
    expect(decideTransition('ABNORMAL', 'CLOSED', 'query').kind).toBe('stale');
  });

  test('ABNORMAL → PROCESSING needs abnormal handling: its reply, or a query after it', () => {
    expect(decideTransition('ABNORMAL', 'PROCESSING', 'apply-abnormal').kind).toBe('apply');
    expect(decideTransition('ABNORMAL', 'PROCESSING', 'query', { abnormalHandlingRequested: true }).kind).toBe('apply');
    expect(decideTransition('ABNORMAL', 'SUCCESS', 'notification').kind).toBe('apply'); // portal handling
  });

  test('the poll horizon escalates only a PROCESSING refund', () => {
    expect(decideTransition('PROCESSING', 'MANUAL_REVIEW', 'poll-horizon').kind).toBe('apply');
    expect(decideTransition('ABNORMAL', 'MANUAL_REVIEW', 'poll-horizon').kind).toBe('stale');
  });

  test('MANUAL_REVIEW: WeChat evidence of an outcome moves it; a PROCESSING query does not flip it back', () => {
    for (const to of ['SUCCESS', 'CLOSED', 'ABNORMAL'] as const) {
      expect(decideTransition('MANUAL_REVIEW', to, 'query').kind).toBe('apply');
      expect(decideTransition('MANUAL_REVIEW', to, 'notification').kind).toBe('apply');
    }
    expect(decideTransition('MANUAL_REVIEW', 'PROCESSING', 'query').kind).toBe('stale');
    expect(decideTransition('MANUAL_REVIEW', 'PROCESSING', 'create').kind).toBe('apply');
    // Not CANCELLED: a refund escalated to review may have had its create sent.
    for (const to of REFUND_STATES.filter((s) => s !== 'MANUAL_REVIEW' && s !== 'CANCELLED')) {
      expect(decideTransition('MANUAL_REVIEW', to, 'operator').kind).toBe('apply');
    }
  });

  test('evidence that disagrees with the request sends an unsettled refund to MANUAL_REVIEW, never a final one', () => {
    for (const from of ['PENDING', 'PROCESSING', 'ABNORMAL'] as const) {
      expect(decideTransition(from, 'MANUAL_REVIEW', 'evidence-mismatch').kind).toBe('apply');
    }
    for (const to of REFUND_STATES.filter((s) => s !== 'MANUAL_REVIEW')) {
      expect(decideTransition('PROCESSING', to, 'evidence-mismatch').kind).not.toBe('apply');
    }
    expect(decideTransition('SUCCESS', 'MANUAL_REVIEW', 'evidence-mismatch').kind).toBe('contradiction');
  });

  test('the table lists no move out of a final state and none into PENDING except by an operator', () => {
    const moves = allowedTransitions();
    expect(moves.filter((m) => isTerminal(m.from))).toEqual([]);
    expect(moves.filter((m) => m.to === 'PENDING')).toEqual([
      { from: 'MANUAL_REVIEW', to: 'PENDING', evidence: ['operator'] },
    ]);
  });
});

describe('what a status means for the order’s money', () => {
  test('reserve, consume, release (§6.3 last paragraph)', () => {
    expect(moneyEffect('QUEUED')).toBe('reserved');
    expect(moneyEffect('PENDING')).toBe('reserved');
    expect(moneyEffect('PROCESSING')).toBe('reserved');
    expect(moneyEffect('ABNORMAL')).toBe('reserved');
    expect(moneyEffect('MANUAL_REVIEW')).toBe('reserved');
    expect(moneyEffect('SUCCESS')).toBe('consumed');
    expect(moneyEffect('CLOSED')).toBe('released');
    expect(moneyEffect('REJECTED')).toBe('released');
  });

  test('closed refunds count towards the limit of 50; rejected ones never existed at WeChat', () => {
    expect(countsTowardsRefundLimit('CLOSED')).toBe(true);
    expect(countsTowardsRefundLimit('QUEUED')).toBe(true);
    expect(countsTowardsRefundLimit('REJECTED')).toBe(false);
  });
});
