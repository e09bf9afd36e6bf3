/**
 * Prometheus metrics of the webhook. Each server gets its own registry so several servers can live in one process
 * (tests, the dev launcher) without "metric already registered" clashes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SignalGate } from './signal-gate';

/** What finally happened to a notification (bounded set: safe as a label). */
export type NotificationResult =
  | 'accepted' // signal delivered to the refund workflow
  | 'duplicate' // same notification id already signalled recently; answered without touching Temporal
  | 'workflow_closed' // the refund workflow already finished; nothing left to wake up
  | 'orphaned' // no refund workflow with that id: recorded for reconciliation and acknowledged
  | 'rejected' // not genuine or not parseable: refused with 4xx
  | 'undecryptable' // signature verified but the resource did not decrypt (reference F11): 5xx so WeChat retries
  | 'deferred' // not signalled in time: stored in the outbox and acknowledged; the relay signals it later
  | 'temporal_unavailable' // Temporal did not accept the signal in time (and no outbox took it): 503, WeChat retries
  | 'error'; // anything unexpected: 500

export type ApiVersionLabel = 'v3' | 'v2';

export interface WebhookMetrics {
  registry: Registry;
  notifications: Counter<'api_version' | 'result'>;
  rejections: Counter<'api_version' | 'reason'>;
  duration: Histogram<'api_version' | 'result'>;
  /** How long notifications waited for a signal slot (signal-gate.ts). */
  signalWait: Histogram;
  /** How long the signal exchanges took once started (what the gate's admission expects). */
  signalDuration: Histogram;
  signalsInFlight: Gauge;
  signalQueueDepth: Gauge;
  /** Notifications acknowledged from the outbox and not yet signalled (outbox-relay.ts). */
  outboxPending: Gauge;
  /** Outbox entries relayed, by outcome (signalled, workflow_closed, orphaned). */
  outboxRelayed: Counter<'outcome'>;
  /** How long entries stayed in the outbox until their signal. */
  outboxWait: Histogram;
  /** The gate whose in-flight and queue counts the gauges read at each scrape (no bookkeeping on the hot path). */
  watchSignalGate(gate: Pick<SignalGate, 'inFlight' | 'queued'>): void;
  /** The relay whose pending count the outbox gauge reads at each scrape. */
  watchOutbox(relay: { pending: number }): void;
}

export function createWebhookMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  let gate: Pick<SignalGate, 'inFlight' | 'queued'> | undefined;
  let outbox: { pending: number } | undefined;
  return {
    registry,
    notifications: new Counter({
      name: 'wechatpay_webhook_notifications_total',
      help: 'Refund notifications received, by API version and outcome',
      labelNames: ['api_version', 'result'],
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'wechatpay_webhook_rejections_total',
      help: 'Refused notifications by reason code (BAD_SIGNATURE, STALE_TIMESTAMP, SIGNTEST_PROBE...)',
      labelNames: ['api_version', 'reason'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'wechatpay_webhook_notification_duration_seconds',
      help: 'Time from request received to answer, by API version and outcome (WeChat gives up after 5 s)',
      labelNames: ['api_version', 'result'],
      // Signals normally take a few ms; the tail buckets show how close we get to WeChat's 5 s limit.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5],
      registers: [registry],
    }),
    signalWait: new Histogram({
      name: 'wechatpay_webhook_signal_wait_seconds',
      help: 'Time a verified notification waited for one of the webhook.signalConcurrency signal slots',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4],
      registers: [registry],
    }),
    signalDuration: new Histogram({
      name: 'wechatpay_webhook_signal_duration_seconds',
      help: 'Time one signal exchange with Temporal took (signal, and describe when NOT_FOUND)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4],
      registers: [registry],
    }),
    signalsInFlight: new Gauge({
      name: 'wechatpay_webhook_signals_in_flight',
      help: 'Temporal signals under way (at most webhook.signalConcurrency)',
      registers: [registry],
      collect() {
        this.set(gate?.inFlight ?? 0);
      },
    }),
    signalQueueDepth: new Gauge({
      name: 'wechatpay_webhook_signal_queue_depth',
      help: 'Verified notifications waiting for a signal slot',
      registers: [registry],
      collect() {
        this.set(gate?.queued ?? 0);
      },
    }),
    outboxPending: new Gauge({
      name: 'wechatpay_webhook_outbox_pending',
      help: 'Notifications acknowledged from the outbox and not yet signalled',
      registers: [registry],
      collect() {
        this.set(outbox?.pending ?? 0);
      },
    }),
    outboxRelayed: new Counter({
      name: 'wechatpay_webhook_outbox_relayed_total',
      help: 'Outbox entries signalled by the relay, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    outboxWait: new Histogram({
      name: 'wechatpay_webhook_outbox_wait_seconds',
      help: 'Time a notification spent in the outbox before its signal',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
    watchSignalGate(watched) {
      gate = watched;
    },
    watchOutbox(watched) {
      outbox = watched;
    },
  };
}
