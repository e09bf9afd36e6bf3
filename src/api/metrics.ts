/**
 * Prometheus metrics of the refund API, served at `GET /metrics` (server.ts). Each server gets its own registry so
 * several servers can live in one process (tests, the dev launcher) without "metric already registered" clashes.
 *
 * Labels are bounded sets only: the route PATTERN (`/v1/refunds/:out_refund_no`, never the number itself, so no
 * refund or order number reaches the metrics), the method, the status code, and the decision's outcome.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the ledger decided about a POST /v1/refunds (the answers a caller acts on). */
export type RefundDecisionOutcome =
  | 'created' // 201: a new refund
  | 'repeat' // 200: an identical repeat of an accepted request, same refund
  | 'conflict' // 409: the out_refund_no is bound to other parameters
  | 'rule_violation'; // 422: a WeChat or ledger rule refused it

/** The label of requests that matched no route (their URL is never a label: unbounded). */
export const UNMATCHED_ROUTE = 'unmatched';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  decisions: Counter<'outcome'>;
}

export function createApiMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'wechatpay_api_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'wechatpay_api_request_duration_seconds',
      help: 'Time from request received to answer sent, by method and route pattern',
      labelNames: ['method', 'route'],
      // Reads take milliseconds; a POST waits for the ledger's decision (default limit 5 s, then 503).
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'wechatpay_api_refund_decisions_total',
      help: 'Refund requests decided by the ledger, by outcome (created, repeat, conflict, rule_violation)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

/** The decision a POST /v1/refunds answer reports, from its status; undefined when nothing was decided (400, 503…). */
export function decisionOutcome(status: number): RefundDecisionOutcome | undefined {
  switch (status) {
    case 201:
      return 'created';
    case 200:
      return 'repeat';
    case 409:
      return 'conflict';
    case 422:
      return 'rule_violation';
    default:
      return undefined;
  }
}

/** One answered request. */
export function observeRequest(
  metrics: ApiMetrics,
  answer: { method: string; route: string | undefined; status: number; seconds: number },
): void {
  const route = answer.route ?? UNMATCHED_ROUTE;
  metrics.requests.inc({ method: answer.method, route, status: String(answer.status) });
  metrics.duration.observe({ method: answer.method, route }, answer.seconds);
  if (answer.method === 'POST' && route === '/v1/refunds') {
    const outcome = decisionOutcome(answer.status);
    if (outcome) metrics.decisions.inc({ outcome });
  }
}
