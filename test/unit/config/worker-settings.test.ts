/**
 * The worker's configuration: production runs from the environment and its merchant file alone (no stack file), and
 * says which variable is missing; the local stack keeps reading temporal-dev.yml.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config/config-error';
import { workerSettingsFromEnv } from '../../../src/config/worker-settings';
import { generateRsaKeyPair } from '../../../src/pki';
import { REPO_ROOT, TEST_PAYLOAD_KEYS } from '../../harness/paths';

jest.setTimeout(60_000);

let dir: string;
let merchantFile: string;
/** A stack file that does not exist: production must not need one. */
let noStackFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wxrefund-worker-settings-'));
  noStackFile = path.join(dir, 'no-such-stack.yml');
  const { privateKeyPem, publicKeyPem } = generateRsaKeyPair();
  merchantFile = path.join(dir, 'merchant.yml');
  writeFileSync(
    merchantFile,
    [
      'apiVersion: v3',
      'v3:',
      '  mchid: "1900000109"',
      '  merchantSerialNo: "5157F09EFDC096DE15EBE81A47057A72C0A8A6B5"',
      `  merchantPrivateKey: ${JSON.stringify(privateKeyPem)}`,
      '  apiV3Key: "0123456789abcdef0123456789abcdef"',
      '  wechatpayPublicKeys:',
      `    - { id: PUB_KEY_ID_0119000000000000, publicKey: ${JSON.stringify(publicKeyPem)} }`,
      '  notifyUrl: https://pay.example.com/wechatpay/v3/refund-notify/1900000109',
    ].join('\n'),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('production worker settings (WECHATPAY_BACKEND=production)', () => {
  it('without a merchant registry: refused, naming WXREFUND_MERCHANTS, with no stack file present', () => {
    const env = { WECHATPAY_BACKEND: 'production', WXREFUND_STACK_CONFIG: noStackFile };
    expect(() => workerSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => workerSettingsFromEnv(env)).toThrow(
      /^WXREFUND_MERCHANTS: required when WECHATPAY_BACKEND=production .*WECHATPAY_CONFIG/,
    );
  });

  it('with a merchant file and no stack file: configured from the environment and the defaults', async () => {
    const settings = workerSettingsFromEnv({
      WECHATPAY_BACKEND: 'production',
      WECHATPAY_CONFIG: merchantFile,
      WXREFUND_STACK_CONFIG: noStackFile,
      TEMPORAL_ADDRESS: 'temporal.example.com:7233',
      TEMPORAL_NAMESPACE: 'refunds',
      WXREFUND_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
    });
    expect(settings).toMatchObject({
      taskQueue: 'wechatpay-refunds',
      metricsPort: 9464,
      maxCachedWorkflows: undefined,
      logLevel: 'INFO',
      workflowBundlePath: undefined,
      sealer: undefined,
      temporal: { connectionOptions: { address: 'temporal.example.com:7233' }, namespace: 'refunds' },
      merchants: { backend: 'production', watchPath: merchantFile },
    });
    // The older single-merchant file is a registry of one: its merchant is the default.
    const [merchant] = settings.merchants.registry.list();
    expect(merchant).toMatchObject({ mchid: '1900000109', apiVersion: 'v3', isDefault: true });
    expect(settings.merchants.registry.defaultMchid).toBe('1900000109');
  });

  it('takes the worker variables from the environment, and checks them', async () => {
    const env = {
      WECHATPAY_BACKEND: 'production',
      WECHATPAY_CONFIG: merchantFile,
      WXREFUND_STACK_CONFIG: noStackFile,
      WXREFUND_TASK_QUEUE: 'refunds-eu',
      WXREFUND_METRICS_PORT: '0',
      WXREFUND_MAX_CACHED_WORKFLOWS: '500',
      WXREFUND_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
    };
    const settings = workerSettingsFromEnv(env);
    expect(settings).toMatchObject({ taskQueue: 'refunds-eu', metricsPort: 0, maxCachedWorkflows: 500 });
    expect(() => workerSettingsFromEnv({ ...env, WXREFUND_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(
      /WXREFUND_MAX_CACHED_WORKFLOWS: must be a whole number/,
    );
  });
});

describe('local-stack worker settings (no WECHATPAY_BACKEND)', () => {
  it('reads the stack file, and says how production runs without one when it is missing', () => {
    expect(() => workerSettingsFromEnv({ WXREFUND_STACK_CONFIG: noStackFile })).toThrow(
      /cannot read stack config .*no-such-stack\.yml.*WECHATPAY_BACKEND=production and WXREFUND_MERCHANTS/,
    );
  });
});

describe('the worker program (src/cli/worker.ts)', () => {
  const runWorker = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/worker.ts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 50_000,
      env: { ...process.env, WXREFUND_STACK_CONFIG: noStackFile, WXREFUND_METRICS_PORT: '0', ...env },
    });

  it('in production without a merchant registry exits 1 naming WXREFUND_MERCHANTS', () => {
    const res = runWorker({ WECHATPAY_BACKEND: 'production', WECHATPAY_CONFIG: '', WXREFUND_MERCHANTS: '' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/^worker: WXREFUND_MERCHANTS: required when WECHATPAY_BACKEND=production/m);
  });

  it('in production with a merchant file and no stack file gets as far as connecting to Temporal', () => {
    const res = runWorker({
      WECHATPAY_BACKEND: 'production',
      WECHATPAY_CONFIG: merchantFile,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      WXREFUND_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
    });
    expect(res.stdout + res.stderr).toContain(`WeChat Pay: production, merchants from ${merchantFile}`);
    expect(res.stdout + res.stderr).toMatch(/merchant 1900000109 \(default\): v3 direct, budget 100 creates\/s/);
    expect(res.stderr).toMatch(/^worker: cannot reach Temporal at 127\.0\.0\.1:1/m);
    expect(res.status).toBe(1);
  });
});
