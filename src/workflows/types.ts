/**
 * What the refund and ledger workflows show to the outside world: query results, update results, workflow results
 * and the child → ledger status signal. Plain JSON-able data; the CLI, webhook and starter import these types.
 */
import type { RefundAmounts, RefundChannel } from '../wechatpay/gateway';
import type { Evidence, LedgerEntryStatus, RefundState, ReviewReason, TransitionDecision } from '../domain/status';
import type { OrderMoneySummary } from '../domain/refund-caps';
import type { ScheduleKind } from '../domain/poll-schedule';
import type { OrderLedgerInput } from '../domain/schemas';
import type { OrderFacts, OrderProblem } from '../domain/order-facts';

export interface FailureSummary {
  errorClass: string;
  code: string;
  message: string;
  httpStatus?: number;
  requestId?: string;
}

export interface SubmitAttemptRecord {
  at: string;
  /** ACCEPTED: create reply; ADOPTED: found by the query before a resend; FAILED: see error. */
  result: 'ACCEPTED' | 'ADOPTED' | 'FAILED';
  wechatStatus?: string;
  error?: FailureSummary;
}

export type PollReason =
  | 'SCHEDULED'
  /** ABNORMAL, or MANUAL_REVIEW after acceptance: the slow daily check. */
  | 'WAITING'
  | 'OPERATOR'
  /** an ABNORMAL notification must be confirmed by a query before alerting (§7). */
  | 'VERIFY_NOTIFICATION'
  /** apply-abnormal-refund had an unknown outcome. */
  | 'VERIFY_APPLY'
  /** a create reply or notification disagreed with the request: WeChat's own record decides (domain/evidence.ts). */
  | 'VERIFY_EVIDENCE'
  /** settled without WeChat naming the channel (a v3 notification carries none): one query to learn it. */
  | 'CHANNEL';

export interface PollRecord {
  at: string;
  reason: PollReason;
  /** WeChat status, NOT_FOUND (404) or ERROR. */
  result: string;
  decision?: TransitionDecision['kind'];
  error?: FailureSummary;
}

export interface NotificationRecord {
  notificationId: string;
  status: 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
  firstReceivedAt: string;
  /** WeChat re-sends; the same id counted here, never applied twice. */
  deliveries: number;
  /** mismatch: it disagreed with the request (note names the field) and was not applied; a query was asked for. */
  decision: TransitionDecision['kind'] | 'verifying' | 'ignored' | 'mismatch';
  note?: string;
}

export interface TransitionRecord {
  at: string;
  from: RefundState;
  to: RefundState;
  evidence: Evidence;
  note?: string;
}

export interface AbnormalResolutionRecord {
  at: string;
  type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
  bankType?: string;
  operator?: string;
  result: 'ACCEPTED' | 'FAILED';
  error?: FailureSummary;
}

export interface OperatorActionRecord {
  at: string;
  action: 'retryNow' | 'resolveAbnormal' | 'cancel';
  operator?: string;
  note?: string;
}

/** The `status` query: everything an operator needs to understand one refund. */
export interface RefundStatusView {
  workflowId: string;
  outRefundNo: string;
  outTradeNo?: string;
  transactionId?: string;
  mchid?: string;
  subMchid?: string;
  /** Waiting for its order's submission slot (requested while another refund of the order was being submitted). */
  held?: boolean;
  state: RefundState;
  reviewReason?: ReviewReason;
  /** Explanation for humans of why it is in MANUAL_REVIEW / REJECTED. */
  note?: string;
  channel: RefundChannel;
  userReceivedAccount?: string;
  refundId?: string;
  requestedFen: number;
  totalFen: number;
  /** As WeChat reported them (never recomputed). */
  amounts?: RefundAmounts;
  acceptedAt?: string;
  successTime?: string;
  rejection?: FailureSummary;
  submitAttempts: SubmitAttemptRecord[];
  nextSubmitAt?: string;
  polls: PollRecord[];
  notifications: NotificationRecord[];
  transitions: TransitionRecord[];
  abnormalResolutions: AbnormalResolutionRecord[];
  operatorActions: OperatorActionRecord[];
  schedule?: { kind: ScheduleKind | 'WAITING'; startedAt: string };
  nextPollAt?: string;
  /** Contrary evidence about a final refund (e.g. CLOSED reported after SUCCESS): never applied, needs a look. */
  alerts: string[];
  /** Increases with every status change; the ledger ignores older reports. */
  version: number;
  /** The order service's labels, as requested (absent for refunds requested without). */
  metadata?: Record<string, string>;
  reason?: string;
  /** When its workflow started, i.e. when the refund was requested (absent in views of older workers). */
  startedAt?: string;
  /** Events announced to the order service, each delivered by its own workflow (eventDelivery query there). */
  events?: RefundEventRecord[];
}

import type { RefundEventType } from '../events/types';
export type { RefundEventType };

/** One event about a refund, as the refund workflow records it; its deliveries are its own workflow's record. */
export interface RefundEventRecord {
  /** Never changes: the receiver dedupes by it. Also the delivery workflow's ID. */
  id: string;
  type: RefundEventType;
  /** The state change it announces (RefundStatusView.transitions' `at`). */
  createdAt: string;
}

/** What an event says about its refund: the status view without the long timelines, plus the request's labels. */
export type RefundSnapshot = Omit<
  RefundStatusView,
  'submitAttempts' | 'polls' | 'notifications' | 'abnormalResolutions' | 'operatorActions' | 'alerts' | 'events'
>;

/** The delivery workflow's input: the event, built once, and how long to keep trying. */
export interface RefundEventDeliveryInput {
  id: string;
  type: RefundEventType;
  createdAt: string;
  refund: RefundSnapshot;
  retry: EventRetrySchedule;
}

export interface EventRetrySchedule {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** After this long since the first attempt, delivery stops (FAILED). */
  giveUpAfterMs: number;
}

export interface EventDeliveryAttempt {
  at: string;
  /** The receiver's HTTP status, when it answered. */
  statusCode?: number;
  /** Why the attempt failed (network error, timeout, non-2xx, no events target configured). */
  error?: string;
  durationMs?: number;
}

/** The `eventDelivery` query of a delivery workflow. */
export interface EventDeliveryView {
  id: string;
  type: RefundEventType;
  createdAt: string;
  outRefundNo: string;
  state: 'PENDING' | 'DELIVERED' | 'FAILED';
  attempts: EventDeliveryAttempt[];
  nextAttemptAt?: string;
}

/** The refund workflow's result: only final states end it. */
export interface RefundOutcome {
  outRefundNo: string;
  /** Which order's refund this is (absent in outcomes of refunds started before it was recorded). */
  outTradeNo?: string;
  transactionId?: string;
  mchid?: string;
  subMchid?: string;
  /** The amount that was requested, fen. */
  requestedFen?: number;
  /** CANCELLED: withdrawn while still queued in its ledger, nothing was sent to WeChat. */
  state: 'SUCCESS' | 'CLOSED' | 'REJECTED' | 'CANCELLED';
  channel: RefundChannel;
  refundId?: string;
  successTime?: string;
  rejection?: FailureSummary;
  amounts?: RefundAmounts;
  queries: number;
  notifications: number;
  submitAttempts: number;
  version: number;
  /** When the refund learned WeChat had its create (see RefundStatusChange); absent if it never had. */
  submissionSettledAt?: string;
}

/** Child → ledger, on every status change (and as the final result). */
export interface RefundStatusChange {
  outRefundNo: string;
  state: RefundState;
  version: number;
  /** WeChat has confirmed the create (or refused it for good): the order's submission slot is free. */
  submissionSettled: boolean;
  /** When the last create request was sent (informational; the ledger spaces creates from the settled report). */
  lastSubmitAt?: string;
  /**
   * When this refund learned WeChat has its create (a report may come much later, when the ledger asks): the ledger
   * spaces the next create a minute from this. Absent in reports of older refunds: from the report's arrival.
   */
  submissionSettledAt?: string;
  refundId?: string;
  channel: RefundChannel;
  at: string;
}

/** The ledger → refund signal: withdraw this held refund (its ledger already released the amount). */
export interface CancelQueuedRefund {
  requestedBy?: string;
}

export interface RetryNowResult {
  state: RefundState;
  /** what "retry now" means in the current state */
  action: 'resubmit' | 'query';
}

// ---------------------------------------------------------------------------------------------------------------
// Ledger

export interface LedgerEntry {
  outRefundNo: string;
  amountFen: number;
  reason?: string;
  /** The order service's labels (part of the request: a repeat must carry the same). */
  metadata?: Record<string, string>;
  requestedBy?: string;
  refundWorkflowId: string;
  status: LedgerEntryStatus;
  requestedAt: string;
  startedAt?: string;
  submissionSettled: boolean;
  /** Its refund workflow is started (binding the out_refund_no) and waits for the order's submission slot. */
  held?: boolean;
  refundId?: string;
  channel?: RefundChannel;
  lastChangeAt: string;
  version: number;
  note?: string;
}

/**
 * requestRefund's answer; the same request twice gets this answer twice, but for `current`, which says where the
 * refund stands at the moment of each answer.
 */
export interface RefundReceipt {
  outTradeNo: string;
  outRefundNo: string;
  amountFen: number;
  refundWorkflowId: string;
  requestedAt: string;
  /** The request as first accepted (receipts of older ledgers lack these three). */
  reason?: string;
  metadata?: Record<string, string>;
  /** Who made the request that created the refund: a repeat's caller can tell it was not theirs. */
  requestedBy?: string;
  /**
   * The ledger's entry as it answered: a repeat learns the refund's state in the same round trip (the HTTP API
   * answers it from this, without reading the ledger again). Absent from receipts of ledgers older than it.
   */
  current?: LedgerEntry;
}

export interface LedgerView {
  outTradeNo: string;
  /** The order's facts: WeChat's record (source WECHAT), or what the caller said for ledgers that predate that. */
  facts?: OrderFacts;
  /** Set when WeChat says the order cannot be refunded (unknown, not paid): the ledger refuses everything and ends. */
  problem?: OrderProblem;
  paidTotalFen: number;
  paidAt: string;
  refundDeadline: string;
  money: OrderMoneySummary;
  refunds: LedgerEntry[];
  /** out_refund_no waiting for their turn, in order. */
  queue: string[];
  /** the refund whose create is in flight (one per order, M9). */
  submitting?: string;
  nextSubmissionAllowedAt?: string;
  /** how many times this ledger has continued-as-new. */
  continuedAsNew: number;
}

/** Carried across continue-as-new. */
export interface LedgerCarriedState {
  /** WeChat's order record, so a new run does not ask again (absent in states carried by older runs). */
  facts?: OrderFacts;
  entries: LedgerEntry[];
  queue: string[];
  submitting?: string;
  lastSubmissionAtMs?: number;
  continuedAsNew: number;
}

export type OrderLedgerWorkflowInput = OrderLedgerInput & { carried?: LedgerCarriedState };
