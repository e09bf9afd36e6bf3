/**
 * The routes (their answers are documented by openapi.ts, from the same schemas):
 *   POST /v1/refunds                            ask for a refund: 201 new, 200 identical repeat, 409, 422, 400, 503
 *   GET  /v1/refunds                            refunds from Temporal visibility, by state and order, paginated
 *   GET  /v1/refunds/:out_refund_no             one refund (its workflow's status query), 404 when unknown
 *   POST /v1/refunds/:out_refund_no/cancel      withdraw a refund still queued in its ledger: 200 CANCELLED, 409, 404
 *   GET  /v1/orders/:out_trade_no               one order's money and refunds (its ledger's query), 404 when unknown
 *   GET  /healthz                               200 when Temporal answers, else 503          (no key needed)
 *   GET  /openapi.json                          the OpenAPI 3.1 document                     (no key needed)
 *   GET  /metrics                               Prometheus text format                       (no key needed)
 * On the routes of one refund or order, `?mchid=` names the merchant (absent: the deployment's default) and
 * `?sub_mchid=` the sub-merchant in partner mode; POST /v1/refunds takes them in its body. A merchant the deployment
 * does not serve is 422 unknown_merchant (merchant-choice.ts), before Temporal is asked.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { temporalIsReachable } from '../config/temporal-health';
import { invalidRequest } from './errors';
import { listRefunds } from './list';
import type { ApiMetrics } from './metrics';
import { apiDocument } from './openapi';
import { cancelRefund, createRefund, getOrder, getRefund, type RefundApiContext } from './refunds';
import {
  cancelRefundBodySchema,
  cancelRefundParamsSchema,
  cancelRefundQuerySchema,
  createRefundBodySchema,
  listRefundsQuerySchema,
  orderParamsSchema,
  refundParamsSchema,
  merchantQuerySchema,
} from './schemas';

/** Who called (set by the auth hook). */
export function callerOf(req: FastifyRequest): string {
  return (req as FastifyRequest & { apiKeyName?: string }).apiKeyName ?? 'unknown';
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S> {
  const result = schema.safeParse(value ?? (where === undefined ? undefined : {}));
  if (!result.success) throw invalidRequest(result.error, where);
  return result.data;
}

/** The request's own token for the ledger's audit trail and its new-or-repeat decision (refunds.ts). */
const tokenOf = (req: FastifyRequest) => `api:${callerOf(req)}:${req.id}`;

export function registerRefundRoutes(app: FastifyInstance, ctx: RefundApiContext): void {
  app.post('/v1/refunds', async (req, reply) => {
    const body = parse(createRefundBodySchema, req.body);
    const { created, refund } = await createRefund(ctx, body, tokenOf(req));
    req.log.info(
      {
        outRefundNo: refund.out_refund_no,
        outTradeNo: refund.out_trade_no,
        mchid: refund.mchid,
        amountFen: refund.amount_fen,
        created,
      },
      created ? 'refund accepted' : 'refund request repeated',
    );
    if (created) reply.header('location', `/v1/refunds/${encodeURIComponent(refund.out_refund_no)}`);
    return reply.code(created ? 201 : 200).send(refund);
  });

  app.get('/v1/refunds/:out_refund_no', async (req) => {
    const { out_refund_no } = parse(refundParamsSchema, req.params, 'path');
    return getRefund(ctx, out_refund_no, parse(merchantQuerySchema, req.query, 'query'));
  });

  app.get('/v1/refunds', async (req) => {
    const query = parse(listRefundsQuerySchema, req.query, 'query');
    return listRefunds(ctx, query);
  });

  app.post('/v1/refunds/:out_refund_no/cancel', async (req) => {
    const { out_refund_no } = parse(cancelRefundParamsSchema, req.params, 'path');
    const merchant = parse(cancelRefundQuerySchema, req.query, 'query');
    parse(cancelRefundBodySchema, req.body);
    const refund = await cancelRefund(ctx, out_refund_no, merchant, tokenOf(req));
    req.log.info({ outRefundNo: refund.out_refund_no, state: refund.state }, 'refund cancelled');
    return refund;
  });

  app.get('/v1/orders/:out_trade_no', async (req) => {
    const { out_trade_no } = parse(orderParamsSchema, req.params, 'path');
    return getOrder(ctx, out_trade_no, parse(merchantQuerySchema, req.query, 'query'));
  });
}

/** The document is built once, on first request (it never changes while the process runs). */
export function registerOpenApiRoute(app: FastifyInstance): void {
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json').send(apiDocument()));
}

export function registerMetricsRoute(app: FastifyInstance, metrics: ApiMetrics): void {
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}

export function registerHealthRoute(app: FastifyInstance, client: Client, timeoutMs: number): void {
  app.get('/healthz', async (_req, reply) => {
    const up = await temporalIsReachable(client, timeoutMs);
    if (!up) reply.header('retry-after', '5');
    return reply
      .code(up ? 200 : 503)
      .send({ status: up ? 'ok' : 'unavailable', temporal: up ? 'reachable' : 'unreachable' });
  });
}
