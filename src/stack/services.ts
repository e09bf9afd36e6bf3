/**
 * The processes of the local stack besides the Temporal dev server, in start order. Each runs from TypeScript source
 * through ts-node (transpile only), with the stack's address passed through Temporal's own env variables.
 */
import path from 'node:path';
import type { StackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import type { ServiceSpec } from './supervisor';

export interface StackService {
  name: string;
  entry: string;
  spec: ServiceSpec;
}

function tsNodeService(name: string, relEntry: string, cfg: StackConfig, extraEnv: NodeJS.ProcessEnv = {}): StackService {
  const entry = path.join(REPO_ROOT, relEntry);
  return {
    name,
    entry,
    spec: {
      name,
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
  if (cfg.simulator.enabled) services.push(tsNodeService('simulator', 'src/simulator/main.ts', cfg));
  if (cfg.webhook.enabled) services.push(tsNodeService('webhook', 'src/webhook/main.ts', cfg));
  services.push(tsNodeService('worker', 'src/worker.ts', cfg));
  return services;
}
