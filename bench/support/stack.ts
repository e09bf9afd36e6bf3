/**
 * The benchmarks' stack, started in process: a Temporal dev server of their own (unless TEMPORAL_ADDRESS is set), the
 * WeChat Pay simulator (frozen clock, per-merchant rate limits raised so the benchmark, not the simulated WeChat, is
 * what is measured), the real webhook signalling through a Temporal client, and the real v3 gateway pointed at the
 * simulator with the webhook as notify_url. `runWorker` serves one task queue with the real refund and ledger
 * workflows plus the baseline workflows of bench/baseline (one bundle, one set of worker settings for both sides).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../../src/activities';
import { bundleWorkflows } from '../../src/workflow-bundle';
import { FAILURE_CONVERTER_PATH, payloadDataConverter } from '../../src/codec/data-converter';
import { loadPayloadKeys, PAYLOAD_ENCRYPTION_ENV, PAYLOAD_KEYS_ENV } from '../../src/codec/payload-keys';
import { loadStackConfig } from '../../src/config/stack-config';
import { DEMO_DIRECT_MCHID } from '../../src/simulator/keys';
import type { SimulatorConfigInput } from '../../src/simulator/config';
import { v3GatewayConfigFor } from '../../src/simulator/manifest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/server';
import { startDevServer, type DevServerHandle } from '../../src/stack/dev-server';
import { freePort } from '../../src/stack/free-port';
import type { RefundGateway } from '../../src/wechatpay/gateway';
import { createV3Gateway } from '../../src/wechatpay/v3/gateway';
import { verifiersFromSimulatorManifest } from '../../src/webhook/merchants';
import { createWebhookServer, notifyUrl, type WebhookServer } from '../../src/webhook/server';
import { TEST_PAYLOAD_KEYS } from '../../test/harness/paths';
import { observedBaselineActivities } from './observe';
import { killOnExit } from './util';

export const MCHID = DEMO_DIRECT_MCHID;

/** Per-merchant budgets far above anything a benchmark reaches (WeChat's defaults: create 150/s, query 300/s). */
export const RAISED_RATE_LIMITS = { create: 1_000_000, query: 1_000_000, abnormal: 1_000_000, errors: 1_000_000 };

/** Worker settings shared by every in-process worker of the benchmarks (refund and baseline alike). */
export const WORKER_SETTINGS = { maxConcurrentWorkflowTaskExecutions: 50 };

/**
 * Benchmarks measure the product as it runs in production: payloads encrypted. Without WXREFUND_PAYLOAD_KEYS they use
 * the fixed test ring (test/harness/paths.ts, test-only); WXREFUND_PAYLOAD_ENCRYPTION=off measures without. Set at
 * load, so worker child processes (bench 5) inherit the same ring.
 */
if (process.env[PAYLOAD_ENCRYPTION_ENV]?.trim().toLowerCase() !== 'off') {
  process.env[PAYLOAD_KEYS_ENV] ??= TEST_PAYLOAD_KEYS;
}

/** The data converter of the bench's clients and workers: the env's ring, or `env` given (codec-cost compares). */
export function benchDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter {
  return payloadDataConverter(loadPayloadKeys({ env }));
}

const noop = () => undefined;
export const quietBundlerLogger = { trace: noop, debug: noop, info: noop, log: noop, warn: console.warn, error: noop };

let runtimeInstalled = false;
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
/** The workflows of `workflowsPath` with the failure converter, as a worker bundles them; once per process and path. */
function workflowBundleOf(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflows({
      workflowsPath,
      logger: quietBundlerLogger,
      failureConverterPath: FAILURE_CONVERTER_PATH,
    });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

/** The real workflows plus the baselines (the benchmarks' shared worker). */
export const benchWorkflowBundle = () => workflowBundleOf(require.resolve('../baseline/workflows'));
/** The baseline workflows alone (bench/baseline/floor-workflows.ts): the true floor of what a worker evaluates. */
export const floorWorkflowBundle = () => workflowBundleOf(require.resolve('../baseline/floor-workflows'));
/** The real workflows alone (src/workflows), as the product's worker bundles them. */
export const productWorkflowBundle = () => workflowBundleOf(require.resolve('../../src/workflows'));

export interface TemporalTarget {
  address: string;
  namespace: string;
  devServer?: DevServerHandle;
  connection: Connection;
  client: Client;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

/**
 * TEMPORAL_ADDRESS when set, else a dev server of our own: in memory by default, or on a SQLite file (`dbFile`) as
 * temporal-dev.yml configures it (bench 5, so the server's memory is not the history itself).
 */
export async function startTemporal(opts: { dbFile?: string } = {}): Promise<TemporalTarget> {
  quietRuntime();
  let devServer: DevServerHandle | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    const cfg = loadStackConfig().temporal;
    devServer = await startDevServer(
      { ...cfg, port: await freePort(), ...(opts.dbFile ? { dbFile: opts.dbFile } : {}) },
      { ui: false, inMemory: !opts.dbFile, stdio: 'ignore', readyTimeoutMs: 120_000 },
    );
    address = devServer.address;
    killOnExit(devServer.process);
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace, dataConverter: benchDataConverter() });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    namespace,
    devServer,
    connection,
    client,
    nativeConnection,
    async close() {
      await nativeConnection.close().catch(noop);
      await connection.close().catch(noop);
      await devServer?.stop();
    },
  };
}

export interface BenchStackOptions {
  /** Simulator settings on top of the bench defaults (frozen clock, raised rate limits). */
  simulator?: SimulatorConfigInput;
  /** Webhook settings on top of port 0 / logLevel error / no orphan file. */
  webhook?: Record<string, unknown>;
  /** Simulator keys and manifest.json written here (a worker in another process reads them). */
  keysDir?: string;
  /** Fixed webhook port (bench 5 writes it into the worker's config before the webhook starts). */
  webhookPort?: number;
  /**
   * No webhook in this process: the caller runs one on `webhookPort` (bench 5 runs `src/cli/webhook.ts` as a child
   * process, support/webhook-process.ts); the gateway's notify_url still points there.
   */
  webhookElsewhere?: true;
  dbFile?: string;
  /** An existing Temporal target (e.g. a time-skipping environment's client) instead of the dev server. */
  temporal?: { client: Client };
}

export interface BenchStack {
  temporal?: TemporalTarget;
  client: Client;
  sim: SimulatorHandle;
  webhook: WebhookServer;
  webhookUrl: string;
  gateway: RefundGateway;
  close(): Promise<void>;
}

/** The stack without its webhook: one runs elsewhere on `webhookPort`. */
export type BenchStackWithoutWebhook = Omit<BenchStack, 'webhook'>;

export async function startBenchStack(
  opts: BenchStackOptions & { webhookElsewhere: true; webhookPort: number },
): Promise<BenchStackWithoutWebhook>;
export async function startBenchStack(opts?: BenchStackOptions): Promise<BenchStack>;
export async function startBenchStack(opts: BenchStackOptions = {}): Promise<BenchStackWithoutWebhook> {
  const temporal = opts.temporal ? undefined : await startTemporal({ dbFile: opts.dbFile });
  const client = opts.temporal?.client ?? temporal!.client;
  const simCfg = opts.simulator ?? {};
  const sim = await startSimulator({
    timeScale: 0,
    seed: 99,
    ...simCfg,
    rateLimits: { ...RAISED_RATE_LIMITS, ...simCfg.rateLimits },
    ...(opts.keysDir ? { keysDir: opts.keysDir, reuseKeys: false } : {}),
  });
  const outboxDir = tempDir('outbox');
  const webhook = opts.webhookElsewhere
    ? undefined
    : createWebhookServer({
        config: {
          host: '127.0.0.1',
          port: opts.webhookPort ?? 0,
          logLevel: 'error',
          orphanLogPath: '/dev/null',
          // Each run its own outbox: a notification one run stored must not be relayed into the next run's stack.
          outbox: { dir: outboxDir.dir },
          ...opts.webhook,
        },
        temporal: client,
        merchants: verifiersFromSimulatorManifest(sim.manifest),
      });
  const webhookUrl = webhook ? await webhook.listen() : `http://127.0.0.1:${opts.webhookPort}`;
  const gateway = createV3Gateway(
    v3GatewayConfigFor(sim.manifest, MCHID, { notifyUrl: notifyUrl(webhookUrl, 'v3', MCHID) }),
  );
  return {
    temporal,
    client,
    sim,
    ...(webhook ? { webhook } : {}),
    webhookUrl,
    gateway,
    async close() {
      await gateway.close?.();
      await webhook?.close().catch(noop);
      outboxDir.remove();
      await sim.close().catch(noop);
      await temporal?.close();
    },
  };
}

/**
 * Runs `fn` while an in-process worker serves `taskQueue` with the real and the baseline workflows. The baseline
 * activity tells `baselineSubmitted` (support/observe.ts) when it returns. `activityDeps` adds to the gateway what the
 * real activities may also use (e.g. `events`: refunds announce their states to that order service).
 */
export async function runWorker<T>(
  conn: { nativeConnection: NativeConnection; namespace: string },
  gateway: RefundGateway,
  taskQueue: string,
  fn: () => Promise<T>,
  dataConverter: DataConverter = benchDataConverter(),
  activityDeps: Omit<ActivityDeps, 'gateway' | 'gateways'> = {},
): Promise<T> {
  const worker = await Worker.create({
    connection: conn.nativeConnection,
    namespace: conn.namespace,
    taskQueue,
    workflowBundle: await benchWorkflowBundle(),
    activities: { ...createActivities({ ...activityDeps, gateway }), ...observedBaselineActivities() },
    dataConverter,
    ...WORKER_SETTINGS,
  });
  return worker.runUntil(fn);
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `wxrefund-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A run-unique prefix for order and refund numbers (letters and digits only). */
export function runTag(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`.toUpperCase();
}
