/**
 * What every answered notification leaves behind: three metrics (count by result, count by refusal reason,
 * duration) and exactly one log line, at a level that says whether someone should look.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebhookMetrics } from './metrics';
import type { ApiVersion, Outcome } from './notification-handler';

/** Probes are routine, not attacks (§4.8); undecryptable-but-signed and internal errors need a human (§4.5). */
export function logLevelOf(o: Outcome): 'debug' | 'info' | 'warn' | 'error' {
  if (o.reason === 'SIGNTEST_PROBE') return 'debug';
  if (o.result === 'undecryptable' || o.result === 'error') return 'error';
  if (o.result === 'rejected' || o.result === 'temporal_unavailable' || o.result === 'orphaned') return 'warn';
  return 'info';
}

export function recordOutcome(
  metrics: WebhookMetrics,
  req: FastifyRequest,
  reply: FastifyReply,
  apiVersion: ApiVersion,
  mchid: string | undefined,
  o: Outcome,
): void {
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
