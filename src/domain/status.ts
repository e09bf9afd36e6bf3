/**
 * The internal refund status set (reference §6.1), how WeChat's statuses map onto it (§6.2), which moves are allowed
 * (§6.3), and what each status means for the order's money. This is the ONE place these rules live: the refund
 * workflow, the ledger, the webhook and the CLI all ask here.
 */

export const REFUND_STATES = [
  'PENDING',
  'PROCESSING',
  'SUCCESS',
  'CLOSED',
  'ABNORMAL',
  'REJECTED',
  'MANUAL_REVIEW',
  /** Withdrawn by the order service while still queued in its ledger: nothing was ever sent to WeChat. */
  'CANCELLED',
] as const;
export type RefundState = (typeof REFUND_STATES)[number];

const TERMINAL: ReadonlySet<RefundState> = new Set(['SUCCESS', 'CLOSED', 'REJECTED', 'CANCELLED']);

/** SUCCESS, CLOSED, REJECTED and CANCELLED never change again (§6.3; CANCELLED is ours, see REFUND_STATES). */
export function isTerminal(state: RefundState): boolean {
  return TERMINAL.has(state);
}

/** Why a refund sits in MANUAL_REVIEW; shown to operators. */
export type ReviewReason =
  /** create refused with class OPERATOR (NOT_ENOUGH, SIGN_ERROR, NO_AUTH, PARAM_ERROR, …): fix, then same number. */
  | 'SUBMIT_NEEDS_OPERATOR'
  /** create outcome stayed unknown for too many rounds (§7 last row). */
  | 'SUBMIT_OUTCOME_UNKNOWN'
  /** still PROCESSING when the poll schedule ran out (§7). */
  | 'POLL_HORIZON_EXCEEDED'
  /** WeChat answered with a status this code does not know (§6.2 last row). */
  | 'UNRECOGNISED_STATUS'
  /** the ledger lost track of a child refund workflow (terminated or started outside the ledger). */
  | 'REFUND_WORKFLOW_LOST'
  /** WeChat's own record (a query) disagrees with what was requested: order, merchant or amounts (domain/evidence.ts). */
  | 'EVIDENCE_MISMATCH';

/** What proves a status: WeChat evidence (create reply, query, notification) or one of our own decisions. */
export type Evidence =
  | 'create'
  | 'query'
  | 'notification'
  /** an accepted apply-abnormal-refund reply */
  | 'apply-abnormal'
  /** a create error of class FINAL / OPERATOR, or unknown outcomes beyond the retry budget */
  | 'submit-error'
  /** the poll schedule ran out while PROCESSING */
  | 'poll-horizon'
  /** WeChat's record of this out_refund_no disagrees with the request (another order, merchant or amount) */
  | 'evidence-mismatch'
  | 'operator'
  /** the order service withdrew it while it was still queued in its ledger (nothing was sent to WeChat) */
  | 'cancel';

const WECHAT: readonly Evidence[] = ['create', 'query', 'notification'];

/** §6.3, with MANUAL_REVIEW reachable from the non-terminal states as §6.1 describes (OPERATOR class, horizon, unknown status). */
const ALLOWED: Readonly<Record<RefundState, Partial<Record<RefundState, readonly Evidence[]>>>> = {
  PENDING: {
    PROCESSING: WECHAT,
    SUCCESS: WECHAT,
    CLOSED: WECHAT,
    ABNORMAL: WECHAT,
    REJECTED: ['submit-error'],
    MANUAL_REVIEW: ['submit-error', 'create', 'query', 'evidence-mismatch', 'operator'],
    CANCELLED: ['cancel'],
  },
  PROCESSING: {
    SUCCESS: WECHAT,
    CLOSED: WECHAT,
    ABNORMAL: WECHAT,
    MANUAL_REVIEW: ['poll-horizon', 'create', 'query', 'evidence-mismatch', 'operator'],
  },
  ABNORMAL: {
    // "accepted apply-abnormal-refund or a query after it": the query case needs the caller's context, see below.
    PROCESSING: ['apply-abnormal'],
    // Handling in the merchant portal also ends in SUCCESS without our apply call (§3.8).
    SUCCESS: [...WECHAT, 'apply-abnormal'],
    MANUAL_REVIEW: ['evidence-mismatch', 'operator'],
  },
  MANUAL_REVIEW: {
    PENDING: ['operator'],
    // A query or notification saying PROCESSING proves nothing new about a refund that was escalated BECAUSE it
    // stayed PROCESSING; only a create reply (submission finally accepted), abnormal handling or an operator moves it.
    PROCESSING: ['create', 'operator', 'apply-abnormal'],
    SUCCESS: [...WECHAT, 'operator', 'apply-abnormal'],
    CLOSED: [...WECHAT, 'operator'],
    ABNORMAL: [...WECHAT, 'operator'],
    REJECTED: ['operator', 'submit-error'],
  },
  SUCCESS: {},
  CLOSED: {},
  REJECTED: {},
  // Reached only from a held refund, by its ledger's cancel (refund-tracker.ts), never from WeChat evidence.
  CANCELLED: {},
};

export type TransitionDecision =
  | { kind: 'apply' }
  /** already in that state: a duplicate notification or a repeated query. No side effects. */
  | { kind: 'duplicate' }
  /** would move backwards or skip required evidence (e.g. ABNORMAL after SUCCESS handling started): ignore, log. */
  | { kind: 'stale'; reason: string }
  /** contrary evidence about a terminal refund: never applied, raises an alert. */
  | { kind: 'contradiction'; reason: string };

export interface TransitionContext {
  /** apply-abnormal-refund was accepted for this refund; a later query may then prove ABNORMAL → PROCESSING. */
  abnormalHandlingRequested?: boolean;
}

export function decideTransition(
  from: RefundState,
  to: RefundState,
  evidence: Evidence,
  context: TransitionContext = {},
): TransitionDecision {
  if (from === to) return { kind: 'duplicate' };
  if (isTerminal(from)) {
    // A reply WeChat wrote before the refund settled can arrive after the notification that settled it (a create or
    // query in flight): an earlier, non-final status is stale news. Another outcome (CLOSED after SUCCESS, ABNORMAL)
    // is real contrary evidence. Found by the reliability soak.
    if (to === 'PENDING' || to === 'PROCESSING') {
      return { kind: 'stale', reason: `${from} is final; ${evidence} reply says ${to} (written before it settled)` };
    }
    return { kind: 'contradiction', reason: `${from} is final; ${evidence} says ${to}` };
  }
  const allowed = ALLOWED[from][to] ?? [];
  if (allowed.includes(evidence)) return { kind: 'apply' };
  if (from === 'ABNORMAL' && to === 'PROCESSING' && evidence === 'query' && context.abnormalHandlingRequested) {
    return { kind: 'apply' };
  }
  return { kind: 'stale', reason: `${from} → ${to} is not allowed on ${evidence} evidence` };
}

/** All moves the table allows, for documentation and exhaustive tests. */
export function allowedTransitions(): ReadonlyArray<{
  from: RefundState;
  to: RefundState;
  evidence: readonly Evidence[];
}> {
  return REFUND_STATES.flatMap((from) =>
    REFUND_STATES.flatMap((to) => {
      const evidence = ALLOWED[from][to];
      return evidence ? [{ from, to, evidence }] : [];
    }),
  );
}

/**
 * §6.2: a WeChat status (create/query reply, either API generation, already normalised by the gateway) to the
 * internal status. NOTSURE means "resend the identical create": the refund is still PENDING. Anything unknown goes
 * to a human.
 */
export function stateFromWechatStatus(status: string): RefundState {
  switch (status) {
    case 'PROCESSING':
    case 'SUCCESS':
    case 'CLOSED':
    case 'ABNORMAL':
      return status;
    case 'CLOSE': // notify alias (§10)
    case 'REFUNDCLOSE': // v2
      return 'CLOSED';
    case 'CHANGE': // v2
      return 'ABNORMAL';
    case 'NOTSURE':
      return 'PENDING';
    default:
      return 'MANUAL_REVIEW';
  }
}

/** A status as the ledger sees it: QUEUED is a requested refund whose workflow has not started yet. */
export type LedgerEntryStatus = 'QUEUED' | RefundState;

export type MoneyEffect = 'reserved' | 'consumed' | 'released';

/**
 * §6.3 last paragraph: PENDING, PROCESSING, ABNORMAL reserve the amount; SUCCESS consumes it; CLOSED and REJECTED
 * release it; MANUAL_REVIEW keeps it reserved (money may have moved). QUEUED reserves too: it was promised.
 */
export function moneyEffect(status: LedgerEntryStatus): MoneyEffect {
  switch (status) {
    case 'SUCCESS':
      return 'consumed';
    case 'CLOSED':
    case 'REJECTED':
    case 'CANCELLED':
      return 'released';
    case 'QUEUED':
    case 'PENDING':
    case 'PROCESSING':
    case 'ABNORMAL':
    case 'MANUAL_REVIEW':
      return 'reserved';
  }
}

/**
 * Whether a refund counts towards WeChat's 50-refunds-per-order limit (M6). Closed refunds exist at WeChat and
 * count; REJECTED ones were refused synchronously and CANCELLED ones were never sent, so nothing exists at WeChat and
 * they do not.
 */
export function countsTowardsRefundLimit(status: LedgerEntryStatus): boolean {
  return status !== 'REJECTED' && status !== 'CANCELLED';
}
