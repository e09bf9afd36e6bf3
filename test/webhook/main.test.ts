/**
 * `npm run webhook` as its own process: configuration from a stack YAML file plus Temporal's env variables, merchants
 * from the simulator's manifest, a genuine notification signalled, and a clean exit on SIGTERM.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { request } from 'undici';
import type { SimulatorHandle } from '../../src/simulator/server';
import { freePort } from '../../src/stack/free-port';
import { createDevServerEnv, devServerAddress } from '../harness/temporal';
import { REPO_ROOT } from '../harness/paths';
import {
  DEMO_DIRECT_MCHID,
  DEMO_PROVIDER_MCHID,
  DEMO_SUB_MCHID,
  createRefund,
  deliveryAttempts,
  startFrozenSimulator,
  startStandInWorker,
  uniqueNos,
  v3Gateway,
  waitFor,
} from './helpers';

jest.setTimeout(120_000);

let dir: string;
let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let standIn: Awaited<ReturnType<typeof startStandInWorker>>;
let child: ChildProcessWithoutNullStreams | undefined;
let output = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'webhook-main-'));
  env = await createDevServerEnv();
  sim = await startFrozenSimulator({ seed: 41, keysDir: path.join(dir, 'keys') });
  standIn = await startStandInWorker(env);
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await standIn?.close();
  await sim?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

it('starts from config, verifies and signals a genuine notification, and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const configFile = path.join(dir, 'stack.yml');
  writeFileSync(
    configFile,
    [
      'simulator:',
      `  keysDir: ${JSON.stringify(path.join(dir, 'keys'))}`,
      'webhook:',
      `  port: ${port}`,
      '  logLevel: info',
      `  orphanLogPath: ${JSON.stringify(path.join(dir, 'orphans.jsonl'))}`,
      '',
    ].join('\n'),
  );
  child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/webhook.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      WXREFUND_STACK_CONFIG: configFile,
      TEMPORAL_ADDRESS: devServerAddress(),
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    },
  });
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

  await waitFor(
    'webhook listening',
    async () => (output.includes('refund notification webhook listening') ? true : undefined),
    60_000,
  );
  const startLine = output.split('\n').find((l) => l.includes('refund notification webhook listening'))!;
  expect(JSON.parse(startLine)).toMatchObject({
    merchants: sim.manifest.merchants.map((m) => m.mchid),
    temporal: `${devServerAddress()}/${env.namespace ?? 'default'}`,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const health = await request(`${baseUrl}/healthz`);
  expect(health.statusCode).toBe(200);
  await health.body.dump();

  const nos = uniqueNos('main');
  const handle = await standIn.startWaiter(nos.outRefundNo);
  await createRefund(sim, v3Gateway(sim, DEMO_DIRECT_MCHID, baseUrl), { mchid: DEMO_DIRECT_MCHID, ...nos });
  await sim.admin.advance({ seconds: 30 });
  await expect(handle.result()).resolves.toMatchObject({ outRefundNo: nos.outRefundNo, status: 'SUCCESS' });
  expect((await deliveryAttempts(sim, nos.outRefundNo)).map((a) => a.statusCode)).toEqual([200]);

  const metrics = await request(`${baseUrl}/metrics`);
  const text = await metrics.body.text();
  expect(text).toMatch(/^wechatpay_webhook_notifications_total\{api_version="v3",result="accepted"\} 1$/m);
  expect(text).toMatch(/^process_cpu_seconds_total /m); // default process metrics in the standalone process

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  for (const m of sim.manifest.merchants) expect(output).not.toContain(m.apiV3Key);
});

/** The stack file of the registry test: its `merchants:` section is the merchant registry the worker reads too. */
function registryStackFile(file: string, port: number, merchants: string[]): void {
  writeFileSync(
    file,
    [
      // What a stack file needs (the registry is read by the stack file's own rules): its dev server section.
      'temporal:',
      '  dynamicConfig: { frontend.enableServerVersionCheck: false }',
      'simulator:',
      `  keysDir: ${JSON.stringify(path.join(dir, 'keys'))}`,
      'webhook:',
      `  port: ${port}`,
      `  publicBaseUrl: http://127.0.0.1:${port}`,
      '  logLevel: info',
      `  orphanLogPath: ${JSON.stringify(path.join(dir, 'orphans-registry.jsonl'))}`,
      'merchants:',
      ...merchants.map((m) => `  - ${m}`),
      '',
    ].join('\n'),
  );
}

it("serves the stack file's merchant registry and follows it on SIGHUP, without a restart", async () => {
  const port = await freePort();
  const configFile = path.join(dir, 'registry-stack.yml');
  const direct = `{ mchid: "${DEMO_DIRECT_MCHID}", default: true, apiVersion: v3, credentials: simulator }`;
  const partner = `{ mchid: "${DEMO_PROVIDER_MCHID}", mode: partner, apiVersion: v3, credentials: simulator }`;
  registryStackFile(configFile, port, [direct]);
  let log = '';
  const program = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/webhook.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      WXREFUND_STACK_CONFIG: configFile,
      TEMPORAL_ADDRESS: devServerAddress(),
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    },
  });
  child = program;
  program.stdout.on('data', (d: Buffer) => (log += d.toString('utf8')));
  program.stderr.on('data', (d: Buffer) => (log += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => program.once('exit', (code) => resolve(code)));
  const lineWith = (text: string) => log.split('\n').find((l) => l.includes(text));

  await waitFor(
    'webhook listening',
    async () => {
      if (program.exitCode !== null) throw new Error(`the webhook exited (${program.exitCode}):\n${log}`);
      return lineWith('refund notification webhook listening');
    },
    60_000,
  );
  expect(JSON.parse(lineWith('refund notification webhook listening')!)).toMatchObject({
    merchantSource: 'registry',
    merchants: [DEMO_DIRECT_MCHID],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const nos = uniqueNos('mainreg');
  const gateway = v3Gateway(sim, DEMO_PROVIDER_MCHID, baseUrl);
  await createRefund(sim, gateway, { mchid: DEMO_PROVIDER_MCHID, subMchid: DEMO_SUB_MCHID, ...nos });
  const handle = await standIn.startWaiterAt(`refund-${DEMO_PROVIDER_MCHID}.${DEMO_SUB_MCHID}.${nos.outRefundNo}`);
  await sim.admin.advance({ seconds: 30 });
  await waitFor('the first delivery', async () =>
    (await deliveryAttempts(sim, nos.outRefundNo)).length ? 1 : undefined,
  );
  expect((await deliveryAttempts(sim, nos.outRefundNo)).map((a) => a.statusCode)).toEqual([404]);

  registryStackFile(configFile, port, [direct, partner]);
  program.kill('SIGHUP');
  await waitFor('registry reloaded', async () => lineWith(`"added":["${DEMO_PROVIDER_MCHID}"]`), 30_000);
  await sim.admin.advance({ seconds: 15 }); // WeChat's first retry
  await expect(handle.result()).resolves.toMatchObject({ outRefundNo: nos.outRefundNo, status: 'SUCCESS' });
  expect((await deliveryAttempts(sim, nos.outRefundNo)).map((a) => a.statusCode)).toEqual([404, 200]);

  program.kill('SIGTERM');
  expect(await exited).toBe(0);
});
