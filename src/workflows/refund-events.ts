/**
 * Events to the order service. Every state an order service acts on (SUCCESS, CLOSED, REJECTED, ABNORMAL,
 * MANUAL_REVIEW, CANCELLED) is announced as an event, and each event is delivered by its own workflow
 * (`<refund workflow ID>:event-<n>`, event-delivery.ts), started as an abandoned child:
 *
 * - a failing receiver never delays the refund: the refund only waits for the child to START, never for delivery;
 * - a refund that ended before its events were delivered still delivers them: the child outlives its parent;
 * - the event's id is the child's workflow ID, derived from the refund's ID and the number of the state change, so
 *   it never changes, whatever is retried or replayed, and starting it twice is impossible.
 *
 * Whether this worker sends events at all (and how long to retry) is the worker's configuration, read once per
 * refund through a local activity, so nothing is started for deployments without an events target.
 */
import * as wf from '@temporalio/workflow';
import type { EventsPolicy, RefundActivities } from '../activities';
import { refundWorkflowId } from '../domain/ids';
import { EVENT_TYPE_OF_STATE } from '../events/types';
import type { RefundState } from '../domain/status';
import { eventDeliveryWorkflow } from './event-delivery';
import type { RefundTracker } from './refund-tracker';
import type { EventRetrySchedule, RefundEventType, RefundSnapshot, RefundStatusView } from './types';

const EVENT_TYPE_OF: Partial<Record<RefundState, RefundEventType>> = EVENT_TYPE_OF_STATE;

const { eventsPolicy } = wf.proxyLocalActivities<RefundActivities>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 3 },
});

/** The event id (and delivery workflow ID) of the n-th state change: `:` never occurs in a refund's workflow ID. */
export function eventIdFor(refundWorkflowId: string, stateChange: number): string {
  return `${refundWorkflowId}:event-${stateChange}`;
}

/** The refund as its events describe it: the status view without the long timelines. */
export function snapshotOf(view: RefundStatusView): RefundSnapshot {
  const {
    submitAttempts: _submitAttempts,
    polls: _polls,
    notifications: _notifications,
    abnormalResolutions: _abnormalResolutions,
    operatorActions: _operatorActions,
    alerts: _alerts,
    events: _events,
    ...snapshot
  } = view;
  return snapshot;
}

export class RefundEvents {
  /** State changes already looked at (RefundFacts.transitions is append-only). */
  private seen = 0;
  private starting = false;
  private schedule?: EventRetrySchedule | null;

  /**
   * `idFromWorkflowId`: event ids start with the refund's own workflow ID, which names its merchant (domain/ids.ts);
   * histories from before MERCHANT_CALL_BUDGETS built it from out_refund_no and sub_mchid, the same for the default
   * merchant, and keep doing so on replay.
   */
  constructor(
    private readonly refund: RefundTracker,
    private readonly options: { idFromWorkflowId: boolean; policy?: EventsPolicy } = { idFromWorkflowId: false },
  ) {
    // Asked already by the workflow (refundPolicy); older histories ask here, at the first announced state.
    if (options.policy) this.schedule = options.policy.enabled ? options.policy.retry : null;
  }

  /** Runs beside the refund's own loops until the workflow ends. */
  start(): void {
    void this.run();
  }

  /** Nothing left to announce: the workflow may complete (its children's starts are recorded). */
  idle(): boolean {
    return !this.starting && this.seen === this.refund.known.transitions.length;
  }

  private async run(): Promise<void> {
    for (;;) {
      await wf.condition(() => this.seen < this.refund.known.transitions.length);
      this.starting = true;
      try {
        while (this.seen < this.refund.known.transitions.length) {
          const index = this.seen;
          this.seen += 1;
          await this.announce(index);
        }
      } finally {
        this.starting = false;
      }
    }
  }

  private async announce(index: number): Promise<void> {
    const transition = this.refund.known.transitions[index];
    const type = EVENT_TYPE_OF[transition.to];
    if (!type) return;
    if (this.schedule === undefined) {
      const policy = await eventsPolicy().catch((err: unknown) => {
        wf.log.warn('could not read the events policy: no events for this refund', { error: String(err) });
        return { enabled: false as const };
      });
      this.schedule = policy.enabled ? policy.retry : null;
    }
    if (this.schedule === null) return;
    // From the refund's business key (its workflow ID), so the id depends on nothing but the refund.
    const refundId = this.options.idFromWorkflowId
      ? wf.workflowInfo().workflowId
      : refundWorkflowId(this.refund.input.outRefundNo, this.refund.input.subMchid);
    const id = eventIdFor(refundId, index + 1);
    const record = { id, type, createdAt: transition.at };
    try {
      await wf.startChild(eventDeliveryWorkflow, {
        workflowId: id,
        args: [{ ...record, refund: snapshotOf(this.refund.view()), retry: this.schedule }],
        // Delivery goes on (for days if the receiver is down) after the refund itself has ended.
        parentClosePolicy: wf.ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `Event ${type} for refund ${this.refund.input.outRefundNo}`,
      });
      this.refund.recordEvent(record);
    } catch (err) {
      // Only a start refused for good lands here (e.g. the ID exists: a reset replayed this refund). The refund goes
      // on; the log says which event is missing.
      wf.log.error('could not start the delivery of a refund event', { id, type, error: String(err) });
    }
  }
}
