import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../../src/config/config-error';
import { createMerchantGateways } from '../../../src/merchants/gateway-pool';
import { diffRegistries, loadRegistryFile, registryFromFile } from '../../../src/merchants/registry';
import { MerchantCredentialError, UnknownMerchantError } from '../../../src/merchants/types';
import { testKeys } from '../wechatpay/helpers/wechat-keys';
import { APIV3_KEY, tempDir, v2Merchant, v3Merchant, write, writeRegistry } from './support';

const A = '1900000109';
const B = '1900000110';

function load(file: string, env: NodeJS.ProcessEnv = {}) {
  return loadRegistryFile(file, { env, format: 'registry' });
}

function refusal(raw: unknown, dir = tempDir()): string {
  try {
    registryFromFile(raw, { source: 'merchants.yml', baseDir: dir, env: {} });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('the registry file', () => {
  it('lists its merchants with their modes, default and budgets (100 creates/s, 200 queries/s unless set)', () => {
    const dir = tempDir();
    const file = writeRegistry(dir, [
      v3Merchant(dir, A, { default: true }),
      v2Merchant(dir, B, { budget: { createsPerSecond: 20 } }),
    ]);
    const registry = load(file);
    expect(registry.source).toBe(file);
    expect(registry.defaultMchid).toBe(A);
    expect(registry.list().map((m) => [m.mchid, m.apiVersion, m.mode, m.isDefault])).toEqual([
      [A, 'v3', 'direct', true],
      [B, 'v2', 'direct', false],
    ]);
    expect(registry.get(A)?.budget).toEqual({ createsPerSecond: 100, queriesPerSecond: 200 });
    expect(registry.get(B)?.budget).toEqual({ createsPerSecond: 20, queriesPerSecond: 200 });
    expect(registry.resolve().mchid).toBe(A);
    expect(registry.resolve(B).mchid).toBe(B);
    expect(() => registry.resolve('1900000999')).toThrow(UnknownMerchantError);
    expect(() => registry.resolve('1900000999')).toThrow(/1900000999/);
  });

  it('reads credentials when asked, from files relative to the registry file and from env', () => {
    const dir = tempDir();
    const entry = v3Merchant(dir, A);
    (entry.v3 as Record<string, unknown>).apiV3Key = { env: 'WXPAY_A_APIV3_KEY' };
    const registry = load(writeRegistry(dir, [entry]), { WXPAY_A_APIV3_KEY: APIV3_KEY });
    const config = registry.resolve(A).gatewayConfig();
    expect(config.apiVersion).toBe('v3');
    if (config.apiVersion !== 'v3') return;
    expect(config.v3.apiV3Key).toBe(APIV3_KEY);
    expect(config.v3.merchantPrivateKey).toBe(testKeys().merchant.privateKeyPem.trim());
    expect(config.v3.notifyUrl).toBe(`https://pay.example.com/wechatpay/v3/refund-notify/${A}`);
  });

  it('makes the only merchant the default when none is marked; several without a mark have none', () => {
    const dir = tempDir();
    expect(load(writeRegistry(dir, [v3Merchant(dir, A)])).resolve().mchid).toBe(A);
    const two = load(writeRegistry(dir, [v3Merchant(dir, A), v2Merchant(dir, B)], 'two.yml'));
    expect(two.defaultMchid).toBeUndefined();
    expect(() => two.resolve()).toThrow(/no default merchant/);
  });

  it('refuses an inline secret, naming the merchant and the key', () => {
    const dir = tempDir();
    const entry = v3Merchant(dir, A);
    (entry.v3 as Record<string, unknown>).apiV3Key = APIV3_KEY;
    const message = refusal({ merchants: [entry] }, dir);
    expect(message).toContain(`merchants[${A}].v3.apiV3Key: must be { env } or { file }, never the secret itself`);
    expect(message).not.toContain(APIV3_KEY);

    const pemInline = v3Merchant(dir, A);
    (pemInline.v3 as Record<string, unknown>).merchantPrivateKey = { pem: testKeys().merchant.privateKeyPem };
    expect(refusal({ merchants: [pemInline] }, dir)).toContain(
      `merchants[${A}].v3.merchantPrivateKey: must be { env } or { file }, never the secret itself`,
    );
  });

  it('refuses budgets above WeChat’s limits (150 creates/s, 300 queries/s)', () => {
    const dir = tempDir();
    const message = refusal(
      { merchants: [v3Merchant(dir, A, { budget: { createsPerSecond: 151, queriesPerSecond: 301 } })] },
      dir,
    );
    expect(message).toContain(`merchants[${A}].budget.createsPerSecond: must be at most 150`);
    expect(message).toContain(`merchants[${A}].budget.queriesPerSecond: must be at most 300`);
  });

  it.each([
    [
      'a duplicate mchid',
      (dir: string) => [v3Merchant(dir, A), v3Merchant(dir, A)],
      `merchants[${A}].mchid: listed twice`,
    ],
    [
      'two defaults',
      (dir: string) => [v3Merchant(dir, A, { default: true }), v2Merchant(dir, B, { default: true })],
      `merchants[${B}].default: only one merchant may be the default`,
    ],
    [
      'sub-merchants outside partner mode',
      (dir: string) => [v3Merchant(dir, A, { subMchids: ['1900000201'] })],
      `merchants[${A}].subMchids: only allowed in partner mode`,
    ],
    [
      'a v3 section on an API v2 merchant',
      (dir: string) => [{ ...v3Merchant(dir, A), apiVersion: 'v2' }],
      `merchants[${A}].v2: is required with apiVersion: v2`,
    ],
    [
      'simulator credentials in a production registry',
      (dir: string) => [{ ...v3Merchant(dir, A), credentials: 'simulator' }],
      `merchants[${A}].credentials: credentials: simulator is for the local stack only`,
    ],
    [
      'a bad mchid (named by position)',
      (dir: string) => [v3Merchant(dir, A), { ...v3Merchant(dir, B), mchid: '19x' }],
      'merchants[1].mchid: must be 1-32 digits',
    ],
  ])('refuses %s', (_what, merchants, expected) => {
    const dir = tempDir();
    expect(refusal({ merchants: merchants(dir) }, dir)).toContain(expected);
  });

  it('prefixes every message with where the registry came from', () => {
    expect(refusal({ merchants: [] })).toMatch(/^merchants\.yml: merchants: must list at least one merchant/);
  });
});

describe("one merchant's broken credentials", () => {
  it('fail only that merchant, naming the setting; the other keeps working', async () => {
    const dir = tempDir();
    const registry = load(writeRegistry(dir, [v3Merchant(dir, A, { default: true }), v3Merchant(dir, B)]));
    rmSync(path.join(dir, B, 'apiclient_key.pem'));
    const gateways = createMerchantGateways(registry, { log: { info: () => {}, warn: () => {} } });
    try {
      let failure: unknown;
      try {
        gateways.forMerchant(B);
      } catch (e) {
        failure = e;
      }
      expect(failure).toBeInstanceOf(MerchantCredentialError);
      expect(failure).toMatchObject({ mchid: B, setting: `merchants[${B}].v3.merchantPrivateKey` });
      expect((failure as Error).message).toMatch(/cannot read .*apiclient_key\.pem: ENOENT/);
      expect(gateways.forMerchant(A).apiVersion).toBe('v3');
      expect(gateways.forMerchant().apiVersion).toBe('v3');

      // Not cached: the file put back is used on the next call, without a reload.
      write(path.join(dir, B, 'apiclient_key.pem'), testKeys().merchant.privateKeyPem);
      expect(gateways.forMerchant(B).apiVersion).toBe('v3');
    } finally {
      await gateways.close();
    }
  });

  it('name the key and never quote the value when a secret is the wrong size', () => {
    const dir = tempDir();
    const registry = load(writeRegistry(dir, [v3Merchant(dir, A)]));
    writeFileSync(path.join(dir, A, 'apiv3_key.txt'), 'short-secret-value');
    let failure: Error | undefined;
    try {
      registry.resolve(A).gatewayConfig();
    } catch (e) {
      failure = e as Error;
    }
    expect(failure).toBeInstanceOf(MerchantCredentialError);
    expect(failure?.message).toBe(`merchants[${A}].v3.apiV3Key: must be exactly 32 bytes`);
  });

  it('say which environment variable is missing, and refuse a private key that is not PEM without quoting it', () => {
    const dir = tempDir();
    const entry = v3Merchant(dir, A);
    (entry.v3 as Record<string, unknown>).merchantPrivateKey = { env: 'WXPAY_A_KEY' };
    const file = writeRegistry(dir, [entry]);
    expect(() => load(file, {}).resolve(A).gatewayConfig()).toThrow(
      `merchants[${A}].v3.merchantPrivateKey: environment variable WXPAY_A_KEY is not set`,
    );
    const attempt = () => load(file, { WXPAY_A_KEY: 'not-a-key-at-all' }).resolve(A).gatewayConfig();
    expect(attempt).toThrow(/WXPAY_A_KEY does not hold a PEM PRIVATE KEY block/);
    expect(attempt).not.toThrow(/not-a-key-at-all/);
  });
});

describe('reloads compare fingerprints', () => {
  it('find the added, removed and changed merchants; a rotated key file counts as changed', () => {
    const dir = tempDir();
    const a = v3Merchant(dir, A);
    const file = writeRegistry(dir, [a, v2Merchant(dir, B)]);
    const before = load(file);
    expect(diffRegistries(before, load(file))).toEqual({ added: [], removed: [], changed: [] });

    writeFileSync(path.join(dir, A, 'apiv3_key.txt'), 'Z'.repeat(32));
    expect(diffRegistries(before, load(file))).toEqual({ added: [], removed: [], changed: [A] });

    const C = '1900000111';
    const next = load(writeRegistry(dir, [a, v3Merchant(dir, C)], 'next.yml'));
    expect(diffRegistries(before, next)).toEqual({ added: [C], removed: [B], changed: [A] });
  });

  it('never put a secret in a fingerprint', () => {
    const dir = tempDir();
    const entry = v3Merchant(dir, A);
    (entry.v3 as Record<string, unknown>).apiV3Key = { env: 'WXPAY_A_APIV3_KEY' };
    const registry = load(writeRegistry(dir, [entry]), { WXPAY_A_APIV3_KEY: APIV3_KEY });
    const { fingerprint } = registry.resolve(A);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('see a changed budget as a change', () => {
    const dir = tempDir();
    const before = load(writeRegistry(dir, [v3Merchant(dir, A)]));
    const after = load(writeRegistry(dir, [v3Merchant(dir, A, { budget: { queriesPerSecond: 20 } })]));
    expect(diffRegistries(before, after).changed).toEqual([A]);
  });
});

describe('the old single-merchant file (WECHATPAY_CONFIG)', () => {
  it('is a registry of one, the default, inline keys still allowed', () => {
    const dir = tempDir();
    const keys = testKeys();
    const file = write(
      path.join(dir, 'merchant.yml'),
      [
        'apiVersion: v3',
        'v3:',
        `  mchid: "${A}"`,
        '  merchantSerialNo: "5157F09EFDC096DE15EBE81A47057A72C0A8A6B5"',
        `  merchantPrivateKey: ${JSON.stringify(keys.merchant.privateKeyPem)}`,
        `  apiV3Key: "${APIV3_KEY}"`,
        '  wechatpayPublicKeys:',
        `    - { id: ${keys.publicKey.id}, publicKey: ${JSON.stringify(keys.publicKey.publicKeyPem)} }`,
      ].join('\n'),
    );
    const registry = loadRegistryFile(file, { format: 'merchant-file' });
    expect(registry.list().map((m) => [m.mchid, m.apiVersion, m.isDefault])).toEqual([[A, 'v3', true]]);
    expect(registry.resolve().budget).toEqual({ createsPerSecond: 100, queriesPerSecond: 200 });
    const config = registry.resolve().gatewayConfig();
    expect(config.apiVersion === 'v3' && config.v3.apiV3Key).toBe(APIV3_KEY);
    // Read by its content too: a file of the old format named where a registry is expected still loads.
    expect(loadRegistryFile(file).resolve().mchid).toBe(A);
  });

  it('keeps its own error messages', () => {
    const dir = tempDir();
    const file = write(path.join(dir, 'bad.yml'), 'apiVersion: v3\nv3:\n  mchid: "19000abc"\n');
    expect(() => loadRegistryFile(file, { format: 'merchant-file' })).toThrow(/v3\.mchid: must be 1-32 digits/);
  });
});
