/** The routes for operators and their tools: `GET /healthz` (200 when Temporal answers, else 503), `GET /metrics`. */
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { WebhookMetrics } from './metrics';
import { temporalIsReachable } from '../config/temporal-health';

export function registerHealthRoute(app: FastifyInstance, temporal: Client, timeoutMs: number): void {
  app.get('/healthz', async (_req, reply) => {
    const up = await temporalIsReachable(temporal, timeoutMs);
    return reply
      .code(up ? 200 : 503)
      .send({ status: up ? 'ok' : 'unavailable', temporal: up ? 'reachable' : 'unreachable' });
  });
}

/** Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, metrics: WebhookMetrics): void {
  app.get('/metrics', async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
