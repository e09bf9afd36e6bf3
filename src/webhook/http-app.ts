/**
 * The webhook's bare Fastify instance: logging with redaction, body and time limits against slow or oversized
 * requests, raw-body parsing (signatures cover the exact bytes), and the headers every answer carries. Routes are
 * added by the modules that own them (notification-routes.ts, ops-routes.ts, fallback-handlers.ts).
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { WebhookConfig } from './config';

export type BodyFormat = 'json' | 'xml';

const BODY_TYPES: Record<string, BodyFormat> = {
  'application/json': 'json',
  'text/xml': 'xml',
  'application/xml': 'xml',
};

/** The body's format by its media type (parameters such as charset ignored); undefined for any other type. */
export function bodyFormatOf(contentType: string | undefined): BodyFormat | undefined {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return BODY_TYPES[mediaType];
}

/** WeChat sends a Request-ID header; reuse it when it looks like an id so our logs and theirs line up. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

export function createHttpApp(config: WebhookConfig, logStream?: NodeJS.WritableStream): FastifyInstance {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      ...(logStream ? { stream: logStream } : {}),
      // Belt and braces: our log calls never pass these, but a future one must not leak them either.
      redact: {
        paths: [
          'req.headers.authorization',
          '*.apiV3Key',
          '*.apiKey',
          '*.userReceivedAccount',
          '*.*.userReceivedAccount',
        ],
        censor: '[redacted]',
      },
    },
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    http: {
      // Node only checks request deadlines every connectionsCheckingInterval (30 s by default): check often enough
      // that a slow-loris body is cut at about requestTimeoutMs; headers must arrive within the same budget.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(config.requestTimeoutMs / 4))),
      headersTimeout: config.requestTimeoutMs,
    },
    genReqId: (req) => requestIdOf(req.headers['request-id']),
    return503OnClosing: true,
  });

  // Verification is over the exact bytes WeChat signed: keep the body as a Buffer, never parse-then-reserialize.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(Object.keys(BODY_TYPES), { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onSend', async (req, reply) => {
    reply.header('request-id', req.id);
    reply.header('cache-control', 'no-store');
  });
  return app;
}
