/**
 * Delivers one refund event to the order service (workflow ID = event id, see refund-events.ts): POST, signed, until
 * the receiver answers 2xx or the retry window (at least 3 days in production) has passed.
 *
 * Each attempt is one activity run that Temporal does not retry by itself: the workflow waits between attempts with
 * a growing timer, so every attempt, with the receiver's answer, is on record (`eventDelivery` query; the refund's
 * timeline in `ops show` and `GET /v1/refunds/…` lists them). The event, and so its body and id, never change
 * between attempts; only the signature's timestamp does.
 */
import * as wf from '@temporalio/workflow';
import type { RefundActivities } from '../activities';
import { eventDeliveryQuery } from './definitions';
import { isoAt } from './support';
import type { EventDeliveryAttempt, EventDeliveryView, EventRetrySchedule, RefundEventDeliveryInput } from './types';

const { deliverRefundEvent } = wf.proxyActivities<RefundActivities>({
  // The POST has its own, shorter timeout (events settings); this bounds a stuck worker.
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 1 },
});

/** The wait after the n-th failed attempt (n ≥ 1). */
export function delayAfterAttempt(schedule: EventRetrySchedule, attempt: number): number {
  const delay = schedule.initialIntervalMs * schedule.backoffCoefficient ** (attempt - 1);
  return Math.min(Math.round(delay), schedule.maximumIntervalMs);
}

export async function eventDeliveryWorkflow(event: RefundEventDeliveryInput): Promise<EventDeliveryView> {
  const firstAttemptAtMs = Date.now();
  const view: EventDeliveryView = {
    id: event.id,
    type: event.type,
    createdAt: event.createdAt,
    outRefundNo: event.refund.outRefundNo,
    state: 'PENDING',
    attempts: [],
  };
  wf.setHandler(eventDeliveryQuery, () => view);

  for (let attempt = 1; ; attempt++) {
    const startedMs = Date.now();
    let record: EventDeliveryAttempt;
    try {
      const { ok, ...result } = await deliverRefundEvent({ event, attempt });
      record = { at: isoAt(startedMs), ...result };
      if (ok) {
        view.attempts.push(record);
        view.state = 'DELIVERED';
        break;
      }
    } catch (err) {
      // The activity itself failed (worker without an events target, timed out): an attempt like any other.
      const cause = err instanceof wf.ActivityFailure ? err.cause : err;
      record = { at: isoAt(startedMs), error: cause instanceof Error ? cause.message : String(cause) };
    }
    view.attempts.push(record);
    const delay = delayAfterAttempt(event.retry, attempt);
    if (Date.now() + delay - firstAttemptAtMs > event.retry.giveUpAfterMs) {
      view.state = 'FAILED';
      wf.log.error('refund event not delivered: gave up', { id: event.id, attempts: attempt });
      break;
    }
    view.nextAttemptAt = isoAt(Date.now() + delay);
    await wf.sleep(delay);
    view.nextAttemptAt = undefined;
  }
  return view;
}
