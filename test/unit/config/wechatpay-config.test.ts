import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { ConfigError, DEFAULT_STACK_CONFIG_PATH, parseStackConfig } from '../../../src/config/stack-config';
import { createGatewayFromConfig } from '../../../src/config/wechatpay-config';
import { generateRsaKeyPair } from '../../../src/pki';

const stack = parseStackConfig(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8'));
const dir = mkdtempSync(path.join(tmpdir(), 'wxrefund-merchant-'));

describe('which WeChat Pay the worker talks to', () => {
  it('production needs the merchant file', () => {
    expect(() => createGatewayFromConfig(stack, { WECHATPAY_BACKEND: 'production' })).toThrow(
      /WECHATPAY_CONFIG: required/,
    );
  });

  it('refuses an unknown backend, naming the variable', () => {
    expect(() => createGatewayFromConfig(stack, { WECHATPAY_BACKEND: 'sandbox' })).toThrow(
      /WECHATPAY_BACKEND: must be simulator or production/,
    );
  });

  it('validates the merchant file with the protocol layer schema and names the bad key', () => {
    const file = path.join(dir, 'bad.yml');
    writeFileSync(file, 'apiVersion: v3\nv3:\n  mchid: "19000abc"\n  merchantSerialNo: "ABC"\n');
    expect(() => createGatewayFromConfig(stack, { WECHATPAY_BACKEND: 'production', WECHATPAY_CONFIG: file })).toThrow(
      ConfigError,
    );
    expect(() => createGatewayFromConfig(stack, { WECHATPAY_BACKEND: 'production', WECHATPAY_CONFIG: file })).toThrow(
      /v3\.mchid: must be 1-32 digits/,
    );
  });

  it('builds a real v3 gateway from a valid merchant file', async () => {
    const { privateKeyPem, publicKeyPem } = generateRsaKeyPair();
    const file = path.join(dir, 'good.yml');
    writeFileSync(
      file,
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
    const sel = createGatewayFromConfig(stack, { WECHATPAY_BACKEND: 'production', WECHATPAY_CONFIG: file });
    expect(sel).toMatchObject({
      backend: 'production',
      apiVersion: 'v3',
      mchid: '1900000109',
      baseUrl: 'https://api.mch.weixin.qq.com',
    });
    expect(sel.gateway.apiVersion).toBe('v3');
    await sel.gateway.close?.();
  });

  it('the simulator backend explains where the keys should be when the simulator never ran', () => {
    const cfg = { ...stack, simulator: { ...stack.simulator, keysDir: path.join(dir, 'nowhere') } };
    expect(() => createGatewayFromConfig(cfg, {})).toThrow(/simulator keys not found .*npm run sim/);
  });
});
