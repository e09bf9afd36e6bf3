/**
 * Runs the local stack's processes side by side with readable prefixed logs, and stops them all (in reverse start
 * order) on Ctrl-C, SIGTERM, or as soon as one of them dies, so a broken stack never half-runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Resolves when the service is ready to take traffic. */
  ready?: (child: ChildProcess) => Promise<void>;
  readyTimeoutMs?: number;
}

/** Polls an HTTP URL until it answers 2xx (the service's own health endpoint). */
export function httpReady(url: string): (child: ChildProcess) => Promise<void> {
  return async (child) => {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before ${url} answered`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
}

/** Waits for a log line that says the service is ready (for processes without an HTTP endpoint). */
export function lineReady(pattern: RegExp): (child: ChildProcess) => Promise<void> {
  return (child) =>
    new Promise((resolve, reject) => {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (line) => pattern.test(line) && resolve());
      }
      child.once('exit', (code) => reject(new Error(`exited with code ${code} before it was ready`)));
    });
}

const COLORS = [36, 35, 33, 32, 34, 31];

export class Supervisor {
  private readonly running: Array<{ name: string; child: ChildProcess; exited: Promise<void> }> = [];
  private stopping = false;
  private readonly useColor = process.stdout.isTTY;
  readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;

  constructor(private readonly log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  prefix(name: string, index: number): string {
    const tag = `[${name}]`.padEnd(12);
    return this.useColor ? `\x1b[${COLORS[index % COLORS.length]}m${tag}\x1b[0m` : tag;
  }

  /** Attaches an already-running child (e.g. the dev server started by startDevServer). */
  adopt(name: string, child: ChildProcess): void {
    const index = this.running.length;
    const tag = this.prefix(name, index);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.log(`${tag} ${line}`));
    }
    const exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        resolve();
        if (!this.stopping) {
          this.log(`${tag} exited unexpectedly (${signal ?? `code ${code}`}); stopping the stack`);
          void this.stopAll(1);
        }
      }),
    );
    this.running.push({ name, child, exited });
  }

  async start(spec: ServiceSpec): Promise<ChildProcess> {
    const child = spawn(spec.command, spec.args, {
      env: { ...process.env, FORCE_COLOR: '0', ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.adopt(spec.name, child);
    if (spec.ready) {
      const timeoutMs = spec.readyTimeoutMs ?? 120_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${spec.name} not ready after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([spec.ready(child), timeout]);
      } catch (e) {
        throw new Error(`${spec.name}: ${(e as Error).message}`, { cause: e });
      } finally {
        clearTimeout(timer);
      }
    }
    return child;
  }

  /** True once the stack is going down (Ctrl-C, or a part died). */
  get stopped(): boolean {
    return this.stopping;
  }

  installSignalHandlers(): void {
    const onSignal = (sig: NodeJS.Signals) => {
      this.log(`received ${sig}: stopping the stack`);
      void this.stopAll(0);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  async stopAll(code = 0): Promise<number> {
    if (this.stopping) return this.done;
    this.stopping = true;
    for (const { name, child, exited } of [...this.running].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      this.log(`${name} stopped`);
    }
    this.resolveDone(code);
    return this.done;
  }
}
