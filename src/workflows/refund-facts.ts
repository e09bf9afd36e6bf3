/**
 * What one refund workflow knows. RefundTracker (refund-tracker.ts) is its only writer; the workflow reads it through
 * `refund.known`, typed read-only. Plain data, so the views in refund-view.ts are pure functions of it.
 */
import type { RefundChannel, RefundRecord } from '../wechatpay/gateway';
import type { RefundState, ReviewReason } from '../domain/status';
import type { ScheduleKind } from '../domain/poll-schedule';
import type {
  AbnormalResolutionRecord,
  FailureSummary,
  NotificationRecord,
  OperatorActionRecord,
  RefundEventRecord,
  PollReason,
  PollRecord,
  SubmitAttemptRecord,
  TransitionRecord,
} from './types';

export interface RefundFacts {
  state: RefundState;
  reviewReason?: ReviewReason;
  note?: string;
  channel: RefundChannel;
  userReceivedAccount?: string;
  refundId?: string;
  amounts?: RefundRecord['amounts'];
  /** When WeChat first showed it has the refund; from then on "retry now" means "query now", never a create. */
  acceptedAtMs?: number;
  successTime?: string;
  rejection?: FailureSummary;
  /** +1 on every applied transition: the ledger ignores older reports, the polling loop re-plans. */
  version: number;
  /** Started held by its ledger: waits for `submissionSlotGranted` before the first create. */
  held: boolean;

  submitAttempts: SubmitAttemptRecord[];
  /** queries made by submitRefund before a resend (RETRY_SAME advice), counted with the polls */
  submitQueries: number;
  lastSubmitAtMs?: number;
  nextSubmitAtMs?: number;
  polls: PollRecord[];
  notifications: NotificationRecord[];
  transitions: TransitionRecord[];
  abnormalResolutions: AbnormalResolutionRecord[];
  operatorActions: OperatorActionRecord[];
  alerts: string[];
  /** Events announced to the order service (refund-events.ts), in order. */
  events: RefundEventRecord[];

  schedule?: { kind: ScheduleKind | 'WAITING'; startedAtMs: number };
  lastPollAtMs?: number;
  nextPollAtMs?: number;

  /** Operator asked to resend the create now. */
  retryRequested: boolean;
  /** A query should run now (operator, or to verify an ABNORMAL notification / an uncertain apply / evidence). */
  pollRequested?: PollReason;
  /** apply-abnormal-refund was accepted (or may have been): a query may then prove ABNORMAL → PROCESSING. */
  abnormalHandlingRequested: boolean;
  abnormalResolutionInFlight: boolean;
}

/** RefundFacts as the workflow sees them: nothing can be assigned or pushed from outside the tracker. */
export type KnownRefund = {
  readonly [K in keyof RefundFacts]: RefundFacts[K] extends Array<infer T> ? readonly T[] : RefundFacts[K];
};

export function initialFacts(held: boolean): RefundFacts {
  return {
    state: 'PENDING',
    channel: 'UNKNOWN',
    version: 0,
    held,
    submitAttempts: [],
    submitQueries: 0,
    polls: [],
    notifications: [],
    transitions: [],
    abnormalResolutions: [],
    operatorActions: [],
    alerts: [],
    events: [],
    retryRequested: false,
    abnormalHandlingRequested: false,
    abnormalResolutionInFlight: false,
  };
}

/** PENDING, or escalated before WeChat ever confirmed the refund: the create still has to go through. */
export function awaitingSubmission(f: KnownRefund): boolean {
  return f.state === 'PENDING' || (f.state === 'MANUAL_REVIEW' && f.acceptedAtMs === undefined);
}

export function submissionSettled(f: KnownRefund): boolean {
  return f.acceptedAtMs !== undefined || f.state === 'REJECTED' || f.state === 'CANCELLED';
}
