/**
 * The shared way tests get Temporal:
 *  - createDevServerEnv(): the real dev server started once by global setup (real clock; search attributes registered).
 *  - createTimeSkippingEnv(): a fresh Java time-skipping test server for this file (timers of days pass in ms).
 *  - workflowBundle(): the workflow code bundled once per run by global setup.
 *  - testDataConverter(): the payload encryption of every test client and worker (global setup puts the fixed test
 *    ring in WXREFUND_PAYLOAD_KEYS), so the server stores ciphertext in tests exactly as in production.
 * Each test file should create its environment in beforeAll and tear it down in afterAll.
 */
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import { FAILURE_CONVERTER_PATH, payloadDataConverter } from '../../src/codec/data-converter';
import { loadPayloadKeys } from '../../src/codec/payload-keys';
import { loadStackConfig } from '../../src/config/stack-config';
import { temporalTestServerPath } from '../../src/config/tools';
import { bundleWorkflows } from '../../src/workflow-bundle';
import { ENV, WORKFLOWS_PATH } from './paths';

let runtimeInstalled = false;
/** The SDK's default logger is chatty at INFO; tests only want warnings. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by another module in this jest worker.
  }
}

export function devServerAddress(): string {
  const address = process.env[ENV.devServerAddress];
  if (!address) throw new Error('no dev server: tests must run through jest (global setup starts it)');
  return address;
}

/**
 * The data converter of every test process: the ring of WXREFUND_PAYLOAD_KEYS (the fixed test ring, see global setup),
 * or none under WXREFUND_PAYLOAD_ENCRYPTION=off. `env` lets a test build a client or worker with another ring
 * (rotation, a missing key).
 */
export function testDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter {
  return payloadDataConverter(loadPayloadKeys({ env }));
}

export async function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createFromExistingServer({
    address: devServerAddress(),
    namespace: process.env[ENV.namespace] ?? 'default',
    client: { dataConverter: testDataConverter() },
  });
}

const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Text: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * The Java test server starts without custom search attributes (the dev server gets them from temporal-dev.yml on
 * its command line); the refund workflows upsert them, so they are registered here from the same file.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
    client: { dataConverter: testDataConverter() },
  });
  const searchAttributes = Object.fromEntries(
    Object.entries(loadStackConfig().temporal.searchAttributes).map(([name, type]) => [name, INDEXED_TYPES[type]]),
  );
  await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
  return env;
}

let bundlePromise: Promise<WorkflowBundleWithSourceMap | { codePath: string }> | undefined;
/** Bundled once per run by global setup; bundles here only when a file is run outside that setup. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap | { codePath: string }> {
  const codePath = process.env[ENV.workflowBundle];
  bundlePromise ??= codePath ? Promise.resolve({ codePath }) : bundleQuietly(WORKFLOWS_PATH);
  return bundlePromise;
}

const noop = () => undefined;
/** webpack's progress output drowns the test report; keep warnings and errors only. */
export const quietBundlerLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  log: noop,
  warn: console.warn,
  error: console.error,
};

/**
 * With the failure converter that moves failure messages and stack traces into (encrypted) payloads: the workflow
 * sandbox loads it from its bundle only, so without it failures thrown by workflow code would reach the server in
 * clear. Decoding such failures needs no option, so the bundle suits runs with encryption off too.
 */
export function bundleQuietly(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflows({ workflowsPath, logger: quietBundlerLogger, failureConverterPath: FAILURE_CONVERTER_PATH });
}

/** A task queue of its own per test, so workers of parallel test files never steal each other's tasks. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * A worker of the project's workflows (the run's bundle) with the given activities, polling `taskQueue` on the
 * environment's server until `stop()`, which lets in-flight tasks finish. `dataConverter`: the run's test ring unless
 * a test gives another (key rotation).
 */
export async function startBundledWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: object,
  dataConverter: DataConverter = testDataConverter(),
): Promise<{ stop(): Promise<void> }> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    dataConverter,
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}
