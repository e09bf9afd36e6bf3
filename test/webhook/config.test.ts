/**
 * The webhook's configuration: safe defaults, errors that name the key and the rule, and merchant material resolved
 * from env / files without ever echoing a secret.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { webhookMerchantSource } from '../../src/config/webhook-settings';
import { describeZodError as formatZodError } from '../../src/domain/zod-errors';
import { webhookConfigSchema } from '../../src/webhook/config';
import { MerchantConfigError, verifierFromConfig } from '../../src/webhook/merchants';
import { createRefund, startCaptureServer, startFrozenSimulator, uniqueNos, v2Gateway, v3Gateway } from './helpers';

function problems(input: unknown): string {
  const r = webhookConfigSchema.safeParse(input);
  if (r.success) throw new Error('expected the config to be refused');
  return formatZodError(r.error);
}

describe('webhookConfigSchema', () => {
  it('fills safe defaults: 64 KiB bodies, ±300 s, signal deadline under WeChat’s 5 s, orphan log under .data', () => {
    const cfg = webhookConfigSchema.parse({});
    expect(cfg).toMatchObject({
      host: '127.0.0.1',
      port: 18090,
      bodyLimitBytes: 65_536,
      timestampToleranceSeconds: 300,
      signalTimeoutMs: 3_000,
      handlerTimeoutMs: 4_500,
      signalConcurrency: 64,
      orphanLogPath: '.data/webhook/orphans.jsonl',
      outbox: {
        enabled: true,
        dir: '.data/webhook/outbox',
        maxEntries: 100_000,
        deferAfterMs: 1_000,
        concurrency: 32,
        maxBackoffMs: 30_000,
      },
      dedupe: { maxEntries: 10_000, ttlMs: 600_000 },
      temporal: { address: '127.0.0.1:7233', namespace: 'default' },
      merchants: [],
    });
  });

  it('holds few signals at once by default when the outbox takes the rest, many when a held one would get a 503', () => {
    expect(webhookConfigSchema.parse({}).signalConcurrency).toBe(64);
    expect(webhookConfigSchema.parse({ outbox: { enabled: false } }).signalConcurrency).toBe(1_000);
    expect(webhookConfigSchema.parse({ signalConcurrency: 200 }).signalConcurrency).toBe(200);
    expect(webhookConfigSchema.parse({ signalConcurrency: 200, outbox: { enabled: false } }).signalConcurrency).toBe(
      200,
    );
  });

  it('accepts the webhook section of temporal-dev.yml as the lead wrote it', () => {
    expect(
      webhookConfigSchema.parse({
        enabled: true,
        host: '127.0.0.1',
        port: 18090,
        publicBaseUrl: 'http://127.0.0.1:18090',
      }),
    ).toMatchObject({ publicBaseUrl: 'http://127.0.0.1:18090' });
  });

  it('names the key and the rule when refusing', () => {
    expect(problems({ port: 'x' })).toMatch(/^port: .*number/);
    expect(problems({ signalTimeoutMs: 6_000 })).toMatch(
      /signalTimeoutMs: must stay under WeChat’s 5 s reply deadline/,
    );
    expect(problems({ signalTimeoutMs: 4_000, handlerTimeoutMs: 3_000 })).toMatch(
      /signalTimeoutMs: must be less than handlerTimeoutMs/,
    );
    expect(problems({ bodyLimitBytes: 10 })).toMatch(/^bodyLimitBytes: /);
    expect(problems({ signalConcurrency: 0 })).toMatch(/^signalConcurrency: /);
    expect(problems({ signalConcurrency: 2.5 })).toMatch(/^signalConcurrency: .*int/);
    expect(problems({ colour: 'blue' })).toMatch(/colour/);
    expect(problems({ merchants: [{ mchid: '12ab', v2: { apiKey: { env: 'K' } } }] })).toMatch(
      /merchants\.0\.mchid: must be 1-32 digits/,
    );
    expect(problems({ merchants: [{ mchid: '1900000109' }] })).toMatch(/merchants\.0\.v3: needs v3 and\/or v2/);
    expect(problems({ merchants: [{ mchid: '1900000109', v3: { apiV3Key: { env: 'K' } } }] })).toMatch(
      /merchants\.0\.v3\.platformCertificates: needs at least one platform certificate or WeChat Pay public key/,
    );
    expect(problems({ defaultMchid: '1', merchants: [{ mchid: '1900000109', v2: { apiKey: { env: 'K' } } }] })).toMatch(
      /defaultMchid: must be the mchid of a configured merchant/,
    );
    expect(
      problems({
        merchants: [
          { mchid: '1900000109', v2: { apiKey: { env: 'K' } } },
          { mchid: '1900000109', v2: { apiKey: { env: 'K' } } },
        ],
      }),
    ).toMatch(/merchants\.1\.mchid: duplicate mchid 1900000109/);
  });
});

describe('merchant material from configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'webhook-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads keys from env and files, WeChat keys from PEM files, and verifies genuine v3 and v2 notifications with them', async () => {
    const sim = await startFrozenSimulator();
    try {
      const { manifest } = sim;
      const m = manifest.merchants[0];
      writeFileSync(path.join(dir, 'apiv2.txt'), `${m.apiV2Key}\n`);
      writeFileSync(path.join(dir, 'platform.pem'), manifest.wechat.platformCertificates[0].certificatePem);
      writeFileSync(path.join(dir, 'pub.pem'), manifest.wechat.publicKeys[0].publicKeyPem);
      const cfg = webhookConfigSchema.parse({
        merchants: [
          {
            mchid: m.mchid,
            v3: {
              apiV3Key: { env: 'TEST_APIV3_KEY' },
              platformCertificates: [{ file: 'platform.pem' }],
              publicKeys: [{ id: manifest.wechat.publicKeys[0].id, file: 'pub.pem' }],
            },
            v2: { apiKey: { file: 'apiv2.txt' } },
          },
        ],
      });
      const verifier = verifierFromConfig(cfg.merchants[0], {
        toleranceSeconds: 300,
        baseDir: dir,
        env: { TEST_APIV3_KEY: m.apiV3Key },
      });
      expect(verifier.mchid).toBe(m.mchid);

      // Genuine v3 and v2 notifications, captured as WeChat sends them, verify with the configured material.
      const capture = await startCaptureServer();
      try {
        for (const [version, gateway] of [
          ['v3', v3Gateway(sim, m.mchid, capture.baseUrl)],
          ['v2', v2Gateway(sim, m.mchid, capture.baseUrl)],
        ] as const) {
          const nos = uniqueNos(`cfg${version}`);
          await createRefund(sim, gateway, { mchid: m.mchid, ...nos });
          await sim.admin.advance({ seconds: 30 });
          const captured = capture.captured.find((c) => c.path.includes(`/${version}/`))!;
          const now = new Date();
          const n =
            version === 'v3'
              ? await verifier.verifyV3!({ headers: captured.headers, rawBody: captured.body, now })
              : await verifier.decodeV2!({ rawBody: captured.body, now });
          expect(n).toMatchObject({ apiVersion: version, outRefundNo: nos.outRefundNo, mchid: m.mchid });
        }
      } finally {
        await capture.close();
      }
    } finally {
      await sim.close();
    }
  });

  it('refuses missing or wrong-sized keys without echoing them', () => {
    const [cfg] = webhookConfigSchema.parse({
      merchants: [{ mchid: '1900000109', v2: { apiKey: { env: 'NOPE' } } }],
    }).merchants;
    expect(() => verifierFromConfig(cfg, { toleranceSeconds: 300, env: {} })).toThrow(
      new MerchantConfigError('merchants[1900000109].v2.apiKey: environment variable NOPE is not set'),
    );
    const secret = 'short-secret-value';
    let message = '';
    try {
      verifierFromConfig(cfg, { toleranceSeconds: 300, env: { NOPE: secret } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('merchants[1900000109].v2.apiKey: must be 32 printable ASCII characters');
    expect(message).not.toContain(secret);
    const [fileCfg] = webhookConfigSchema.parse({
      merchants: [{ mchid: '1900000109', v2: { apiKey: { file: 'missing.txt' } } }],
    }).merchants;
    expect(() => verifierFromConfig(fileCfg, { toleranceSeconds: 300, baseDir: dir })).toThrow(
      /cannot read missing\.txt: ENOENT/,
    );
  });
});

describe('where the webhook’s merchants come from', () => {
  const listed = webhookConfigSchema.parse({ merchants: [{ mchid: '1900000109', v2: { apiKey: { env: 'K' } } }] });
  const none = webhookConfigSchema.parse({});
  const settings = (config = none, stackHasMerchants = false, stackBackend?: string) => ({
    config,
    source: 'stack.yml',
    stackHasMerchants,
    stackBackend,
  });

  it('the registry the worker reads whenever one is named, and always in production', () => {
    expect(webhookMerchantSource(settings(none, true), {})).toBe('registry');
    expect(webhookMerchantSource(settings(), { WXREFUND_MERCHANTS: '/etc/merchants.yml' })).toBe('registry');
    expect(webhookMerchantSource(settings(), { WECHATPAY_BACKEND: 'production' })).toBe('registry');
    expect(webhookMerchantSource(settings(none, false, 'production'), {})).toBe('registry');
  });

  it('else webhook.merchants, else (local stack) the simulator’s manifest', () => {
    expect(webhookMerchantSource(settings(listed), { WECHATPAY_CONFIG: '/etc/merchant.yml' })).toBe(
      'webhook.merchants',
    );
    expect(webhookMerchantSource(settings(), {})).toBe('simulator manifest');
  });

  it('refuses webhook.merchants beside a registry, naming both', () => {
    expect(() => webhookMerchantSource(settings(listed, true), {})).toThrow(
      'stack.yml: webhook.merchants and stack.yml: merchants both list merchants',
    );
    expect(() => webhookMerchantSource(settings(listed), { WXREFUND_MERCHANTS: '/etc/merchants.yml' })).toThrow(
      'webhook.merchants and WXREFUND_MERCHANTS both list merchants',
    );
  });
});
