/**
 * A stand-in for the order service's event endpoint (dev stack, demo, tests): verifies each delivery's signature
 * exactly as docs/events.md tells order services to, answers like a receiver would, and records every attempt so that
 * what the engine sent can be inspected (`GET /__events`).
 *
 * - bad or missing signature, a body that is not an event, or an id header that differs from the body's id: 400;
 * - `failFirst`: the first N well-signed deliveries, whatever their event, are answered 500 (a receiver that is down
 *   for a while), then 2xx. `failNext(n)` arms that again while running.
 *
 * Not for production: it keeps every delivery in memory and its admin read has no authentication.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import type { RefundEventEnvelope } from './types';
import { verifyEventSignature } from './signature';

export const RECEIVER_DEFAULT_PATH = '/refund-events';
export const RECEIVER_ADMIN_PATH = '/__events';

export interface ReceivedDelivery {
  /** 1 for the first delivery this receiver got. */
  seq: number;
  /** The Refund-Event-Id header. */
  id?: string;
  /** The body's `type`, when the body is JSON. */
  type?: string;
  path: string;
  rawBody: string;
  headers: Record<string, string>;
  verified: boolean;
  /** Why it was not verified. */
  reason?: string;
  /** What the receiver answered. */
  status: number;
  receivedAt: string;
}

export interface EventReceiverOptions {
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** The URL path in `url` (any POST path is accepted). */
  path?: string;
  /** Every secret a signature may be made with (more than one while rotating). */
  secrets: readonly string[];
  /** Answer 500 to this many well-signed deliveries first, counted over all events. */
  failFirst?: number;
  toleranceSec?: number;
  /** One line per delivery (what the CLI prints). */
  log?: (line: string) => void;
}

export interface EventReceiver {
  /** Where to send events, e.g. http://127.0.0.1:18095/refund-events. */
  url: string;
  /** Every delivery attempt, in arrival order. */
  deliveries(): ReceivedDelivery[];
  /** The distinct events by id that were verified and answered 2xx (each once), in arrival order. */
  events(): RefundEventEnvelope[];
  /** Answer 500 to the next `n` well-signed deliveries. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/** `<id> <type> <out_refund_no> <state>`: how a received event is shown (CLI, demo). */
export function describeEvent(event: RefundEventEnvelope): string {
  const refund = (event.data?.refund ?? {}) as { out_refund_no?: unknown; state?: unknown };
  return `${event.id} ${event.type} ${String(refund.out_refund_no ?? '?')} ${String(refund.state ?? '?')}`;
}

/** The body as an event, or why it is not one. */
function parseEnvelope(raw: Buffer): RefundEventEnvelope | string {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  const e = body as Partial<RefundEventEnvelope> | null;
  if (!e || typeof e !== 'object' || typeof e.id !== 'string' || typeof e.type !== 'string' || !e.data) {
    return 'body is not a refund event (id, type, data)';
  }
  return e as RefundEventEnvelope;
}

export async function startEventReceiver(opts: EventReceiverOptions): Promise<EventReceiver> {
  const { host = '127.0.0.1', port = 0, path = RECEIVER_DEFAULT_PATH, secrets, toleranceSec, log } = opts;
  if (secrets.length === 0) throw new Error('startEventReceiver: at least one secret is required');
  let failRemaining = opts.failFirst ?? 0;
  const deliveries: ReceivedDelivery[] = [];
  /** Verified and answered 2xx, by id: what the order service would have acted on. */
  const accepted = new Map<string, RefundEventEnvelope>();

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  // The signature covers the raw bytes: take the body as received, whatever its content type, and parse it ourselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const receive = (req: FastifyRequest): { delivery: ReceivedDelivery; event?: RefundEventEnvelope } => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]),
    );
    const id = headers['refund-event-id'];
    const parsed = parseEnvelope(raw);
    const event = typeof parsed === 'object' ? parsed : undefined;
    const check = verifyEventSignature(headers['refund-signature'], raw, secrets, { toleranceSec });
    let reason: string | undefined;
    if (!check.ok) reason = check.reason;
    else if (!event) reason = parsed as string;
    else if (event.id !== id) reason = `Refund-Event-Id ${id ?? '(none)'} is not the body's id`;
    let status = 200;
    if (reason !== undefined) status = 400;
    else if (failRemaining > 0) {
      failRemaining -= 1;
      status = 500;
    }
    const delivery: ReceivedDelivery = {
      seq: deliveries.length + 1,
      id,
      type: event?.type,
      path: req.url,
      rawBody: raw.toString('utf8'),
      headers,
      verified: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      status,
      receivedAt: new Date().toISOString(),
    };
    return { delivery, event: reason === undefined ? event : undefined };
  };

  app.post('*', async (req, reply) => {
    const { delivery: d, event } = receive(req);
    deliveries.push(d);
    if (event && d.status === 200 && !accepted.has(event.id)) accepted.set(event.id, event);
    log?.(
      `${d.verified ? '✔' : '✘'} ${event ? describeEvent(event) : (d.id ?? '(no Refund-Event-Id)')} ` +
        `answered ${d.status}${d.reason ? ` (${d.reason})` : ''}`,
    );
    if (d.status === 400) return reply.code(400).send({ error: d.reason });
    if (d.status === 500) return reply.code(500).send({ error: 'failing on purpose (failFirst)' });
    return reply.code(200).send({ received: true });
  });

  app.get(RECEIVER_ADMIN_PATH, async () => ({ deliveries, events: [...accepted.values()] }));

  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${hostInUrl}:${actualPort}${path}`,
    deliveries: () => [...deliveries],
    events: () => [...accepted.values()],
    failNext: (n) => {
      failRemaining = n;
    },
    close: () => app.close(),
  };
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Where a stand-in receiver would listen for `url`, when that URL points at this machine (the dev stack starts one
 * only then); undefined for any other host, which is a real order service's.
 */
export function localReceiverAddress(url: string): { host: string; port: number; path: string } | undefined {
  const u = new URL(url);
  if (!LOCAL_HOSTS.has(u.hostname)) return undefined;
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  // The stand-in speaks plain http only.
  if (u.protocol !== 'http:') return undefined;
  return { host: u.hostname === '[::1]' ? '::1' : u.hostname, port, path: u.pathname };
}
