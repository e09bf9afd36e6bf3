/**
 * The demo's view of refund events: what the stand-in order service (src/events/receiver.ts, started with the stack
 * when `events.url` is local) received, read from its `GET /__events`, grouped by event id, and which events the
 * demo's refunds should have produced. Events are delivered by their own workflows after a refund ends, so the demo
 * waits a little for them; it reports what is missing rather than failing the run on it.
 */
import type { StackConfig } from '../../config/stack-config';
import { EVENT_TYPE_OF_STATE, type RefundEventEnvelope } from '../../events/types';
import { localReceiverAddress, RECEIVER_ADMIN_PATH, type ReceivedDelivery } from '../../events/receiver';

export interface ReceivedEvent {
  id: string;
  type: string;
  outRefundNo: string;
  state: string;
  /** Some delivery of it carried a signature that verified. */
  verified: boolean;
  /** Why its deliveries did not verify (when none did). */
  reason?: string;
  /** Deliveries of this id (a retried event has several). */
  attempts: number;
}

export interface ExpectedEvent {
  outRefundNo: string;
  type: string;
}

/** The stand-in receiver's admin URL, when the stack runs one. */
export function demoReceiverAdminUrl(cfg: StackConfig): string | undefined {
  const { enabled, url } = cfg.events;
  return enabled && url && localReceiverAddress(url) ? new URL(RECEIVER_ADMIN_PATH, url).href : undefined;
}

function refundOf(rawBody: string): { type: string; outRefundNo: string; state: string } | undefined {
  try {
    const e = JSON.parse(rawBody) as RefundEventEnvelope<{ out_refund_no?: string; state?: string }>;
    return { type: e.type, outRefundNo: e.data?.refund?.out_refund_no ?? '?', state: e.data?.refund?.state ?? '?' };
  } catch {
    return undefined;
  }
}

export async function fetchReceivedEvents(adminUrl: string): Promise<ReceivedEvent[]> {
  const res = await fetch(adminUrl, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${adminUrl} answered ${res.status}`);
  const { deliveries } = (await res.json()) as { deliveries: ReceivedDelivery[] };
  const byId = new Map<string, ReceivedEvent>();
  for (const d of deliveries) {
    const refund = refundOf(d.rawBody);
    const id = d.id ?? '(no id)';
    const seen = byId.get(id);
    if (seen) {
      seen.attempts += 1;
      if (d.verified && !seen.verified) Object.assign(seen, { verified: true, reason: undefined });
      continue;
    }
    byId.set(id, {
      id,
      type: refund?.type ?? d.type ?? '?',
      outRefundNo: refund?.outRefundNo ?? '?',
      state: refund?.state ?? '?',
      verified: d.verified,
      ...(d.reason ? { reason: d.reason } : {}),
      attempts: 1,
    });
  }
  return [...byId.values()];
}

/** The event type a refund that ended in `state` announces (none for states that announce nothing). */
export function eventTypeOf(state: string | undefined): string | undefined {
  return state ? (EVENT_TYPE_OF_STATE as Record<string, string>)[state] : undefined;
}

export const missingEvents = (expected: ExpectedEvent[], received: ReceivedEvent[]): ExpectedEvent[] =>
  expected.filter((x) => !received.some((r) => r.verified && r.outRefundNo === x.outRefundNo && r.type === x.type));

/** Polls the receiver until every expected event arrived verified, or `timeoutMs` passed; returns what it got. */
export async function waitForEvents(
  adminUrl: string,
  expected: ExpectedEvent[],
  timeoutMs: number,
): Promise<ReceivedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  let received: ReceivedEvent[] = [];
  for (;;) {
    received = await fetchReceivedEvents(adminUrl).catch(() => received);
    if (missingEvents(expected, received).length === 0 || Date.now() >= deadline) return received;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** One line per event, in columns: id, type, out_refund_no, state, whether it verified (and after how many deliveries). */
export function receivedEventLines(events: ReceivedEvent[]): string[] {
  const idWidth = Math.max(0, ...events.map((e) => e.id.length));
  const noWidth = Math.max(0, ...events.map((e) => e.outRefundNo.length));
  return events.map((e) => {
    const verified = e.verified ? 'verified' : `NOT verified: ${e.reason ?? '?'}`;
    const attempts = e.attempts > 1 ? ` (${e.attempts} deliveries)` : '';
    return (
      `${e.verified ? '✔' : '✘'} ${e.id.padEnd(idWidth)}  ${e.type.padEnd(20)} ${e.outRefundNo.padEnd(noWidth)}  ` +
      `${e.state.padEnd(13)} ${verified}${attempts}`
    );
  });
}
