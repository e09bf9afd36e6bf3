import { HOUR_MS, MINUTE_MS } from '../../../src/domain/poll-schedule';
import { backoffDelayMs, decideSubmitError, resolveSubmitRetry } from '../../../src/domain/submit-retry';
import { FAILURE_CLASSES, outcomeUnknown } from '../../../src/domain/failure-classes';

const retry = resolveSubmitRetry(undefined);

test('RETRY_SAME and unknown outcomes: 1, 2, 4 … minutes, capped at 30', () => {
  const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => decideSubmitError('RetrySame', n, retry));
  expect(delays.map((d) => (d.kind === 'retry' ? d.delayMs / MINUTE_MS : d.kind))).toEqual([1, 2, 4, 8, 16, 30, 30]);
  expect(decideSubmitError('UnknownOutcome', 1, retry)).toEqual({ kind: 'retry', delayMs: MINUTE_MS });
});

test('THROTTLED waits longer than RETRY_SAME at every round', () => {
  for (let n = 1; n <= 9; n++) {
    const throttled = decideSubmitError('Throttled', n, retry);
    const same = decideSubmitError('RetrySame', n, retry);
    if (throttled.kind !== 'retry' || same.kind !== 'retry') throw new Error('expected retries');
    expect(throttled.delayMs).toBeGreaterThan(same.delayMs);
  }
});

test('after 10 unknown rounds: MANUAL_REVIEW (§7)', () => {
  expect(decideSubmitError('RetrySame', 9, retry).kind).toBe('retry');
  expect(decideSubmitError('RetrySame', 10, retry)).toEqual({
    kind: 'manual-review',
    reason: 'SUBMIT_OUTCOME_UNKNOWN',
  });
});

test('FINAL → REJECTED; OPERATOR and local validation failures → MANUAL_REVIEW', () => {
  expect(decideSubmitError('Final', 1, retry)).toEqual({ kind: 'reject' });
  expect(decideSubmitError('NeedsOperator', 0, retry)).toEqual({
    kind: 'manual-review',
    reason: 'SUBMIT_NEEDS_OPERATOR',
  });
  expect(decideSubmitError('InvalidRequest', 0, retry)).toEqual({
    kind: 'manual-review',
    reason: 'SUBMIT_NEEDS_OPERATOR',
  });
});

test('while waiting for an operator: retry after 1, 2, 4, 6, 6 hours', () => {
  expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(retry.operatorRetry, n) / HOUR_MS)).toEqual([1, 2, 4, 6, 6]);
});

test('configurable', () => {
  const custom = resolveSubmitRetry({
    maxUnknownRounds: 2,
    retrySame: { initialMs: 5_000, maxMs: 20_000, coefficient: 3 },
  });
  expect(decideSubmitError('RetrySame', 1, custom)).toEqual({ kind: 'retry', delayMs: 5_000 });
  expect(decideSubmitError('RetrySame', 2, custom).kind).toBe('manual-review');
  expect(backoffDelayMs(custom.retrySame, 3)).toBe(20_000);
});

test('only a failure whose outcome is unknown leads to another create round; exactly Final rejects', () => {
  const decisions = FAILURE_CLASSES.map((c) => [c, decideSubmitError(c, 1, retry).kind, outcomeUnknown(c)]);
  expect(decisions).toEqual([
    ['RetrySame', 'retry', true],
    ['UnknownOutcome', 'retry', true],
    ['Throttled', 'retry', true],
    ['Final', 'reject', false],
    ['NeedsOperator', 'manual-review', false],
    ['InvalidRequest', 'manual-review', false],
  ]);
});
