/**
 * One rule for the paths in a stack file: relative to the file's own folder, for every process that reads it. A stack
 * file in a temporary folder outside the repository: the simulator writes its keys beside it, and the worker and the
 * webhook find them there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadStackConfig } from '../../../src/config/stack-config';
import { writeStackConfigVariant } from '../../../src/config/stack-file';
import { simulatorSettings } from '../../../src/config/simulator-settings';
import { loadWebhookMerchants, webhookSettingsFromStackFile } from '../../../src/config/webhook-settings';
import { createMerchantGateways } from '../../../src/merchants/gateway-pool';
import { workerSettingsFromEnv } from '../../../src/config/worker-settings';
import { parseSimulatorConfig, startSimulator, type SimulatorHandle } from '../../../src/simulator/server';
import { devServerArgs } from '../../../src/stack/dev-server';
import { REPO_ROOT } from '../../harness/paths';

jest.setTimeout(60_000);

let dir: string;
let stackFile: string;
let env: NodeJS.ProcessEnv;
let sim: SimulatorHandle | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wxrefund-stack-paths-'));
  stackFile = path.join(dir, 'stack.yml');
  // temporal-dev.yml's relative paths (.data/…), on free ports.
  writeStackConfigVariant(stackFile, { 'simulator.port': 0, 'simulator.v2.port': 0 });
  env = { WXREFUND_STACK_CONFIG: stackFile };
});

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('the stack file lives outside the repository', () => {
  expect(path.relative(REPO_ROOT, dir).startsWith('..')).toBe(true);
});

it('every path of the loaded stack file is under its folder', () => {
  const cfg = loadStackConfig(stackFile);
  expect(cfg.temporal.dbFile).toBe(path.join(dir, '.data', 'temporal.sqlite'));
  expect(cfg.simulator.keysDir).toBe(path.join(dir, '.data', 'simulator', 'keys'));
  expect(cfg.simulator.stateFile).toBe(path.join(dir, '.data', 'simulator', 'state.sqlite'));
  expect(cfg.webhook.orphanLogPath).toBe(path.join(dir, '.data', 'webhook', 'orphans.jsonl'));
  expect(cfg.webhook.outbox.dir).toBe(path.join(dir, '.data', 'webhook', 'outbox'));
  expect(devServerArgs(cfg.temporal).join(' ')).toContain(
    `--db-filename ${path.join(dir, '.data', 'temporal.sqlite')}`,
  );
});

it('the simulator, the worker and the webhook meet in the same keys directory', async () => {
  const { input } = simulatorSettings({}, env);
  expect(input).toMatchObject({
    keysDir: path.join(dir, '.data', 'simulator', 'keys'),
    stateFile: path.join(dir, '.data', 'simulator', 'state.sqlite'),
  });
  sim = await startSimulator(parseSimulatorConfig(input));
  expect(sim.manifestPath).toBe(path.join(dir, '.data', 'simulator', 'keys', 'manifest.json'));

  const worker = workerSettingsFromEnv(env);
  expect(worker.merchants.backend).toBe('simulator');
  const gateways = createMerchantGateways(worker.merchants.registry);
  try {
    const resolved = worker.merchants.registry.resolve().gatewayConfig();
    expect(resolved.apiVersion === 'v3' ? resolved.v3.baseUrl : resolved.v2.baseUrl).toBe(sim.baseUrl);
    expect(gateways.forMerchant().apiVersion).toBe('v3');
  } finally {
    await gateways.close();
  }

  const { config } = webhookSettingsFromStackFile(env);
  expect(config.simulatorKeysDir).toBe(path.join(dir, '.data', 'simulator', 'keys'));
  expect(config.orphanLogPath).toBe(path.join(dir, '.data', 'webhook', 'orphans.jsonl'));
  expect(config.outbox.dir).toBe(path.join(dir, '.data', 'webhook', 'outbox'));
  const merchants = await loadWebhookMerchants(config, { manifestTimeoutMs: 1_000 });
  expect(merchants.map((m) => m.mchid)).toEqual(sim.merchants.map((m) => m.mchid));
});

it("the webhook's merchant key files are relative to the stack file too", () => {
  const file = path.join(dir, 'merchants.yml');
  writeFileSync(
    file,
    [
      'webhook:',
      '  merchants:',
      '    - mchid: "1900000109"',
      '      v3:',
      '        apiV3Key: { file: secrets/apiv3.key }',
      '        platformCertificates: [{ file: certs/platform.pem }]',
      '      v2:',
      '        apiKey: { env: WECHATPAY_V2_KEY }',
      '',
    ].join('\n'),
  );
  const { config } = webhookSettingsFromStackFile({ WXREFUND_STACK_CONFIG: file });
  expect(config.merchants[0].v3).toMatchObject({
    apiV3Key: { file: path.join(dir, 'secrets', 'apiv3.key') },
    platformCertificates: [{ file: path.join(dir, 'certs', 'platform.pem') }],
  });
  expect(config.merchants[0].v2).toEqual({ apiKey: { env: 'WECHATPAY_V2_KEY' } });
});
