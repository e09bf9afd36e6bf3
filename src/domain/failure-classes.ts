/**
 * The one list of failure classes (reference §3.9) and the one table of what each means. The WeChat Pay layer raises
 * them (wechatpay/errors.ts), activities turn them into ApplicationFailures whose `type` is the class name
 * (activities/failures.ts), and the workflows decide on them (workflows/support.ts, domain/submit-retry.ts).
 * Adding a class here without deciding its handling in FAILURE_HANDLING does not compile.
 *
 * The names are data, not only code: they are the `type` of failures in recorded workflow histories, the
 * `errorClass` of `rejection` and `submitAttempts[].error` in status views, CLI output and ledgers, and the names the
 * protocol spec uses. That is why `Final` keeps its name although "refused" would say more: an old history carrying
 * 'Final' must still read as a refusal. Never rename one.
 *
 * Pure: imported by workflow code (deterministic sandbox).
 */
export const FAILURE_CLASSES = [
  /** Outcome unknown or transient: resend with the SAME out_refund_no and amounts, after a query. */
  'RetrySame',
  /** Network failure, timeout, unverifiable reply: handled like RetrySame. */
  'UnknownOutcome',
  /** Rate limited; the refund may nonetheless have been accepted: back off, then like RetrySame. */
  'Throttled',
  /** WeChat refused; nothing exists at WeChat; retrying cannot help. */
  'Final',
  /** Nothing was created, but a human can fix the cause (funds, configuration, a bug); then resend the same number. */
  'NeedsOperator',
  /** Our own request failed its schema before anything was sent: a bug or bad configuration, a human looks. */
  'InvalidRequest',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** What a failure says about the request WeChat was sent. */
export type RequestFate =
  /** WeChat may have acted on it: query by out_refund_no before resending it, never conclude it failed. */
  | 'unknown'
  /** WeChat refused it for good. */
  | 'refused'
  /** Nothing was made, and nothing will be until a human removes the cause. */
  | 'needs-operator';

export interface FailureHandling {
  fate: RequestFate;
  /** Whether Temporal may repeat the same activity call (used for side-effect-free calls such as queries). */
  retryable: boolean;
}

export const FAILURE_HANDLING: Readonly<Record<FailureClass, FailureHandling>> = {
  RetrySame: { fate: 'unknown', retryable: true },
  UnknownOutcome: { fate: 'unknown', retryable: true },
  Throttled: { fate: 'unknown', retryable: true },
  Final: { fate: 'refused', retryable: false },
  NeedsOperator: { fate: 'needs-operator', retryable: false },
  InvalidRequest: { fate: 'needs-operator', retryable: false },
};

/** WeChat may have acted on the failed request (a refund may exist): only a query can tell. */
export function outcomeUnknown(failureClass: FailureClass): boolean {
  return FAILURE_HANDLING[failureClass].fate === 'unknown';
}

export function isRetryable(failureClass: FailureClass): boolean {
  return FAILURE_HANDLING[failureClass].retryable;
}

/** For an activity's retry policy (`nonRetryableErrorTypes`), in FAILURE_CLASSES order. */
export const NON_RETRYABLE_FAILURE_CLASSES: readonly FailureClass[] = FAILURE_CLASSES.filter((c) => !isRetryable(c));

export function isFailureClass(value: unknown): value is FailureClass {
  return (FAILURE_CLASSES as readonly unknown[]).includes(value);
}
