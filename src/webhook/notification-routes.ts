/**
 * The notification routes, one pair per API version (`POST /wechatpay/<v3|v2>/refund-notify[/:mchid]`): choose the
 * body format and the merchant, refuse what cannot even be verified, run the notification pipeline
 * (notification-handler.ts) within WeChat's deadline, then answer, count and log the outcome.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { withinDeadline } from './deadline';
import { bodyFormatOf, type BodyFormat } from './http-app';
import type { MerchantDirectory, MerchantDirectoryView } from './merchant-directory';
import type { MerchantVerifier } from './merchant-verifier';
import type { WebhookMetrics } from './metrics';
import {
  handleNotification,
  merchantUnavailable,
  rejectedBeforeVerification,
  type ApiVersion,
  type NotificationHandlerDeps,
  type Outcome,
} from './notification-handler';
import { V2_NOTIFY_PATH, V3_NOTIFY_PATH } from './notify-url';
import { recordOutcome } from './outcome-record';
import { sendAnswer, type ReplyFormat } from './replies';

export interface NotificationRoutesContext {
  handlerDeps: NotificationHandlerDeps;
  /** The merchants, and the default one the routes without `/:mchid` serve (merchant-directory.ts). */
  directory: MerchantDirectory;
  metrics: WebhookMetrics;
  handlerTimeoutMs: number;
}

/** Kept in each notification route's Fastify config, so the error handler can answer in that route's terms. */
interface NotificationRouteConfig {
  notification?: { route: ApiVersion };
}

type NotificationRequest = FastifyRequest<{ Params: { mchid?: string } }>;

/** The API version of the route that received `req`, or undefined for any other route. */
export function notificationRouteOf(req: FastifyRequest): ApiVersion | undefined {
  return (req.routeOptions.config as NotificationRouteConfig | undefined)?.notification?.route;
}

/** WeChat sends v2 XML to a v3 notify_url for v2 refunds and portal refunds (§4.9): the v3 route takes both. */
export function apiVersionOf(route: ApiVersion, format: BodyFormat | undefined): ApiVersion {
  return format === 'xml' ? 'v2' : route;
}

/** Answer in the body's own format; a body of no known format gets the route's. */
export function replyFormatOf(route: ApiVersion, format: BodyFormat | undefined): ReplyFormat {
  return format ?? (route === 'v2' ? 'xml' : 'json');
}

export function registerNotificationRoutes(app: FastifyInstance, route: ApiVersion, ctx: NotificationRoutesContext) {
  const base = route === 'v3' ? V3_NOTIFY_PATH : V2_NOTIFY_PATH;
  const config: NotificationRouteConfig = { notification: { route } };
  for (const url of [base, `${base}/:mchid`]) {
    app.post<{ Params: { mchid?: string } }>(url, { config }, (req, reply) =>
      answerNotification(ctx, route, req, reply),
    );
  }
}

/**
 * The merchant whose keys will verify the notification, or the refusal decided from the request line, the headers and
 * the merchant's configuration alone, before any signature is looked at.
 */
function admit(
  route: ApiVersion,
  format: BodyFormat | undefined,
  view: MerchantDirectoryView,
  mchid: string | undefined,
  req: NotificationRequest,
): { merchant: MerchantVerifier } | { refused: Outcome } {
  if (format === undefined || (route === 'v2' && format === 'json')) {
    return { refused: rejectedBeforeVerification('UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported content type') };
  }
  const found = mchid === undefined ? ({ kind: 'unknown' } as const) : view.lookup(mchid);
  if (found.kind === 'unknown') {
    return { refused: rejectedBeforeVerification('UNKNOWN_MERCHANT', 404, 'unknown merchant') };
  }
  if (found.kind === 'unavailable') {
    // Only this merchant's notifications fail, and only until its setting is fixed: a 5xx makes WeChat retry later.
    req.log.error({ mchid, setting: found.setting, detail: found.message }, 'merchant credentials unavailable');
    return { refused: merchantUnavailable() };
  }
  const merchant = found.verifier;
  const apiVersion = apiVersionOf(route, format);
  if ((apiVersion === 'v3' && !merchant.verifyV3) || (apiVersion === 'v2' && !merchant.decodeV2)) {
    const message = `API ${apiVersion} is not configured for this merchant`;
    return { refused: rejectedBeforeVerification('VERSION_NOT_CONFIGURED', 404, message) };
  }
  return { merchant };
}

export async function answerNotification(
  ctx: NotificationRoutesContext,
  route: ApiVersion,
  req: NotificationRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const format = bodyFormatOf(req.headers['content-type']);
  const apiVersion = apiVersionOf(route, format);
  // One view for the whole request: a registry reload meanwhile does not change the keys or the default it uses.
  const view = ctx.directory.current();
  const mchid = req.params.mchid ?? view.defaultMchid;
  const admitted = admit(route, format, view, mchid, req);
  const outcome =
    'refused' in admitted
      ? admitted.refused
      : await withinDeadline(
          req,
          ctx.handlerTimeoutMs,
          (deadline) =>
            handleNotification(ctx.handlerDeps, {
              apiVersion,
              merchant: admitted.merchant,
              directory: view,
              headers: req.headers,
              rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
              requestId: req.id,
              log: req.log,
              deadline,
            }),
          // WeChat's clock started when it sent the request: count from its arrival, not from when this handler ran.
          Date.now() - reply.elapsedTime,
        );
  recordOutcome(ctx.metrics, req, reply, apiVersion, mchid, outcome);
  return sendAnswer(reply, replyFormatOf(route, format), outcome.answer);
}
