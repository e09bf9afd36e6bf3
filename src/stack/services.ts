/**
 * The processes of the local stack besides the Temporal dev server, in start order. Each runs from TypeScript source
 * through ts-node (transpile only), with the stack's address passed through Temporal's own env variables. They find
 * the payload key through the stack file (`codec.devKeyFile`, made by start-stack.ts before any of them starts) or
 * WXREFUND_PAYLOAD_KEYS, which they inherit.
 */
import path from 'node:path';
import type { StackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { localReceiverAddress, RECEIVER_ADMIN_PATH } from '../events/receiver';
import { httpReady, lineReady, type RestartPolicy, type ServiceSpec } from './supervisor';

export interface StackService {
  name: string;
  entry: string;
  spec: ServiceSpec;
}

function tsNodeService(
  name: string,
  relEntry: string,
  cfg: StackConfig,
  ready: ServiceSpec['ready'],
  { restart, env: extraEnv = {} }: Pick<ServiceSpec, 'restart' | 'env'> = {},
): StackService {
  const entry = path.join(REPO_ROOT, relEntry);
  return {
    name,
    entry,
    spec: {
      name,
      ready,
      restart,
      command: process.execPath,
      args: ['-r', 'ts-node/register/transpile-only', entry],
      env: {
        TEMPORAL_ADDRESS: `${cfg.temporal.ip}:${cfg.temporal.port}`,
        TEMPORAL_NAMESPACE: cfg.temporal.namespace,
        ...extraEnv,
      },
    },
  };
}

/**
 * The worker, the webhook, the API, the codec server and the stand-in event receiver keep nothing that must outlive
 * them (Temporal and WeChat hold the state), so a crash of either is survived by starting it again: 1 s, 2 s, 4 s …
 * up to 30 s between tries, back to 1 s after a minute up. The simulator is not restarted (it keeps WeChat's side of
 * every order and refund in memory, so a new one would not know the refunds in flight), and neither is the Temporal
 * dev server (start-stack.ts): their deaths stop the stack.
 */
export const STATELESS_RESTART: RestartPolicy = { initialDelayMs: 1_000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

/** Where the codec server listens, for the Web UI and the CLI; undefined when it is off or on a port chosen at start. */
export function codecServerUrl(cfg: StackConfig): string | undefined {
  const { enabled, host, port } = cfg.codec.server;
  if (!enabled || port === 0) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function stackServices(cfg: StackConfig): StackService[] {
  const services: StackService[] = [];
  // The codec server first: it needs nothing else, and the Web UI decodes every page through it.
  const codec = cfg.codec.server;
  if (codec.enabled) {
    const url = codecServerUrl(cfg);
    const ready = url ? httpReady(`${url}/healthz`) : lineReady(/codec server listening on/);
    services.push(tsNodeService('codec', 'src/cli/codec-server.ts', cfg, ready, { restart: STATELESS_RESTART }));
  }
  const sim = cfg.simulator;
  if (sim.enabled) {
    // Ready once its admin API answers: by then manifest.json (keys the worker and webhook read) is written.
    const ready = httpReady(`http://${sim.host}:${sim.port}/__admin/settings`);
    services.push(tsNodeService('simulator', 'src/cli/simulator.ts', cfg, ready));
  }
  const hook = cfg.webhook;
  if (hook.enabled) {
    const ready = httpReady(`http://${hook.host}:${hook.port}/healthz`);
    services.push(tsNodeService('webhook', 'src/cli/webhook.ts', cfg, ready, { restart: STATELESS_RESTART }));
  }
  // The order service's stand-in, before the worker, so that the first events find it listening. Only for a local
  // URL: any other is a real order service's. It verifies with the stack's secret file, which it makes if missing.
  const events = cfg.events;
  if (events.enabled && events.url && localReceiverAddress(events.url)) {
    const ready = httpReady(new URL(RECEIVER_ADMIN_PATH, events.url).href);
    services.push(tsNodeService('events', 'src/cli/event-receiver.ts', cfg, ready, { restart: STATELESS_RESTART }));
  }
  const workerReady = lineReady(/worker polling task queue/);
  services.push(tsNodeService('worker', 'src/cli/worker.ts', cfg, workerReady, { restart: STATELESS_RESTART }));
  const api = cfg.api;
  if (api.enabled) {
    // /healthz answers 200 once the API reaches Temporal; port 0 (any free port) has no URL to poll, only its log.
    const ready = api.port ? httpReady(`http://${api.host}:${api.port}/healthz`) : lineReady(/refund API listening on/);
    services.push(tsNodeService('api', 'src/cli/api.ts', cfg, ready, { restart: STATELESS_RESTART }));
  }
  return services;
}
