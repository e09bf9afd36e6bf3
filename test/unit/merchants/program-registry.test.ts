import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_STACK_CONFIG_PATH, parseStackConfig } from '../../../src/config/stack-config';
import { createMerchantGateways } from '../../../src/merchants/gateway-pool';
import { loadProgramRegistry } from '../../../src/merchants/program-registry';
import { MerchantCredentialError } from '../../../src/merchants/types';
import type { SimulatorHandle } from '../../../src/simulator/server';
import { DIRECT, PROVIDER, startTestSimulator } from '../../simulator/support';
import { tempDir, v3Merchant, write, writeRegistry } from './support';

const V2_MCHID = '1900000110';
const quiet = { info: () => {}, warn: () => {} };

describe('production: WXREFUND_MERCHANTS or WECHATPAY_CONFIG', () => {
  const production = { WECHATPAY_BACKEND: 'production' };

  it('refuses both at once, naming both', () => {
    expect(() =>
      loadProgramRegistry({ ...production, WXREFUND_MERCHANTS: '/a.yml', WECHATPAY_CONFIG: '/b.yml' }),
    ).toThrow(/WXREFUND_MERCHANTS and WECHATPAY_CONFIG are both set/);
  });

  it('needs one of them', () => {
    expect(() => loadProgramRegistry(production)).toThrow(
      /^WXREFUND_MERCHANTS: required when WECHATPAY_BACKEND=production/,
    );
  });

  it('refuses an unknown backend, naming the variable', () => {
    expect(() => loadProgramRegistry({ WECHATPAY_BACKEND: 'sandbox' })).toThrow(
      'WECHATPAY_BACKEND: must be simulator or production',
    );
  });

  it('reads the registry file and follows it; its errors name the variable, the file, the merchant and the key', () => {
    const dir = tempDir();
    const file = writeRegistry(dir, [v3Merchant(dir, DIRECT)]);
    const { registry, watchPath } = loadProgramRegistry({ ...production, WXREFUND_MERCHANTS: file });
    expect(registry.list().map((m) => m.mchid)).toEqual([DIRECT]);
    expect(watchPath).toBe(file);

    const bad = writeRegistry(dir, [v3Merchant(dir, DIRECT, { budget: { createsPerSecond: 500 } })], 'bad.yml');
    expect(() => loadProgramRegistry({ ...production, WXREFUND_MERCHANTS: bad })).toThrow(
      `WXREFUND_MERCHANTS: ${bad}: merchants[${DIRECT}].budget.createsPerSecond: must be at most 150`,
    );
  });
});

describe('the stack file', () => {
  it("temporal-dev.yml lists the demo's three merchants, the first the default", () => {
    const stack = parseStackConfig(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8'));
    expect(stack.merchants?.map((m) => [m.mchid, m.apiVersion, m.mode, m.default])).toEqual([
      [DIRECT, 'v3', 'direct', true],
      [V2_MCHID, 'v2', 'direct', false],
      [PROVIDER, 'v3', 'partner', false],
    ]);
  });

  it('names the merchant and the key of a bad entry', () => {
    const text = [
      'temporal: { dynamicConfig: { frontend.enableServerVersionCheck: false } }',
      'merchants:',
      `  - { mchid: "${DIRECT}", apiVersion: v3, credentials: simulator, budget: { queriesPerSecond: 301 } }`,
      `  - { mchid: "${V2_MCHID}", apiVersion: v2, credentials: simulator, v2: { appid: wx1, apiKey: { env: K } } }`,
      `  - { mchid: "${PROVIDER}", apiVersion: v3, mode: partner, credentials: simulator, subMchids: [] }`,
    ].join('\n');
    expect(() => parseStackConfig(text, 'stack.yml')).toThrow(
      `stack.yml: merchants[${DIRECT}].budget.queriesPerSecond: must be at most 300 (WeChat's per-merchant query limit, §3.10); ` +
        `merchants[${V2_MCHID}].v2.clientCertificate: is required: { file } or { pem } (PEM text); ` +
        `merchants[${V2_MCHID}].v2.clientPrivateKey: is required: { env: NAME } or { file: path }; ` +
        `merchants[${PROVIDER}].subMchids: must list at least one sub_mchid (or leave it out: any)`,
    );
  });

  it('makes the key files of its merchants absolute, relative to its folder', () => {
    const dir = tempDir();
    const entry = v3Merchant(dir, DIRECT);
    const text = [
      'temporal: { dynamicConfig: { frontend.enableServerVersionCheck: false } }',
      `merchants: ${JSON.stringify([entry])}`,
    ].join('\n');
    const stack = parseStackConfig(text, 'stack.yml', path.join(dir, 'stack.yml'));
    expect(stack.merchants?.[0].v3?.apiV3Key).toEqual({ file: path.join(dir, DIRECT, 'apiv3_key.txt') });
    const both = `temporal: { dynamicConfig: { frontend.enableServerVersionCheck: false } }\nmerchants: ${JSON.stringify(
      [{ ...entry, credentials: 'simulator' }],
    )}`;
    expect(() => parseStackConfig(both, 'stack.yml')).toThrow(
      `stack.yml: merchants[${DIRECT}].v3: not allowed with credentials: simulator (the keys come from the simulator's manifest)`,
    );
  });
});

describe('the local stack, credentials from the simulator', () => {
  let sim: SimulatorHandle;
  let keysDir: string;
  beforeAll(async () => {
    keysDir = path.join(tempDir(), 'keys');
    sim = await startTestSimulator({ keysDir });
  });
  afterAll(() => sim?.close());

  function stackFile(merchants?: string[]): string {
    const lines = [
      'temporal: { dynamicConfig: { frontend.enableServerVersionCheck: false } }',
      `simulator: { keysDir: ${JSON.stringify(keysDir)} }`,
      'webhook: { publicBaseUrl: "http://127.0.0.1:18090" }',
      ...(merchants ? ['merchants:', ...merchants.map((m) => `  - ${m}`)] : []),
    ];
    return write(path.join(tempDir(), 'stack.yml'), lines.join('\n'));
  }

  it('gives each merchant its manifest keys and the webhook route as notify_url', async () => {
    const file = stackFile([
      `{ mchid: "${DIRECT}", default: true, apiVersion: v3, credentials: simulator }`,
      `{ mchid: "${V2_MCHID}", apiVersion: v2, credentials: simulator }`,
      `{ mchid: "${PROVIDER}", mode: partner, apiVersion: v3, credentials: simulator }`,
      `{ mchid: "1900000999", apiVersion: v3, credentials: simulator }`,
    ]);
    const { registry, watchPath } = loadProgramRegistry({ WXREFUND_STACK_CONFIG: file });
    expect(watchPath).toBe(file);
    expect(registry.defaultMchid).toBe(DIRECT);
    const direct = registry.resolve(DIRECT).gatewayConfig();
    expect(direct.apiVersion === 'v3' && direct.v3.notifyUrl).toBe(
      `http://127.0.0.1:18090/wechatpay/v3/refund-notify/${DIRECT}`,
    );
    const v2 = registry.resolve(V2_MCHID).gatewayConfig();
    expect(v2.apiVersion === 'v2' && v2.v2.notifyUrl).toBe(
      `http://127.0.0.1:18090/wechatpay/v2/refund-notify/${V2_MCHID}`,
    );

    const gateways = createMerchantGateways(registry, { log: quiet });
    try {
      expect(gateways.forMerchant(PROVIDER).apiVersion).toBe('v3');
      expect(gateways.forMerchant(V2_MCHID).apiVersion).toBe('v2');
      expect(() => gateways.forMerchant('1900000999')).toThrow(MerchantCredentialError);
      expect(() => gateways.forMerchant('1900000999')).toThrow(
        /^merchants\[1900000999\]\.credentials: the simulator .* has no merchant 1900000999/,
      );
    } finally {
      await gateways.close();
    }
  });

  it("names the mode when it is not the simulator merchant's", () => {
    const file = stackFile([`{ mchid: "${PROVIDER}", apiVersion: v3, credentials: simulator }`]);
    const { registry } = loadProgramRegistry({ WXREFUND_STACK_CONFIG: file });
    expect(() => registry.resolve().gatewayConfig()).toThrow(
      `merchants[${PROVIDER}].mode: is direct but the simulator's merchant ${PROVIDER} is partner`,
    );
  });

  it('without a merchants: section serves one default merchant as before', () => {
    const file = stackFile();
    const { registry } = loadProgramRegistry({ WXREFUND_STACK_CONFIG: file, WECHATPAY_API_VERSION: 'v2' });
    expect(registry.list().map((m) => [m.mchid, m.apiVersion, m.isDefault])).toEqual([[DIRECT, 'v2', true]]);
    const other = loadProgramRegistry({ WXREFUND_STACK_CONFIG: file, WECHATPAY_MCHID: PROVIDER }).registry;
    expect(other.list().map((m) => [m.mchid, m.mode])).toEqual([[PROVIDER, 'partner']]);
  });
});
