/**
 * The refund API as a Fastify app: JSON only, a body limit (413), API keys (auth.ts), a request id on every answer
 * (`Request-Id`), the routes (routes.ts), one error mapping (errors.ts) and metrics (metrics.ts). Everything it talks
 * to is injected (the Temporal client, the task queue, the merchants, the key hashes), so `npm run api` and the tests
 * build it the same way.
 *
 * Public routes: /healthz, /metrics and /openapi.json need no key (probes and scrapers carry none). They show no
 * refund: health, counts by route pattern and status, and the document. Who may reach them is decided, as for the
 * whole API, by where it listens (`api.host`, default 127.0.0.1) and the network in front of it: a deployment that
 * exposes the API beyond its own network routes only /v1/ there, as it would keep /healthz in.
 *
 * Logs (pino, one line per request and answer): method, URL (path and query: refund and order numbers, never
 * secrets), status, time, request id, the caller's key name. Never the Authorization header (redacted should a
 * serializer ever include it), keys, key hashes, bodies or metadata: routes log the fields they name.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { KeyVerifier } from './auth';
import { apiConfigSchema, type ApiConfig, type ApiConfigInput, type ApiKeyConfig } from './config';
import { ApiError, fromCoreError, fromFrameworkError, sendError } from './errors';
import type { MerchantRoster } from './merchant-choice';
import { createApiMetrics, observeRequest, type ApiMetrics } from './metrics';
import { registerHealthRoute, registerMetricsRoute, registerOpenApiRoute, registerRefundRoutes } from './routes';

export interface ApiDeps {
  config: ApiConfigInput | ApiConfig;
  temporal: Client;
  taskQueue: string;
  /**
   * The deployment's merchants: a MerchantRegistry (`loadProgramRegistry(env).registry`), or one built by hand with
   * merchantRoster() (tests). A function is asked on every request, so a reloaded registry takes effect at once.
   */
  merchants: MerchantRoster | (() => MerchantRoster);
  /** Key hashes to accept; default config.keys. */
  keys?: readonly ApiKeyConfig[];
  /** Where pino writes (default stdout); tests pass a stream to inspect the log lines. */
  logStream?: NodeJS.WritableStream;
  /** Default: a registry of its own, without the process metrics (`npm run api` passes defaultMetrics: true). */
  metrics?: ApiMetrics;
}

/** A registered route, as Fastify names it (`/v1/refunds/:out_refund_no`). */
export interface RegisteredRoute {
  method: string;
  url: string;
}

export interface ApiServer {
  app: FastifyInstance;
  config: ApiConfig;
  metrics: ApiMetrics;
  /** Every route it answers (HEAD twins of GETs left out): openapi.test.ts checks each is documented. */
  routes: readonly RegisteredRoute[];
  /** Listens on config.host:config.port; resolves with the base URL, e.g. http://127.0.0.1:18070. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

function merchantsNow(merchants: ApiDeps['merchants']): () => MerchantRoster {
  return typeof merchants === 'function' ? merchants : () => merchants;
}

const PUBLIC_PATHS = new Set(['/healthz', '/metrics', '/openapi.json']);

export function createApiServer(deps: ApiDeps): ApiServer {
  const config = apiConfigSchema.parse(deps.config);
  const verifier = new KeyVerifier(deps.keys ?? config.keys);
  const app = Fastify({
    logger: {
      level: config.logLevel,
      ...(deps.logStream ? { stream: deps.logStream } : {}),
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    // Our own ids only: the POST's ledger token is built from it and must be unique per request.
    genReqId: () => `req_${randomUUID().replace(/-/g, '')}`,
    requestIdHeader: false,
    return503OnClosing: true,
  });

  const metrics = deps.metrics ?? createApiMetrics();
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    // HEAD: Fastify's own twin of every GET (no route here registers HEAD itself).
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });

  // JSON only (Fastify's parser, which refuses __proto__ tricks); any other media type is 415. An empty body with a
  // JSON content type is no body (many clients send the header on a bodiless POST, e.g. a cancel), not a 400.
  app.removeContentTypeParser(['text/plain']);
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text.length === 0) return done(null, undefined);
    return jsonParser(req, text, done);
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('request-id', req.id);
    reply.header('cache-control', 'no-store');
    if (PUBLIC_PATHS.has(req.routeOptions.url ?? '')) return;
    const name = verifier.verify(req.headers.authorization);
    if (!name) {
      req.log.info('refused: no valid API key');
      reply.header('www-authenticate', 'Bearer realm="wechatpay-refunds"');
      return sendError(
        reply,
        new ApiError(401, 'unauthorized', 'a valid API key is required: Authorization: Bearer <key>'),
        config.retryAfterSeconds,
      );
    }
    (req as typeof req & { apiKeyName?: string }).apiKeyName = name;
    req.log.debug({ caller: name }, 'caller');
  });

  app.addHook('onResponse', async (req, reply) => {
    observeRequest(metrics, {
      method: req.method,
      route: req.routeOptions.url,
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
    });
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new ApiError(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`), 0),
  );

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const known = fromFrameworkError(err) ?? fromCoreError(err);
    if (known) {
      if (known.status >= 500) req.log.warn({ err: { name: err.name, message: err.message } }, 'answered 503');
      return sendError(reply, known, config.retryAfterSeconds);
    }
    req.log.error({ err }, 'unexpected error');
    return sendError(reply, new ApiError(500, 'internal', `internal error (request ${req.id})`), 0);
  });

  const ctx = {
    client: deps.temporal,
    taskQueue: deps.taskQueue,
    decisionTimeoutMs: config.decisionTimeoutMs,
    queryTimeoutMs: config.queryTimeoutMs,
    merchants: merchantsNow(deps.merchants),
  };
  registerRefundRoutes(app, ctx);
  registerHealthRoute(app, deps.temporal, config.healthTimeoutMs);
  registerMetricsRoute(app, metrics);
  registerOpenApiRoute(app);

  return {
    app,
    config,
    metrics,
    routes,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const addr = app.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${host}:${addr.port}`;
    },
    close: () => app.close(),
  };
}
