/**
 * API v2 endpoints (§5, §8.3, §11.2): which path runs which handler, each inside the shared pipeline (pipeline.ts),
 * validated with the simulator's own wire schemas (../wire/v2-requests.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { SimulatorCore } from '../core';
import {
  downloadBillRequest,
  orderQueryRequest,
  refundQueryRequest,
  refundRequest,
  refundV2Request,
} from '../wire/v2-requests';
import { createRefund } from './create-refund';
import { downloadBill } from './download-bill';
import { orderQuery } from './order-query';
import { v2Route } from './pipeline';
import { refundQuery } from './refund-query';

export const V2_PATHS = [
  '/secapi/pay/refund',
  '/secapi/pay/refundv2',
  '/pay/refundquery',
  '/pay/orderquery',
  '/pay/downloadbill',
];

export function registerV2Routes(app: FastifyInstance, core: SimulatorCore, tls: boolean): void {
  app.post(
    '/secapi/pay/refund',
    v2Route(core, tls, {
      endpoint: 'v2.refund',
      group: 'create',
      needsCert: true,
      schema: refundRequest,
      handler: createRefund(core, 'v2.refund'),
    }),
  );
  app.post(
    '/secapi/pay/refundv2',
    v2Route(core, tls, {
      endpoint: 'v2.refundv2',
      group: 'create',
      needsCert: true,
      schema: refundV2Request,
      handler: createRefund(core, 'v2.refundv2'),
    }),
  );
  // A certificate is accepted but not required on the queries (§5.1).
  app.post(
    '/pay/refundquery',
    v2Route(core, tls, {
      endpoint: 'v2.refundquery',
      group: 'query',
      needsCert: false,
      schema: refundQueryRequest,
      handler: refundQuery(core),
    }),
  );
  app.post(
    '/pay/orderquery',
    v2Route(core, tls, {
      endpoint: 'v2.orderquery',
      group: 'query',
      needsCert: false,
      schema: orderQueryRequest,
      handler: orderQuery(core),
    }),
  );
  // §12.2: the refund bill; the reply is the file itself.
  app.post(
    '/pay/downloadbill',
    v2Route(core, tls, {
      endpoint: 'v2.downloadbill',
      group: 'query',
      needsCert: false,
      schema: downloadBillRequest,
      handler: downloadBill(core),
    }),
  );
}
