/**
 * The real worker (`src/cli/worker.ts`) as a child process, run from TypeScript source like `npm run worker`, its output
 * appended to a log file. For what must treat the worker as a separate process: reliability scenarios kill it with
 * SIGKILL and start it again; benchmarks measure its memory on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { REPO_ROOT } from '../config/tools';
import { lineReady } from './supervisor';

/** `env` configures it (WXREFUND_*, TEMPORAL_*); WXREFUND_WORKFLOW_BUNDLE makes a restart take a second or two. */
export class WorkerProcess {
  private child?: ChildProcess;
  /** How many times the worker was started (1 after the first start). */
  starts = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the worker and resolves once it polls its task queue. */
  async start(): Promise<void> {
    if (this.running) throw new Error('worker already running');
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/worker.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.pipe(log, { end: false });
    child.once('exit', (code, signal) => log.end(`--- worker exited (${signal ?? `code ${code}`})\n`));
    this.child = child;
    this.starts += 1;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        lineReady(/worker polling task queue/)(child),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker not ready after 90 s; see ${this.logFile}`)), 90_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL by default: no graceful shutdown, activities die mid-call, like a machine that lost power. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await gone;
  }

  /** Graceful stop (SIGTERM: in-flight activities finish), SIGKILL if it takes longer than `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const timer = setTimeout(() => void this.kill('SIGKILL'), graceMs);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}
