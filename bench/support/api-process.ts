/**
 * The real refund API (`src/cli/api.ts`) as a child process, as production runs it (`npm run api`): its own event
 * loop, so the benchmark's client never shares one with the server it measures. Its configuration is a variant of
 * temporal-dev.yml (a free port, one key given by its hash, the bench's decision timeout); Temporal and the task queue
 * come from the environment, as for the worker. Output (pino JSON access logs at the default level, info) goes to a
 * log file, not to the bench's console.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../../src/api/auth';
import { writeStackConfigVariant } from '../../src/config/stack-file';
import { REPO_ROOT } from '../../src/config/tools';
import { freePort } from '../../src/stack/free-port';
import { killOnExit, sleep } from './util';

export interface ApiProcessOptions {
  dir: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** The bearer key the bench presents; only its hash is written to the config. */
  key: string;
  decisionTimeoutMs: number;
}

export class BenchApiProcess {
  private child?: ChildProcess;
  private url?: string;
  constructor(private readonly opts: ApiProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get baseUrl(): string {
    if (!this.url) throw new Error('API not started');
    return this.url;
  }
  get logFile(): string {
    return path.join(this.opts.dir, 'api.log');
  }

  /** Starts it and resolves once /healthz answers 200 (it reaches Temporal). */
  async start(): Promise<void> {
    const port = await freePort();
    const stackFile = path.join(this.opts.dir, 'api-stack.yml');
    writeStackConfigVariant(stackFile, {
      'api.port': port,
      'events.enabled': false,
      'api.keys': [{ name: 'bench', sha256: sha256Hex(this.opts.key) }],
      'api.decisionTimeoutMs': this.opts.decisionTimeoutMs,
      'api.requestTimeoutMs': this.opts.decisionTimeoutMs + 30_000,
    });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/api.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        FORCE_COLOR: '0',
        WXREFUND_STACK_CONFIG: stackFile,
        WXREFUND_TASK_QUEUE: this.opts.taskQueue,
        TEMPORAL_ADDRESS: this.opts.temporalAddress,
        TEMPORAL_NAMESPACE: this.opts.namespace,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.pipe(log, { end: false });
    child.once('exit', (code, signal) => log.end(`--- api exited (${signal ?? `code ${code}`})\n`));
    killOnExit(child);
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;

    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the API exited with code ${child.exitCode}; see ${this.logFile}`);
      const up = await fetch(`${this.url}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`the API was not ready after 90 s; see ${this.logFile}`);
      await sleep(250);
    }
  }

  /** SIGTERM (requests in flight finish), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.kill('SIGTERM');
    await gone;
    clearTimeout(timer);
  }
}

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc; USER_HZ is 100 on Linux). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may contain spaces, hence the last ')'): utime and stime are 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
