/**
 * One delivery attempt of a refund event to the order service: a signed POST, and what came of it. Retrying is not
 * done here: the event's delivery workflow (workflows/event-delivery.ts) records each attempt and waits with a growing
 * timer before the next (for at least three days, events-settings.ts); each attempt is signed afresh with its own
 * timestamp, while the id and the body never change.
 *
 * Nothing the receiver does makes this throw: refused connections, timeouts, non-2xx answers and oversized replies
 * all come back as `{ ok: false }`, so the caller decides. The secret is used to sign and never logged or returned.
 */
import { request } from 'undici';
import { signatureHeader } from './signature';

export { EVENT_TYPES, EVENT_TYPE_OF_STATE, type RefundEventEnvelope, type RefundEventType } from './types';

export const EVENTS_USER_AGENT = 'wechatpay-refund-engine-events/1';

/** Of the receiver's answer only this much is read (for the refund's timeline); the rest is dropped. */
const MAX_RESPONSE_BYTES = 4 * 1024;
/** How much of a non-2xx answer is kept in `error`. */
const ERROR_EXCERPT_CHARS = 200;

export interface EventDeliveryTarget {
  url: string;
  secret: string;
  /** Whole attempt: connect, send, answer. */
  timeoutMs: number;
}

export interface OutgoingEvent {
  id: string;
  /** The serialised envelope: sent and signed byte for byte, identical on every attempt. */
  body: string;
}

export interface DeliveryAttemptResult {
  /** True only for a 2xx answer: that ends delivery. */
  ok: boolean;
  statusCode?: number;
  /** Why the attempt did not succeed: a network error, a timeout, or an excerpt of a non-2xx answer. */
  error?: string;
  durationMs: number;
}

/** One attempt, signed with `nowSec` (unix seconds of this attempt). */
export async function postRefundEvent(
  target: EventDeliveryTarget,
  event: OutgoingEvent,
  nowSec: number,
): Promise<DeliveryAttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await request(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'refund-event-id': event.id,
        'refund-signature': signatureHeader(target.secret, event.body, nowSec),
        'user-agent': EVENTS_USER_AGENT,
      },
      body: event.body,
      signal: AbortSignal.timeout(target.timeoutMs),
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
    });
    const text = await readAtMost(res.body, MAX_RESPONSE_BYTES);
    const statusCode = res.statusCode;
    if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode, durationMs: elapsed() };
    const excerpt = printable(text).slice(0, ERROR_EXCERPT_CHARS);
    return {
      ok: false,
      statusCode,
      error: `receiver answered ${statusCode}${excerpt ? `: ${excerpt}` : ''}`,
      durationMs: elapsed(),
    };
  } catch (e) {
    return { ok: false, error: describeFailure(e, target.timeoutMs), durationMs: elapsed() };
  }
}

/** Reads up to `limit` bytes and drops the rest (a misbehaving receiver cannot make the worker buffer megabytes). */
async function readAtMost(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break; // leaving the loop destroys the stream
    }
  } catch {
    // The status already decided the attempt; a body cut short changes nothing.
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

const printable = (text: string) =>
  text
    .replace(/[^\x20-\x7e\u00a0-\uffff]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError' || /TIMEOUT/.test(err?.code ?? '')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const code = err?.code ?? err?.cause?.code;
  const message = err?.message ?? String(e);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
