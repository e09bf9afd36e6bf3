/**
 * The refund-notification webhook as a Fastify app: routes, raw-body parsing, hardening, metrics and health.
 * Everything it talks to is injected (Temporal client, merchants' verifiers, orphan log, clock), so the dev launcher,
 * `npm run webhook` and the tests build it the same way.
 *
 * Routes (the path may carry the merchant for partner setups with several merchants):
 *   POST /wechatpay/v3/refund-notify[/:mchid]   v3 JSON (and v2 XML, which WeChat sometimes sends there: §4.9)
 *   POST /wechatpay/v2/refund-notify[/:mchid]   v2 XML
 *   GET  /healthz                                200 when Temporal answers, else 503
 *   GET  /metrics                                Prometheus text format
 */
import { V3_NOTIFY_PATH, V2_NOTIFY_PATH } from './notify-url';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { webhookConfigSchema, type WebhookConfig, type WebhookConfigInput } from './config';
import type { MerchantVerifier } from './merchant-verifier';
import { createWebhookMetrics, type WebhookMetrics } from './metrics';
import {
  handleNotification,
  rejectedBeforeVerification,
  type ApiVersion,
  type NotificationHandlerDeps,
  type Outcome,
} from './notification-handler';
import { JsonlOrphanLog, type OrphanSink } from './orphans';
import { RecentNotifications } from './recent-notifications';
import { fail, sendAnswer, type ReplyFormat } from './replies';
import { temporalIsReachable, type SignalOutcome } from './signal-refund';

export interface WebhookDeps {
  /** Parsed or raw config (defaults are filled in here). */
  config: WebhookConfigInput | WebhookConfig;
  /** Temporal client; its connection may be lazy: the webhook starts (and reports unhealthy) while Temporal is down. */
  temporal: Client;
  /** One verifier per merchant that may be named in the path (or served by the default routes). */
  merchants: readonly MerchantVerifier[];
  orphans?: OrphanSink;
  metrics?: WebhookMetrics;
  clock?: () => Date;
  /** Where pino writes (default stdout); tests pass a stream to inspect the log lines. */
  logStream?: NodeJS.WritableStream;
}

export interface WebhookServer {
  app: FastifyInstance;
  config: WebhookConfig;
  metrics: WebhookMetrics;
  orphans: OrphanSink;
  /** Starts listening on config.host:config.port; resolves with the base URL, e.g. http://127.0.0.1:18090. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export { V3_NOTIFY_PATH, V2_NOTIFY_PATH, notifyUrl } from './notify-url';

type BodyFormat = 'json' | 'xml';
const BODY_TYPES: Record<string, BodyFormat> = {
  'application/json': 'json',
  'text/xml': 'xml',
  'application/xml': 'xml',
};

function bodyFormatOf(contentType: string | undefined): BodyFormat | undefined {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return BODY_TYPES[mediaType];
}

/** WeChat sends a Request-ID header; reuse it when it looks like an id so our logs and theirs line up. */
function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

interface RouteConfig {
  notification?: { route: ApiVersion };
}

/** Fastify's own refusals (before our handler runs), as fixed public texts. */
function frameworkRefusal(err: FastifyError): { reason: string; status: number; message: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { reason: 'BODY_TOO_LARGE', status: 413, message: 'body too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { reason: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'unsupported content type' };
    default: {
      const status =
        typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      return status === 500
        ? { reason: 'INTERNAL', status, message: 'internal error' }
        : { reason: 'BAD_REQUEST', status, message: 'bad request' };
    }
  }
}

/** Probes are routine, not attacks (§4.8); undecryptable-but-signed and internal errors need a human (§4.5). */
function logLevelOf(o: Outcome): 'debug' | 'info' | 'warn' | 'error' {
  if (o.reason === 'SIGNTEST_PROBE') return 'debug';
  if (o.result === 'undecryptable' || o.result === 'error') return 'error';
  if (o.result === 'rejected' || o.result === 'temporal_unavailable' || o.result === 'orphaned') return 'warn';
  return 'info';
}

export function createWebhookServer(deps: WebhookDeps): WebhookServer {
  const config = webhookConfigSchema.parse(deps.config);
  const metrics = deps.metrics ?? createWebhookMetrics();
  const orphans = deps.orphans ?? new JsonlOrphanLog(config.orphanLogPath);
  const clock = deps.clock ?? (() => new Date());
  const merchants = new Map(deps.merchants.map((m) => [m.mchid, m]));
  if (config.defaultMchid !== undefined && !merchants.has(config.defaultMchid)) {
    throw new Error(
      `webhook.defaultMchid ${config.defaultMchid} is not one of the merchants (${[...merchants.keys()].join(', ')})`,
    );
  }
  const defaultMchid = config.defaultMchid ?? (merchants.size === 1 ? [...merchants.keys()][0] : undefined);

  const handlerDeps: NotificationHandlerDeps = {
    temporal: deps.temporal,
    orphans,
    recent: new RecentNotifications<SignalOutcome>(config.dedupe),
    signalTimeoutMs: config.signalTimeoutMs,
    clock,
    merchants,
  };

  const app = Fastify({
    logger: {
      level: config.logLevel,
      ...(deps.logStream ? { stream: deps.logStream } : {}),
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

  function record(
    req: FastifyRequest,
    reply: FastifyReply,
    apiVersion: ApiVersion,
    mchid: string | undefined,
    o: Outcome,
  ) {
    metrics.notifications.inc({ api_version: apiVersion, result: o.result });
    if (o.reason) metrics.rejections.inc({ api_version: apiVersion, reason: o.reason });
    metrics.duration.observe({ api_version: apiVersion, result: o.result }, reply.elapsedTime / 1000);
    const n = o.notification;
    const fields = {
      apiVersion,
      mchid: n?.mchid ?? mchid,
      ...(n?.subMchid ? { subMchid: n.subMchid } : {}),
      result: o.result,
      ...(o.reason ? { reason: o.reason } : {}),
      httpStatus: o.answer.httpStatus,
      ...(n ? { outRefundNo: n.outRefundNo, notificationId: n.notificationId, refundStatus: n.status } : {}),
    };
    req.log[logLevelOf(o)](fields, `refund notification ${o.result}`);
  }

  /**
   * WeChat stops waiting after 5 s and counts that as a failure anyway; answering 503 ourselves before then is cleaner
   * (and logged). The late work sees its signal aborted and does not signal Temporal after we said "retry later".
   * (Fastify's own handlerTimeout is not used: it is cleared once the request body has been read.)
   */
  async function withinDeadline(
    req: FastifyRequest,
    work: (signal: AbortSignal) => Promise<Outcome>,
  ): Promise<Outcome> {
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        deadline.abort();
        resolve({
          result: 'temporal_unavailable',
          reason: 'HANDLER_TIMEOUT',
          answer: fail(503, 'timed out, retry later'),
        });
      }, config.handlerTimeoutMs);
    });
    const done = work(deadline.signal).then(
      (outcome) => {
        if (deadline.signal.aborted)
          req.log.warn({ result: outcome.result }, 'notification finished after its deadline');
        return outcome;
      },
      (err: unknown): Outcome => {
        // Unexpected (a bug or a broken key file): details go to the log, never into the answer.
        req.log.error({ err }, 'unexpected error while handling a refund notification');
        return { result: 'error', answer: fail(500, 'internal error') };
      },
    );
    try {
      return await Promise.race([done, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function notificationRoute(
    route: ApiVersion,
    req: FastifyRequest<{ Params: { mchid?: string } }>,
    reply: FastifyReply,
  ) {
    const format = bodyFormatOf(req.headers['content-type']);
    const replyFormat: ReplyFormat = format ?? (route === 'v2' ? 'xml' : 'json');
    // WeChat sends v2 XML to a v3 notify_url for v2 refunds and portal refunds (§4.9): the v3 route takes both.
    const apiVersion: ApiVersion = format === 'xml' ? 'v2' : route;
    const mchid = req.params.mchid ?? defaultMchid;
    const merchant = mchid === undefined ? undefined : merchants.get(mchid);
    let outcome: Outcome;
    if (format === undefined || (route === 'v2' && format === 'json')) {
      outcome = rejectedBeforeVerification('UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported content type');
    } else if (!merchant) {
      outcome = rejectedBeforeVerification('UNKNOWN_MERCHANT', 404, 'unknown merchant');
    } else if ((apiVersion === 'v3' && !merchant.verifyV3) || (apiVersion === 'v2' && !merchant.decodeV2)) {
      outcome = rejectedBeforeVerification(
        'VERSION_NOT_CONFIGURED',
        404,
        `API ${apiVersion} is not configured for this merchant`,
      );
    } else {
      outcome = await withinDeadline(req, (abortSignal) =>
        handleNotification(handlerDeps, {
          apiVersion,
          merchant,
          headers: req.headers,
          rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
          requestId: req.id,
          log: req.log,
          abortSignal,
        }),
      );
    }
    record(req, reply, apiVersion, mchid, outcome);
    return sendAnswer(reply, replyFormat, outcome.answer);
  }

  for (const route of ['v3', 'v2'] as const) {
    const base = route === 'v3' ? V3_NOTIFY_PATH : V2_NOTIFY_PATH;
    const config: RouteConfig = { notification: { route } };
    for (const url of [base, `${base}/:mchid`]) {
      app.post<{ Params: { mchid?: string } }>(url, { config }, (req, reply) => notificationRoute(route, req, reply));
    }
  }

  app.get('/healthz', async (_req, reply) => {
    const up = await temporalIsReachable(deps.temporal, config.healthTimeoutMs);
    return reply
      .code(up ? 200 : 503)
      .send({ status: up ? 'ok' : 'unavailable', temporal: up ? 'reachable' : 'unreachable' });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.setNotFoundHandler((_req, reply) => sendAnswer(reply, 'json', fail(404, 'not found')));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const refusal = frameworkRefusal(err);
    const route = (req.routeOptions.config as RouteConfig | undefined)?.notification?.route;
    if (refusal.status >= 500) req.log.error({ err }, 'request failed');
    if (!route) return sendAnswer(reply, 'json', fail(refusal.status, refusal.message));
    const format = bodyFormatOf(req.headers['content-type']);
    const apiVersion: ApiVersion = format === 'xml' ? 'v2' : route;
    const result = refusal.status >= 500 ? 'error' : 'rejected';
    const params = req.params as { mchid?: string } | undefined;
    const answer = fail(refusal.status, refusal.message);
    record(req, reply, apiVersion, params?.mchid ?? defaultMchid, { result, reason: refusal.reason, answer });
    return sendAnswer(reply, format ?? (route === 'v2' ? 'xml' : 'json'), answer);
  });

  return {
    app,
    config,
    metrics,
    orphans,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const addr = app.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${host}:${addr.port}`;
    },
    async close() {
      await app.close();
    },
  };
}
