/**
 * Processes that outlive the command that started them (`up` returns; `down` later stops them): each runs in its own
 * process group, writes to its own log file, and is known by a pid file. A pid is trusted only while /proc says it
 * still runs the program we started, so a stale pid file never makes `down` signal an unrelated process.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DetachedSpec {
  /** Names the log file and the pid file. */
  name: string;
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  cwd?: string;
}

/** Starts the process in the background, its stdout and stderr appended to its log; returns its pid. */
export function startDetached(spec: DetachedSpec): number {
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  mkdirSync(path.dirname(spec.pidFile), { recursive: true });
  const log = openSync(spec.logFile, 'a');
  try {
    writeSync(log, `\n--- ${new Date().toISOString()} starting ${spec.name}: ${spec.command} ${spec.args.join(' ')}\n`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      detached: true,
      stdio: ['ignore', log, log],
    });
    if (child.pid === undefined) throw new Error(`cannot start ${spec.name} (${spec.command})`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** The pid in the file, if that process is alive and still runs `command` (a recycled pid is not ours). */
export function runningPid(pidFile: string, command: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return runs(pid, command) ? pid : undefined;
}

function runs(pid: number, command: string): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    // A zombie (Z) has exited; its parent just has not reaped it yet.
    return state !== 'Z' && path.basename(argv0) === path.basename(command);
  } catch {
    return false;
  }
}

/**
 * SIGTERM, then SIGKILL after `graceMs` (Temporal's services drain for a few seconds on SIGTERM). Resolves to how it
 * ended, or 'not running'; removes the pid file either way.
 */
export async function stopDetached(
  pidFile: string,
  command: string,
  graceMs: number,
): Promise<'stopped' | 'killed' | 'not running'> {
  const pid = runningPid(pidFile, command);
  if (pid === undefined) {
    rmSync(pidFile, { force: true });
    return 'not running';
  }
  let outcome: 'stopped' | 'killed' = 'stopped';
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (runs(pid, command)) {
    if (Date.now() >= deadline && outcome === 'stopped') {
      signal(pid, 'SIGKILL');
      outcome = 'killed';
    }
    await sleep(100);
  }
  rmSync(pidFile, { force: true });
  return outcome;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // exited between the check and the signal
  }
}

/** The last lines of a log, for an error that says why a process died during start-up. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
