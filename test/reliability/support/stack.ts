/**
 * A whole refund stack for one reliability scenario, with every part it may need to break:
 *  - its own Temporal dev server (history in a SQLite file, so it can be killed and restarted mid-flight);
 *  - the simulator, in process (faults, clock, call counts and the money invariant report through its admin API);
 *  - the webhook, in process, signalling through its own Temporal client;
 *  - the real worker (`src/cli/worker.ts`) as a child process, so it can be SIGKILLed and restarted like production.
 * Ports are free ones and every file lives in a temporary directory, so scenarios run beside the rest of `npm test`.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadStackConfig, type StackConfig } from '../../../src/config/stack-config';
import { writeStackConfigVariant } from '../../../src/config/stack-file';
import { DEMO_DIRECT_MCHID } from '../../../src/simulator/keys';
import { startSimulator, type SimulatorHandle } from '../../../src/simulator/server';
import type { SimulatorConfigInput } from '../../../src/simulator/config';
import { startDevServer, type DevServerHandle } from '../../../src/stack/dev-server';
import { freePort } from '../../../src/stack/free-port';
import { WorkerProcess } from '../../../src/stack/worker-process';
import { verifiersFromSimulatorManifest } from '../../../src/webhook/merchants';
import { createWebhookServer, type WebhookServer } from '../../../src/webhook/server';
import { ENV, OUTPUT_DIR } from '../../harness/paths';
import { testDataConverter } from '../../harness/temporal';
import { PROFILE } from './profile';

export const MCHID = DEMO_DIRECT_MCHID;

export interface ReliabilityStackOptions {
  /** Extra dev-server dynamic config (e.g. a lower `history.maxInFlightUpdates`), beside temporal-dev.yml's. */
  temporalDynamicConfig?: Record<string, string | number | boolean>;
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
  get port(): number {
    return this.cfg.port;
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

/** The scenario's dev server on a free port, history in `dir`; a port taken before the server bound it is retried. */
async function startTemporalOnFreePort(
  dir: string,
  logFile: string,
  dynamicConfig: Record<string, string | number | boolean> = {},
): Promise<TemporalServerProcess> {
  const base = loadStackConfig().temporal;
  for (let attempt = 1; ; attempt++) {
    const cfg = {
      ...base,
      port: await freePort(),
      dbFile: path.join(dir, 'temporal.sqlite'),
      dynamicConfig: { ...base.dynamicConfig, ...dynamicConfig },
    };
    const server = new TemporalServerProcess(cfg, logFile);
    try {
      await server.start();
      return server;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
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

  // The simulator and the webhook listen on ports the OS picks (a port chosen early can be taken by a neighbour test
  // before it is bound); the dev server needs a fixed one to come back on after a restart, so it is retried.
  const keysDir = path.join(dir, 'keys');
  const sim = await startSimulator({
    seed: 1,
    ...opts.simulator,
    host: '127.0.0.1',
    port: 0,
    v2: { port: 0, tls: true },
    keysDir,
  });
  const temporal = await startTemporalOnFreePort(dir, path.join(logDir, 'temporal.log'), opts.temporalDynamicConfig);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter: testDataConverter() });

  const webhook = createWebhookServer({
    config: {
      host: '127.0.0.1',
      port: 0,
      logLevel: 'error',
      orphanLogPath: path.join(dir, 'orphans.jsonl'),
      outbox: { dir: path.join(dir, 'outbox') },
      ...opts.webhook,
    },
    temporal: client,
    merchants: verifiersFromSimulatorManifest(sim.manifest),
  });
  const webhookUrl = await webhook.listen();

  const stackFile = path.join(dir, 'stack.yml');
  const config = writeStackConfigVariant(stackFile, {
    'temporal.port': temporal.port,
    'temporal.dbFile': path.join(dir, 'temporal.sqlite'),
    // No order service here to receive events (the dev stack's receiver would refuse another secret).
    'events.enabled': false,
    'worker.metricsPort': 0,
    'simulator.port': Number(new URL(sim.baseUrl).port),
    'simulator.v2.port': Number(new URL(sim.v2BaseUrl).port),
    'simulator.keysDir': keysDir,
    'webhook.port': Number(new URL(webhookUrl).port),
    'webhook.publicBaseUrl': webhookUrl,
    'webhook.orphanLogPath': path.join(dir, 'orphans.jsonl'),
    'webhook.outbox.dir': path.join(dir, 'outbox'),
  });

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
      await worker.stop().catch(() => undefined);
      await webhook.close().catch(() => undefined);
      await sim.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await temporal.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
