/**
 * Answers for requests no route handler answered: unknown paths (404), and Fastify's own refusals before a handler
 * runs (oversized body, unknown media type, unreadable request). On a notification route the refusal is answered in
 * that route's format and counted and logged like any other notification; the texts are fixed, never the error's.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ApiVersion } from './notification-handler';
import {
  apiVersionOf,
  notificationRouteOf,
  replyFormatOf,
  type NotificationRoutesContext,
} from './notification-routes';
import { bodyFormatOf } from './http-app';
import { recordOutcome } from './outcome-record';
import { fail, sendAnswer } from './replies';

/** Fastify's own refusals (before our handler runs), as fixed public texts. */
export function frameworkRefusal(err: FastifyError): { reason: string; status: number; message: string } {
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

export function registerFallbackHandlers(app: FastifyInstance, ctx: NotificationRoutesContext): void {
  app.setNotFoundHandler((_req, reply) => sendAnswer(reply, 'json', fail(404, 'not found')));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const refusal = frameworkRefusal(err);
    const route = notificationRouteOf(req);
    if (refusal.status >= 500) req.log.error({ err }, 'request failed');
    if (!route) return sendAnswer(reply, 'json', fail(refusal.status, refusal.message));
    const format = bodyFormatOf(req.headers['content-type']);
    const apiVersion: ApiVersion = apiVersionOf(route, format);
    const result = refusal.status >= 500 ? 'error' : 'rejected';
    const params = req.params as { mchid?: string } | undefined;
    const answer = fail(refusal.status, refusal.message);
    recordOutcome(ctx.metrics, req, reply, apiVersion, params?.mchid ?? ctx.directory.current().defaultMchid, {
      result,
      reason: refusal.reason,
      answer,
    });
    return sendAnswer(reply, replyFormatOf(route, format), answer);
  });
}
