/**
 * Brings up the whole local stack described by temporal-dev.yml: provisions the Temporal tools, starts the dev server
 * (with the Web UI), then the simulator, webhook, stand-in event receiver, worker and HTTP API (services.ts), each
 * only once the previous one is ready.
 * Shared by `npm run dev` and `npm run demo`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { StackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { startDevServer, type DevServerHandle } from './dev-server';
import { stackServices } from './services';
import { Supervisor } from './supervisor';

export interface RunningStack {
  supervisor: Supervisor;
  server: DevServerHandle;
  uiUrl: string;
}

export async function startStack(
  cfg: StackConfig,
  supervisor: Supervisor,
  progress: (line: string) => void = console.log,
): Promise<RunningStack> {
  progress('checking Temporal tools (scripts/ensure-temporal)...');
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-temporal')], { stdio: 'inherit' });

  progress(
    `starting Temporal dev server on ${cfg.temporal.ip}:${cfg.temporal.port} (Web UI :${cfg.temporal.uiPort})...`,
  );
  const server = await startDevServer(cfg.temporal, { stdio: 'pipe' });
  // Adopted (no spec), so never restarted: every other part depends on it, and its death stops the whole stack.
  supervisor.adopt('temporal', server.process);

  for (const service of stackServices(cfg)) {
    if (!existsSync(service.entry)) {
      progress(`(${service.name}: not part of this build, skipped)`);
      continue;
    }
    progress(`starting ${service.name}...`);
    await supervisor.start(service.spec);
  }
  const uiUrl = `http://${cfg.temporal.ip}:${cfg.temporal.uiPort}`;
  return { supervisor, server, uiUrl };
}
