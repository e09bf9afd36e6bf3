/**
 * API v3 endpoints (§3, §8.3, §11.1): which path runs which handler, each inside the shared pipeline (pipeline.ts).
 * Requests are validated with the simulator's own wire schemas (../wire/v3-requests.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { SimulatorCore } from '../core';
import { applyAbnormalRefund } from './apply-abnormal-refund';
import { billDownload } from './bill-download';
import { certificates } from './certificates';
import { createRefund } from './create-refund';
import { orderQuery } from './order-query';
import { v3Route } from './pipeline';
import { queryRefund } from './query-refund';
import { tradeBill } from './trade-bill';

const REFUNDS = '/v3/refund/domestic/refunds';

/** Paths the v3 server knows, for 405 (known path, wrong method) vs 404. */
export const V3_PATHS: RegExp[] = [
  /^\/v3\/refund\/domestic\/refunds$/,
  /^\/v3\/refund\/domestic\/refunds\/[^/]+$/,
  /^\/v3\/refund\/domestic\/refunds\/[^/]+\/apply-abnormal-refund$/,
  /^\/v3\/certificates$/,
  /^\/v3\/pay\/transactions\/(out-trade-no|id)\/[^/]+$/,
  /^\/v3\/pay\/partner\/transactions\/(out-trade-no|id)\/[^/]+$/,
  /^\/v3\/bill\/tradebill$/,
  /^\/v3\/billdownload\/file$/,
];

export function registerV3Routes(app: FastifyInstance, core: SimulatorCore): void {
  app.post(REFUNDS, v3Route(core, 'v3.create', 'create', createRefund(core)));
  app.get(`${REFUNDS}/:outRefundNo`, v3Route(core, 'v3.query', 'query', queryRefund(core)));
  app.post(
    `${REFUNDS}/:refundId/apply-abnormal-refund`,
    v3Route(core, 'v3.abnormal', 'abnormal', applyAbnormalRefund(core)),
  );

  const orders = (mode: 'direct' | 'partner', by: 'out_trade_no' | 'transaction_id') =>
    v3Route(core, 'v3.orderquery', 'query', orderQuery(core, mode, by));
  app.get('/v3/pay/transactions/out-trade-no/:id', orders('direct', 'out_trade_no'));
  app.get('/v3/pay/transactions/id/:id', orders('direct', 'transaction_id'));
  app.get('/v3/pay/partner/transactions/out-trade-no/:id', orders('partner', 'out_trade_no'));
  app.get('/v3/pay/partner/transactions/id/:id', orders('partner', 'transaction_id'));

  app.get('/v3/certificates', v3Route(core, 'v3.certificates', 'query', certificates(core)));

  // Refund bills (§12.1): where to download (signed JSON), then the file itself (not signed).
  app.get('/v3/bill/tradebill', v3Route(core, 'v3.tradebill', 'query', tradeBill(core)));
  app.get('/v3/billdownload/file', billDownload(core));
}
