/**
 * A whole refund stack for one reliability scenario, with every part it may need to break:
 *  - its own Temporal dev server (history in a SQLite file, so it can be killed and restarted mid-flight);
 *  - the simulator, in process (faults, clock, call counts and the money invariant report through its admin API);
 *  - the webhook, in process, signalling through its own Temporal client;
 *  - the real worker (`src/worker.ts`) as a child process, so it can be SIGKILLed and restarted like production.
 * Ports are free ones and every file lives in a temporary directory, so scenarios run beside the rest of `npm test`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseDocument } from 'yaml';
import { DEFAULT_STACK_CONFIG_PATH, loadStackConfig, type StackConfig } from '../../../src/config/stack-config';
import { DEMO_DIRECT_MCHID } from '../../../src/simulator/keys';
import { startSimulator, type SimulatorHandle } from '../../../src/simulator/server';
import type { SimulatorConfigInput } from '../../../src/simulator/config';
import { startDevServer, type DevServerHandle } from '../../../src/stack/dev-server';
import { freePort } from '../../../src/stack/free-port';
import { lineReady } from '../../../src/stack/supervisor';
import { verifiersFromSimulatorManifest } from '../../../src/webhook/merchants';
import { createWebhookServer, type WebhookServer } from '../../../src/webhook/server';
import { ENV, OUTPUT_DIR, REPO_ROOT } from '../../harness/paths';
import { PROFILE } from './profile';

export const MCHID = DEMO_DIRECT_MCHID;

export interface ReliabilityStackOptions {
  /** Simulator settings (seed, timeScale, lifecycle, rules, rate limits, faults...). */
  simulator?: Omit<SimulatorConfigInput, 'port' | 'v2' | 'keysDir' | 'host'>;
  /** Webhook settings beyond host/port (e.g. signalTimeoutMs). */
  webhook?: Record<string, unknown>;
  /** Extra env for the worker process (e.g. WECHATPAY_API_VERSION=v2). */
  workerEnv?: NodeJS.ProcessEnv;
}

/** The Temporal dev server of one scenario: can be killed (SIGKILL by default) and started again on the same file. */
export class TemporalServerProcess {
  private handle?: DevServerHandle;
  constructor(
    private readonly cfg: StackConfig['temporal'],
    private readonly logFile: string,
  ) {}

  get address(): string {
    return `${this.cfg.ip}:${this.cfg.port}`;
  }
  get namespace(): string {
    return this.cfg.namespace;
  }
  get pid(): number | undefined {
    return this.handle?.process.pid;
  }

  async start(): Promise<void> {
    const log = openSync(this.logFile, 'a');
    try {
      this.handle = await startDevServer(this.cfg, { ui: false, stdio: log, readyTimeoutMs: 90_000 });
    } finally {
      closeSync(log); // the child keeps its own descriptor
    }
  }

  /** Kills the server without a chance to flush (SIGKILL) unless told otherwise; resolves once it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.handle?.process;
    this.handle = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await gone;
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
    this.handle = undefined;
  }
}

/** The real worker (`src/worker.ts`) as a child process, started from the bundle global setup built once. */
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
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/worker.ts'], {
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

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}

export interface ReliabilityStack {
  dir: string;
  stackFile: string;
  config: StackConfig;
  taskQueue: string;
  temporal: TemporalServerProcess;
  /** A client of the scenario's own server (its connection reconnects after the server restarts). */
  client: Client;
  sim: SimulatorHandle;
  webhook: WebhookServer;
  webhookUrl: string;
  worker: WorkerProcess;
  close(): Promise<void>;
}

/**
 * Starts the scenario's stack. `name` names its task queue and its log directory (`test-output/reliability/<name>`,
 * `<name>-soak` under `npm run soak`):
 * the dev server's and the worker's logs stay there after the run.
 */
export async function startReliabilityStack(
  name: string,
  opts: ReliabilityStackOptions = {},
): Promise<ReliabilityStack> {
  const dir = mkdtempSync(path.join(tmpdir(), `wxrefund-${name}-`));
  // Per profile, so a soak run beside a CI-size run of the same scenario does not wipe the other's logs.
  const logDir = path.join(OUTPUT_DIR, 'reliability', PROFILE === 'ci' ? name : `${name}-${PROFILE}`);
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });

  const [grpc, ui, simPort, simV2Port, hookPort] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const doc = parseDocument(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8'));
  doc.setIn(['temporal', 'port'], grpc);
  doc.setIn(['temporal', 'uiPort'], ui);
  doc.setIn(['temporal', 'dbFile'], path.join(dir, 'temporal.sqlite'));
  doc.setIn(['worker', 'metricsPort'], 0);
  doc.setIn(['simulator', 'port'], simPort);
  doc.setIn(['simulator', 'v2', 'port'], simV2Port);
  doc.setIn(['simulator', 'keysDir'], path.join(dir, 'keys'));
  doc.setIn(['webhook', 'port'], hookPort);
  doc.setIn(['webhook', 'publicBaseUrl'], `http://127.0.0.1:${hookPort}`);
  doc.setIn(['webhook', 'orphanLogPath'], path.join(dir, 'orphans.jsonl'));
  const stackFile = path.join(dir, 'stack.yml');
  writeFileSync(stackFile, doc.toString());
  const config = loadStackConfig(stackFile);

  const temporal = new TemporalServerProcess(config.temporal, path.join(logDir, 'temporal.log'));
  await temporal.start();
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });

  const sim = await startSimulator({
    seed: 1,
    ...opts.simulator,
    host: '127.0.0.1',
    port: simPort,
    v2: { port: simV2Port, tls: true },
    keysDir: path.join(dir, 'keys'),
  });

  const webhook = createWebhookServer({
    config: {
      host: '127.0.0.1',
      port: hookPort,
      logLevel: 'error',
      orphanLogPath: path.join(dir, 'orphans.jsonl'),
      ...opts.webhook,
    },
    temporal: client,
    merchants: verifiersFromSimulatorManifest(sim.manifest),
  });
  const webhookUrl = await webhook.listen();

  const taskQueue = `reliability-${name}`;
  const worker = new WorkerProcess(
    {
      WXREFUND_STACK_CONFIG: stackFile,
      WXREFUND_TASK_QUEUE: taskQueue,
      WXREFUND_METRICS_PORT: '0',
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      ...(process.env[ENV.workflowBundle] ? { WXREFUND_WORKFLOW_BUNDLE: process.env[ENV.workflowBundle] } : {}),
      ...opts.workerEnv,
    },
    path.join(logDir, 'worker.log'),
  );
  await worker.start();

  return {
    dir,
    stackFile,
    config,
    taskQueue,
    temporal,
    client,
    sim,
    webhook,
    webhookUrl,
    worker,
    async close() {
      await worker.kill('SIGTERM').catch(() => undefined);
      await webhook.close().catch(() => undefined);
      await sim.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await temporal.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
