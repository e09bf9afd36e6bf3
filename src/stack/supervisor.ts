/**
 * Runs the local stack's processes side by side with readable prefixed logs. A service whose spec has a `restart`
 * policy is started again with exponential backoff when it dies (a crashed worker must not take the dev server and
 * its Web UI down with it); any other death stops the whole stack (in reverse start order), as do Ctrl-C and
 * SIGTERM, so a broken stack never half-runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Backoff between restarts: initialDelayMs, then doubling up to maxDelayMs; back to initialDelayMs after a good run. */
export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A run at least this long counts as healthy, so the next crash waits initialDelayMs again (default one minute). */
  resetAfterMs?: number;
}

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Resolves when the service is ready to take traffic. */
  ready?: (child: ChildProcess) => Promise<void>;
  readyTimeoutMs?: number;
  /** Restart the service when it dies (once it has been ready); without it, its death stops the stack. */
  restart?: RestartPolicy;
}

const DEFAULT_RESET_AFTER_MS = 60_000;

/** The wait before the restart that follows `crashes` crashes in a row (1 for the first). */
export function restartDelayMs(policy: RestartPolicy, crashes: number): number {
  return Math.min(policy.initialDelayMs * 2 ** Math.max(0, crashes - 1), policy.maxDelayMs);
}

const formatDelay = (ms: number) => (ms < 1_000 ? `${ms} ms` : `${ms / 1_000} s`);

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

/** One service slot: its current process, replaced in place on restart so stop order and log colour stay put. */
interface Running {
  name: string;
  tag: string;
  child: ChildProcess;
  exited: Promise<void>;
  startedAt: number;
  spec?: ServiceSpec;
  /** Set once the service has been ready: a death before that is a start-up failure, which a restart would hide. */
  restartable: boolean;
  /** Crashes since the last healthy run (drives the backoff), and restarts in all (for the log). */
  crashes: number;
  restarts: number;
  restartTimer?: NodeJS.Timeout;
}

export class Supervisor {
  private readonly running: Running[] = [];
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

  /** Attaches an already-running child (e.g. the dev server started by startDevServer); it is never restarted. */
  adopt(name: string, child: ChildProcess): void {
    this.track(name, child);
  }

  private track(name: string, child: ChildProcess, spec?: ServiceSpec): Running {
    const tag = this.prefix(name, this.running.length);
    const slot: Running = {
      name,
      tag,
      spec,
      child,
      exited: Promise.resolve(),
      startedAt: 0,
      restartable: false,
      crashes: 0,
      restarts: 0,
    };
    this.attach(slot, child);
    this.running.push(slot);
    return slot;
  }

  /** Makes `child` the slot's current process: prefixes its output and reacts to its death. */
  private attach(slot: Running, child: ChildProcess): void {
    slot.child = child;
    slot.startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.log(`${slot.tag} ${line}`));
    }
    slot.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        resolve();
        if (this.stopping) return;
        const reason = `exited unexpectedly (${signal ?? `code ${code}`})`;
        const spec = slot.spec;
        if (spec?.restart && slot.restartable) {
          this.scheduleRestart(slot, spec, spec.restart, reason);
        } else {
          this.log(`${slot.tag} ${reason}; stopping the stack`);
          void this.stopAll(1);
        }
      }),
    );
  }

  private scheduleRestart(slot: Running, spec: ServiceSpec, policy: RestartPolicy, reason: string): void {
    const healthy = Date.now() - slot.startedAt >= (policy.resetAfterMs ?? DEFAULT_RESET_AFTER_MS);
    slot.crashes = healthy ? 1 : slot.crashes + 1;
    slot.restarts += 1;
    const delay = restartDelayMs(policy, slot.crashes);
    this.log(`${slot.tag} ${reason}; restarting in ${formatDelay(delay)} (restart ${slot.restarts})`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      // The stack may have begun stopping during the wait (Ctrl-C right after a crash, or a terminal's Ctrl-C whose
      // SIGINT reached the child first): then it stays down. No readiness wait here: the service was ready before,
      // its own log says when it is again, and another death simply comes back here.
      if (!this.stopping) this.attach(slot, this.spawn(spec));
    }, delay);
  }

  private spawn(spec: ServiceSpec): ChildProcess {
    return spawn(spec.command, spec.args, {
      env: { ...process.env, FORCE_COLOR: '0', ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async start(spec: ServiceSpec): Promise<ChildProcess> {
    const child = this.spawn(spec);
    const slot = this.track(spec.name, child, spec);
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
    slot.restartable = true;
    return child;
  }

  /** True once the stack is going down (Ctrl-C, or a part that is not restarted died). */
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
    for (const slot of this.running) clearTimeout(slot.restartTimer);
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
