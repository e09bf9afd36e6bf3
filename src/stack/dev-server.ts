/**
 * Starts the Temporal CLI dev server described by temporal-dev.yml and waits until it answers gRPC.
 * Shared by `npm run dev`/`npm run demo` and jest's global setup, so tests run on the same server the demo does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { TemporalDevServerConfig } from '../config/stack-config';
import { DEFAULT_STACK_CONFIG_PATH, resolveStackPath } from '../config/stack-paths';
import { temporalCliPath } from '../config/tools';

export interface DevServerHandle {
  address: string;
  namespace: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Serve the Web UI (off in tests). */
  ui?: boolean;
  /**
   * The codec server the Web UI decodes payloads through (`--ui-codec-endpoint`, e.g. http://127.0.0.1:18099), so it
   * shows encrypted inputs, results, signals and updates decoded (docs/encryption.md). Ignored without the UI.
   */
  codecEndpoint?: string;
  /** Keep history in memory instead of the configured SQLite file (tests). */
  inMemory?: boolean;
  /** Where the server's stdout/stderr go: inherited (default), ignored, piped, or an open file descriptor. */
  stdio?: 'inherit' | 'ignore' | 'pipe' | number;
  readyTimeoutMs?: number;
}

/** Absolute once loaded from a stack file; a relative one in a config built by hand is read as temporal-dev.yml's. */
const dbFilePath = (dbFile: string) => resolveStackPath(DEFAULT_STACK_CONFIG_PATH, dbFile);

export function devServerArgs(cfg: TemporalDevServerConfig, opts: DevServerOptions = {}): string[] {
  const args = ['server', 'start-dev', '--ip', cfg.ip, '--port', String(cfg.port), '--log-level', cfg.logLevel];
  args.push('--namespace', cfg.namespace);
  if (opts.ui === false) args.push('--headless');
  else {
    args.push('--ui-port', String(cfg.uiPort));
    if (opts.codecEndpoint) args.push('--ui-codec-endpoint', opts.codecEndpoint);
  }
  if (cfg.dbFile && !opts.inMemory) args.push('--db-filename', dbFilePath(cfg.dbFile));
  for (const [key, value] of Object.entries(cfg.dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  for (const [name, type] of Object.entries(cfg.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  return args;
}

/**
 * Polls a Temporal frontend until it answers GetSystemInfo (the CLI prints nothing machine-readable when ready; a
 * cluster's frontend listens before its handlers are wired to history). `name` says which server in the error.
 */
export async function waitForTemporal(
  address: string,
  timeoutMs: number,
  isDead: () => boolean = () => false,
  name = 'Temporal dev server',
) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (isDead()) throw new Error(`${name} at ${address} exited during start-up`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${name} at ${address} not ready after ${timeoutMs} ms: ${String(lastError)}`);
}

export async function startDevServer(
  cfg: TemporalDevServerConfig,
  opts: DevServerOptions = {},
): Promise<DevServerHandle> {
  if (cfg.dbFile && !opts.inMemory) mkdirSync(path.dirname(dbFilePath(cfg.dbFile)), { recursive: true });
  const out = opts.stdio ?? 'inherit';
  const child = spawn(temporalCliPath(), devServerArgs(cfg, opts), { stdio: ['ignore', out, out] });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const address = `${cfg.ip}:${cfg.port}`;
  try {
    await waitForTemporal(address, opts.readyTimeoutMs ?? 60_000, () => exited);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    address,
    namespace: cfg.namespace,
    uiUrl: opts.ui === false ? undefined : `http://${cfg.ip}:${cfg.uiPort}`,
    process: child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}
