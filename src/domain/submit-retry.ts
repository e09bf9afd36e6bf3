/**
 * How long the refund workflow waits between create rounds (reference §3.9, §7). The out_refund_no and the amounts
 * never change between rounds (M8); only the waiting does.
 */
import type { BackoffConfig, SubmitRetryConfig } from './schemas';
import { FAILURE_HANDLING, type FailureClass } from './failure-classes';
import { HOUR_MS, MINUTE_MS } from './poll-schedule';

/** RETRY_SAME / unknown outcome: "query after 1 min; 404 → resend", backing off to 30 min. */
export const DEFAULT_RETRY_SAME_BACKOFF: BackoffConfig = {
  initialMs: 1 * MINUTE_MS,
  maxMs: 30 * MINUTE_MS,
  coefficient: 2,
};
/** THROTTLED: rate limited, and failing calls eat a 6 QPS error budget; slow down harder than RETRY_SAME. */
export const DEFAULT_THROTTLED_BACKOFF: BackoffConfig = {
  initialMs: 2 * MINUTE_MS,
  maxMs: 60 * MINUTE_MS,
  coefficient: 2,
};
/** §7 last row: escalate after 10 failed rounds. */
export const DEFAULT_MAX_UNKNOWN_ROUNDS = 10;
/** OPERATOR class (e.g. NOT_ENOUGH balance): keep trying every hour or so in case someone fixed it silently. */
export const DEFAULT_OPERATOR_RETRY_BACKOFF: BackoffConfig = {
  initialMs: 1 * HOUR_MS,
  maxMs: 6 * HOUR_MS,
  coefficient: 2,
};

export interface ResolvedSubmitRetry {
  retrySame: BackoffConfig;
  throttled: BackoffConfig;
  maxUnknownRounds: number;
  operatorRetry: BackoffConfig;
}

export function resolveSubmitRetry(config: SubmitRetryConfig | undefined): ResolvedSubmitRetry {
  return {
    retrySame: config?.retrySame ?? DEFAULT_RETRY_SAME_BACKOFF,
    throttled: config?.throttled ?? DEFAULT_THROTTLED_BACKOFF,
    maxUnknownRounds: config?.maxUnknownRounds ?? DEFAULT_MAX_UNKNOWN_ROUNDS,
    operatorRetry: config?.operatorRetry ?? DEFAULT_OPERATOR_RETRY_BACKOFF,
  };
}

/** Delay before round `round + 1`, where `round` (≥ 1) counts consecutive failures of this kind. */
export function backoffDelayMs(backoff: BackoffConfig, round: number): number {
  const exponent = Math.max(0, round - 1);
  return Math.min(backoff.maxMs, Math.round(backoff.initialMs * Math.pow(backoff.coefficient, exponent)));
}

export type SubmitErrorDecision =
  /** outcome unknown: wait, then query by out_refund_no and resend the identical create if not found */
  | { kind: 'retry'; delayMs: number }
  /** unknown for too long, or a human must fix something: MANUAL_REVIEW, retry slowly and on operator request */
  | { kind: 'manual-review'; reason: 'SUBMIT_OUTCOME_UNKNOWN' | 'SUBMIT_NEEDS_OPERATOR' }
  /** WeChat refused for good: REJECTED */
  | { kind: 'reject' };

/**
 * §3.9 / §6.2: an unknown outcome (RETRY_SAME, THROTTLED) → stay PENDING and retry; refused (FINAL) → REJECTED;
 * needs an operator (OPERATOR, and InvalidRequest: our own request failed validation before sending) → MANUAL_REVIEW.
 * `consecutiveUnknownRounds` counts this failure too when its outcome is unknown.
 */
export function decideSubmitError(
  errorClass: FailureClass,
  consecutiveUnknownRounds: number,
  retry: ResolvedSubmitRetry,
): SubmitErrorDecision {
  switch (FAILURE_HANDLING[errorClass].fate) {
    case 'refused':
      return { kind: 'reject' };
    case 'needs-operator':
      return { kind: 'manual-review', reason: 'SUBMIT_NEEDS_OPERATOR' };
    case 'unknown':
      if (consecutiveUnknownRounds >= retry.maxUnknownRounds) {
        return { kind: 'manual-review', reason: 'SUBMIT_OUTCOME_UNKNOWN' };
      }
      return {
        kind: 'retry',
        delayMs: backoffDelayMs(
          errorClass === 'Throttled' ? retry.throttled : retry.retrySame,
          consecutiveUnknownRounds,
        ),
      };
  }
}
