/**
 * The routes of the first slice:
 *   POST /v1/refunds                    ask for a refund: 201 new, 200 identical repeat, 409, 422, 400, 503
 *   GET  /v1/refunds/:out_refund_no     one refund (its workflow's status query), 404 when unknown
 *   GET  /v1/orders/:out_trade_no       one order's money and refunds (its ledger's query), 404 when unknown
 *   GET  /healthz                       200 when Temporal answers, else 503 (no key needed)
 * `?sub_mchid=` names the sub-merchant in partner mode on the GETs.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { temporalIsReachable } from '../config/temporal-health';
import { invalidRequest } from './errors';
import { createRefund, getOrder, getRefund, type RefundApiContext } from './refunds';
import { createRefundBodySchema, orderParamsSchema, refundParamsSchema, subMchidQuerySchema } from './schemas';

/** Who called (set by the auth hook). */
export function callerOf(req: FastifyRequest): string {
  return (req as FastifyRequest & { apiKeyName?: string }).apiKeyName ?? 'unknown';
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S> {
  const result = schema.safeParse(value ?? (where === undefined ? undefined : {}));
  if (!result.success) throw invalidRequest(result.error, where);
  return result.data;
}

export function registerRefundRoutes(app: FastifyInstance, ctx: RefundApiContext): void {
  app.post('/v1/refunds', async (req, reply) => {
    const body = parse(createRefundBodySchema, req.body);
    const { created, refund } = await createRefund(ctx, body, `api:${callerOf(req)}:${req.id}`);
    req.log.info(
      { outRefundNo: refund.out_refund_no, outTradeNo: refund.out_trade_no, amountFen: refund.amount_fen, created },
      created ? 'refund accepted' : 'refund request repeated',
    );
    if (created) reply.header('location', `/v1/refunds/${encodeURIComponent(refund.out_refund_no)}`);
    return reply.code(created ? 201 : 200).send(refund);
  });

  app.get('/v1/refunds/:out_refund_no', async (req) => {
    const { out_refund_no } = parse(refundParamsSchema, req.params, 'path');
    const { sub_mchid } = parse(subMchidQuerySchema, req.query, 'query');
    return getRefund(ctx, out_refund_no, sub_mchid);
  });

  app.get('/v1/orders/:out_trade_no', async (req) => {
    const { out_trade_no } = parse(orderParamsSchema, req.params, 'path');
    const { sub_mchid } = parse(subMchidQuerySchema, req.query, 'query');
    return getOrder(ctx, out_trade_no, sub_mchid);
  });
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
