/**
 * Runs one of the cluster's tools (initdb, pg_ctl, psql, temporal-sql-tool, temporal) to completion. A failure names
 * the command and carries what it printed: these tools say what is wrong only on stderr.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** A non-zero exit is an answer (e.g. `pg_ctl status`), not an error. */
  allowFailure?: boolean;
}

export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n');
    super(`${command} exited with code ${result.code}${output ? `:\n${output}` : ''}`);
  }
}

export function runCommand(command: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run ${command}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code === 0 || opts.allowFailure) resolve(result);
      else reject(new CommandFailed(`${describe(command, args)}`, result));
    });
  });
}

/** The command as errors show it: its name and arguments (never a password: those go by env or stdin). */
function describe(command: string, args: string[]): string {
  const shown = [path.basename(command), ...args].join(' ');
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
}
