/** Small HTTP helpers shared by the v3, v2 and admin routes (fastify). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { CallStats } from './call-stats';
import type { EndpointFault, EndpointId } from './fault-schemas';

/** Keep every body as raw bytes: v3 signatures cover the exact bytes, v2 is XML, admin JSON is parsed by zod. */
export function rawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}

export function rawBody(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Drop the connection without a reply (connection reset / lost reply). */
export function resetConnection(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}

/** Never answer; the connection is closed when the server stops. */
export function hangForever(reply: FastifyReply): void {
  reply.hijack();
}

/**
 * Faults that strike below the API (F5 gateway 502/503 with an HTML page, connection reset, no reply at all) look the
 * same on v3 and v2. Answers and returns true for those; false leaves the fault (if any) to the protocol's routes.
 */
export function answerTransportFault(
  reply: FastifyReply,
  calls: CallStats,
  endpoint: EndpointId,
  fault: EndpointFault | undefined,
): boolean {
  switch (fault?.kind) {
    case 'SERVICE_UNAVAILABLE':
      calls.record(endpoint, fault.httpStatus, 'SERVICE_UNAVAILABLE');
      reply
        .code(fault.httpStatus)
        .type('text/html')
        .send(`<html><body><h1>${fault.httpStatus} Service Unavailable</h1></body></html>`);
      return true;
    case 'RESET':
      calls.record(endpoint, 'RESET');
      resetConnection(reply);
      return true;
    case 'HANG':
      calls.record(endpoint, 'HANG');
      hangForever(reply);
      return true;
    default:
      return false;
  }
}

/** zod issue → v3 error detail (JSON pointer, offending value, rule). */
export function zodDetail(
  error: z.ZodError,
  input: unknown,
  location: 'body' | 'url' | 'query',
): { field: string; value?: unknown; issue: string; location: string } {
  const issue = error.issues[0];
  const path = issue.path.map(String);
  let value: unknown = input;
  for (const p of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[p] : undefined;
  return {
    field: `/${path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`,
    ...(value !== undefined && typeof value !== 'object' ? { value } : {}),
    issue: issue.message,
    location,
  };
}
