/**
 * One of the product's HTTP programs (`src/cli/<name>.ts`: the API, the webhook) as a child process, run from
 * TypeScript source as `npm run <name>` runs it, its output appended to a log file, killed if the bench dies. The
 * benchmarks run what they measure this way so it never shares the bench's event loop (support/api-process.ts,
 * support/webhook-process.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { REPO_ROOT } from '../../src/config/tools';
import { httpReady } from '../../src/stack/supervisor';
import { killOnExit } from './util';

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;

export class BenchProgramProcess {
  private child?: ChildProcess;
  constructor(
    /** `src/cli/<name>.ts`, and the name its log lines and errors use. */
    private readonly name: string,
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts it with `env` on top of this process's, and resolves once `healthUrl` answers 2xx. */
  async start(env: NodeJS.ProcessEnv, healthUrl: string): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', `src/cli/${this.name}.ts`], {
      cwd: REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.pipe(log, { end: false });
    child.once('exit', (code, signal) => log.end(`--- ${this.name} exited (${signal ?? `code ${code}`})\n`));
    killOnExit(child);
    this.child = child;

    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        httpReady(healthUrl)(child),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      child.kill('SIGKILL'); // also ends httpReady's polling
      throw new Error(`the ${this.name} program: ${(err as Error).message}; see ${this.logFile}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (requests in flight finish), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.kill('SIGTERM');
    await gone;
    clearTimeout(timer);
  }
}
