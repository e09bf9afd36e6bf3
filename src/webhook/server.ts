/**
 * The refund-notification webhook as a Fastify app, assembled from its parts: the bare app with its limits and raw-body
 * parsing (http-app.ts), the notification routes per API version (notification-routes.ts, which run the pipeline of
 * notification-handler.ts), health and metrics (ops-routes.ts), and the answers for everything else
 * (fallback-handlers.ts). Everything it talks to is injected (Temporal client, merchants' verifiers, orphan log,
 * clock), so the dev launcher, `npm run webhook` and the tests build it the same way. The merchants are a fixed list
 * or the live directory over the merchant registry (registry-verifiers.ts), which follows reloads without a restart.
 *
 * Routes (the path may carry the merchant for partner setups with several merchants):
 *   POST /wechatpay/v3/refund-notify[/:mchid]   v3 JSON (and v2 XML, which WeChat sometimes sends there: §4.9)
 *   POST /wechatpay/v2/refund-notify[/:mchid]   v2 XML
 *   GET  /healthz                                200 when Temporal answers, else 503
 *   GET  /metrics                                Prometheus text format
 */
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { webhookConfigSchema, type WebhookConfig, type WebhookConfigInput } from './config';
import { registerFallbackHandlers } from './fallback-handlers';
import { createHttpApp } from './http-app';
import { fixedDirectory, type MerchantDirectory } from './merchant-directory';
import type { MerchantVerifier } from './merchant-verifier';
import { createWebhookMetrics, type WebhookMetrics } from './metrics';
import { registerNotificationRoutes, type NotificationRoutesContext } from './notification-routes';
import { registerHealthRoute, registerMetricsRoute } from './ops-routes';
import { JsonlOrphanLog, type OrphanSink } from './orphans';
import type { DeferredSignals, DeliveryOutcome } from './notification-handler';
import { NotificationOutbox } from './outbox';
import { OutboxRelay } from './outbox-relay';
import { RecentNotifications } from './recent-notifications';
import { SignalGate } from './signal-gate';
import { signalRefundWorkflow } from './signal-refund';

export interface WebhookDeps {
  /** Parsed or raw config (defaults are filled in here). */
  config: WebhookConfigInput | WebhookConfig;
  /** Temporal client; its connection may be lazy: the webhook starts (and reports unhealthy) while Temporal is down. */
  temporal: Client;
  /**
   * One verifier per merchant that may be named in the path (or served by the default routes), or the live directory
   * over the merchant registry (registry-verifiers.ts; the server closes it).
   */
  merchants: readonly MerchantVerifier[] | MerchantDirectory;
  orphans?: OrphanSink;
  metrics?: WebhookMetrics;
  clock?: () => Date;
  /** Where pino writes (default stdout); tests pass a stream to inspect the log lines. */
  logStream?: NodeJS.WritableStream;
}

export interface WebhookServer {
  app: FastifyInstance;
  config: WebhookConfig;
  metrics: WebhookMetrics;
  orphans: OrphanSink;
  directory: MerchantDirectory;
  /** The outbox's relay (undefined when webhook.outbox.enabled is false). */
  outbox?: OutboxRelay;
  /** Starts listening on config.host:config.port; resolves with the base URL, e.g. http://127.0.0.1:18090. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export { V3_NOTIFY_PATH, V2_NOTIFY_PATH, notifyUrl } from './notify-url';

/** A fixed list gets its default from `webhook.defaultMchid`; the registry's directory has the registry's own. */
function directoryOf(merchants: WebhookDeps['merchants'], config: WebhookConfig): MerchantDirectory {
  if (!Array.isArray(merchants)) {
    if (config.defaultMchid !== undefined) {
      throw new Error('webhook.defaultMchid: not used with the merchant registry (its `default: true` names it)');
    }
    return merchants as MerchantDirectory;
  }
  return fixedDirectory(merchants, config.defaultMchid);
}

export function createWebhookServer(deps: WebhookDeps): WebhookServer {
  const config = webhookConfigSchema.parse(deps.config);
  const metrics = deps.metrics ?? createWebhookMetrics();
  const orphans = deps.orphans ?? new JsonlOrphanLog(config.orphanLogPath);
  const clock = deps.clock ?? (() => new Date());
  const directory = directoryOf(deps.merchants, config);
  const signals = new SignalGate({
    maxInFlight: config.signalConcurrency,
    onStart: (waitedMs) => metrics.signalWait.observe(waitedMs / 1000),
    onFinish: (signalMs) => metrics.signalDuration.observe(signalMs / 1000),
  });
  metrics.watchSignalGate(signals);
  const app = createHttpApp(config, deps.logStream);
  const relay = config.outbox.enabled ? outboxRelay(deps, config, orphans, metrics, app.log) : undefined;
  const deferred: DeferredSignals | undefined = relay && {
    async store(entry) {
      await relay.outbox.put(entry);
      relay.enqueue(entry);
    },
    deferAfterMs: config.outbox.deferAfterMs,
  };
  const routes: NotificationRoutesContext = {
    handlerDeps: {
      temporal: deps.temporal,
      orphans,
      recent: new RecentNotifications<DeliveryOutcome>(config.dedupe),
      ...(deferred ? { deferred } : {}),
      signals,
      signalTimeoutMs: config.signalTimeoutMs,
      clock,
    },
    directory,
    metrics,
    handlerTimeoutMs: config.handlerTimeoutMs,
  };

  registerNotificationRoutes(app, 'v3', routes);
  registerNotificationRoutes(app, 'v2', routes);
  registerHealthRoute(app, deps.temporal, config.healthTimeoutMs);
  registerMetricsRoute(app, metrics);
  registerFallbackHandlers(app, routes);

  return {
    app,
    config,
    metrics,
    orphans,
    directory,
    ...(relay ? { outbox: relay } : {}),
    async listen() {
      // Before the first notification: what an earlier run acknowledged and did not signal goes first.
      await relay?.start();
      return listenOn(app, config);
    },
    async close() {
      await app.close();
      await relay?.stop();
      directory.close();
    },
  };
}

function outboxRelay(
  deps: WebhookDeps,
  config: WebhookConfig,
  orphans: OrphanSink,
  metrics: WebhookMetrics,
  log: FastifyBaseLogger,
): OutboxRelay {
  const outbox = new NotificationOutbox({
    dir: config.outbox.dir,
    dataConverter: deps.temporal.options.loadedDataConverter,
    maxEntries: config.outbox.maxEntries,
  });
  const relay = new OutboxRelay({
    outbox,
    signal: (entry) =>
      signalRefundWorkflow(deps.temporal, entry.workflowId, entry.notification, Date.now() + config.signalTimeoutMs),
    orphans,
    concurrency: config.outbox.concurrency,
    maxBackoffMs: config.outbox.maxBackoffMs,
    log,
    onRelayed(outcome, waitedMs) {
      metrics.outboxRelayed.inc({ outcome });
      metrics.outboxWait.observe(waitedMs / 1000);
    },
  });
  metrics.watchOutbox(relay);
  return relay;
}

async function listenOn(app: FastifyInstance, config: WebhookConfig): Promise<string> {
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}
