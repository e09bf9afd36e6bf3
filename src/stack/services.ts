/**
 * The processes of the local stack besides the Temporal dev server, in start order. Each runs from TypeScript source
 * through ts-node (transpile only), with the stack's address passed through Temporal's own env variables.
 */
import path from 'node:path';
import type { StackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { httpReady, lineReady, type ServiceSpec } from './supervisor';

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
  extraEnv: NodeJS.ProcessEnv = {},
): StackService {
  const entry = path.join(REPO_ROOT, relEntry);
  return {
    name,
    entry,
    spec: {
      name,
      ready,
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

export function stackServices(cfg: StackConfig): StackService[] {
  const services: StackService[] = [];
  const sim = cfg.simulator;
  if (sim.enabled) {
    // Ready once its admin API answers: by then manifest.json (keys the worker and webhook read) is written.
    const ready = httpReady(`http://${sim.host}:${sim.port}/__admin/settings`);
    services.push(tsNodeService('simulator', 'src/simulator/main.ts', cfg, ready));
  }
  const hook = cfg.webhook;
  if (hook.enabled) {
    const ready = httpReady(`http://${hook.host}:${hook.port}/healthz`);
    services.push(tsNodeService('webhook', 'src/webhook/main.ts', cfg, ready));
  }
  services.push(tsNodeService('worker', 'src/worker.ts', cfg, lineReady(/worker polling task queue/)));
  return services;
}
