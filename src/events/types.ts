/**
 * What a refund event is, with no imports: workflow code (which must not do I/O) decides which event a state
 * produces from these, and the activity that sends events (delivery.ts) re-exports them.
 */

/** The refund states an order service acts on, each delivered as one event (issue 15, docs/events.md). */
export const EVENT_TYPES = [
  'refund.succeeded',
  'refund.closed',
  'refund.rejected',
  'refund.abnormal',
  'refund.manual_review',
  'refund.cancelled',
] as const;

export type RefundEventType = (typeof EVENT_TYPES)[number];

/** The event a refund that reached `state` produces; states not listed produce none (PENDING, PROCESSING). */
export const EVENT_TYPE_OF_STATE = {
  SUCCESS: 'refund.succeeded',
  CLOSED: 'refund.closed',
  REJECTED: 'refund.rejected',
  ABNORMAL: 'refund.abnormal',
  MANUAL_REVIEW: 'refund.manual_review',
  CANCELLED: 'refund.cancelled',
} as const satisfies Record<string, RefundEventType>;

/**
 * The JSON body POSTed to the order service. Its serialised text is signed and sent unchanged by every attempt;
 * `created` is when the event happened (unix seconds), not when an attempt was made.
 */
export interface RefundEventEnvelope<Refund = unknown> {
  /** `<refund workflow id>:event-<n>`, e.g. `refund-R123:event-3`; the receiver's key for dropping repeats. */
  id: string;
  object: 'event';
  type: RefundEventType;
  created: number;
  data: { refund: Refund };
}

/**
 * The alert of a daily reconciliation that found open discrepancies (docs/reconciliation.md), sent to the same
 * order-service endpoint, signed the same way. Not a refund event: its data is the reconciliation's counts and the
 * first open findings, never a refund resource.
 */
export const RECONCILIATION_EVENT_TYPE = 'reconciliation.discrepancies' as const;

export interface ReconciliationEventEnvelope<Reconciliation = unknown> {
  /** `reconcile-<mchid>[-<sub_mchid>]-<bill date>:discrepancies`: one per merchant and day, the same on every attempt. */
  id: string;
  object: 'event';
  type: typeof RECONCILIATION_EVENT_TYPE;
  created: number;
  data: { reconciliation: Reconciliation };
}
