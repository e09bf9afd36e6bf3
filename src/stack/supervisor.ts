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
    await spec.ready?.(child);
    return child;
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
