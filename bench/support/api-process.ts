/**
 * The real refund API (`src/cli/api.ts`) as a child process, as production runs it (`npm run api`): its own event
 * loop, so the benchmark's client never shares one with the server it measures. Its configuration is a variant of
 * temporal-dev.yml (a free port, one key given by its hash, the bench's decision timeout); Temporal and the task queue
 * come from the environment, as for the worker. Output (pino JSON access logs at the default level, info) goes to a
 * log file, not to the bench's console.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../../src/api/auth';
import { writeStackConfigVariant } from '../../src/config/stack-file';
import { freePort } from '../../src/stack/free-port';
import { BenchProgramProcess } from './program-process';

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
  private readonly program: BenchProgramProcess;
  private url?: string;
  constructor(private readonly opts: ApiProcessOptions) {
    this.program = new BenchProgramProcess('api', path.join(opts.dir, 'api.log'));
  }

  get pid(): number | undefined {
    return this.program.pid;
  }
  get baseUrl(): string {
    if (!this.url) throw new Error('API not started');
    return this.url;
  }
  get logFile(): string {
    return this.program.logFile;
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
    this.url = `http://127.0.0.1:${port}`;
    await this.program.start(
      {
        WXREFUND_STACK_CONFIG: stackFile,
        WXREFUND_TASK_QUEUE: this.opts.taskQueue,
        TEMPORAL_ADDRESS: this.opts.temporalAddress,
        TEMPORAL_NAMESPACE: this.opts.namespace,
      },
      `${this.url}/healthz`,
    );
  }

  /** SIGTERM (requests in flight finish), SIGKILL after 10 s. */
  stop(): Promise<void> {
    return this.program.stop();
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
