/**
 * Configuration (zod, errors naming the key), the keys directory and manifest the worker and webhook read, merchants
 * that bring their own key, the admin API's validation and reports, and `npm run sim`.
 */
import { spawn } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { simulatorConfigSchema } from '../../src/simulator/config';
import { loadSimulatorManifest, v3GatewayConfigFor } from '../../src/simulator/manifest';
import { parseSimulatorConfig, type SimulatorHandle } from '../../src/simulator/server';
import { createV3Gateway } from '../../src/wechatpay/v3/gateway';
import { generateRsaKeyPair } from '../../src/pki';
import { DIRECT, closeGateways, paidOrder, startTestSimulator, v2Gateway, v3Gateway } from './support';

const REPO = path.resolve(__dirname, '..', '..');
afterAll(closeGateways);

describe('configuration', () => {
  it('accepts the simulator section of temporal-dev.yml', () => {
    const doc = parseYaml(readFileSync(path.join(REPO, 'temporal-dev.yml'), 'utf8')) as { simulator: unknown };
    expect(simulatorConfigSchema.safeParse(doc.simulator).success).toBe(true);
  });

  it('names the key and the rule of every problem', () => {
    expect(() => parseSimulatorConfig({ timeScale: -1 })).toThrow(/timeScale: /);
    expect(() => parseSimulatorConfig({ merchants: [{ mchid: '1900000109', apiV3Key: 'short' }] })).toThrow(
      'merchants.0.apiV3Key: apiV3Key must be exactly 32 ASCII characters',
    );
    expect(() => parseSimulatorConfig({ porrt: 1 })).toThrow(/Unrecognized key: "porrt"/);
    expect(() => parseSimulatorConfig({ merchants: [{ mchid: '1', subMerchants: [{ subMchid: '2' }] }] })).toThrow(
      'merchants.0.subMerchants: only a partner (service provider) merchant has sub-merchants',
    );
    expect(() => parseSimulatorConfig({ faults: [{ endpoint: 'v3.create', kind: 'EXPLODE' }] })).toThrow(
      /faults\.0\.kind/,
    );
  });
});

describe('keys directory and manifest', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-keys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every key where the worker finds it, re-uses them on restart, and the files drive a working gateway', async () => {
    const first = await startTestSimulator({ keysDir: dir });
    const firstSerials = first.merchants.map((m) => m.serialNo);
    await first.close();

    const sim = await startTestSimulator({ keysDir: dir });
    try {
      expect(sim.merchants.map((m) => m.serialNo)).toEqual(firstSerials);
      const manifest = loadSimulatorManifest(dir);
      expect(manifest.urls.v3).toBe(sim.baseUrl);
      expect(manifest.merchants[0].privateKeyPem).toContain('PRIVATE KEY');
      expect(readFileSync(path.join(dir, 'merchants', DIRECT, 'apiclient_cert.pem'), 'utf8')).toContain('CERTIFICATE');
      expect(readFileSync(path.join(dir, 'merchants', DIRECT, 'apiv3_key.txt'), 'utf8')).toHaveLength(32);
      const gw = createV3Gateway(v3GatewayConfigFor(manifest, DIRECT));
      const order = await paidOrder(sim);
      await expect(
        gw.createRefund({
          outRefundNo: 'R-FILES',
          outTradeNo: order.outTradeNo,
          refundFen: 1,
          totalFen: order.totalFen,
        }),
      ).resolves.toMatchObject({
        status: 'PROCESSING',
      });
      await gw.close();
    } finally {
      await sim.close();
    }
  });
});

describe('a merchant that brings its own key (public key + serial only)', () => {
  it('serves an independent client signing with that key', async () => {
    const own = generateRsaKeyPair();
    const serialNo = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
    const sim = await startTestSimulator({
      merchants: [
        {
          mchid: '1230000109',
          certificates: [{ serialNo, publicKey: own.publicKeyPem }],
          apiV3Key: 'a'.repeat(32),
          apiV2Key: 'b'.repeat(32),
        },
      ],
      wechat: { signWith: 'publicKey' },
    });
    try {
      expect(sim.merchants[0].privateKeyPem).toBeUndefined();
      const order = await sim.admin.seedOrder({ mchid: '1230000109', outTradeNo: 'OWNKEY01', totalFen: 100 });
      const body = JSON.stringify({
        transaction_id: order.transactionId,
        out_refund_no: 'R-OWN',
        amount: { refund: 100, total: 100, currency: 'CNY' },
      });
      const ts = String(Math.floor(Date.now() / 1000));
      const nonce = randomBytes(16).toString('hex');
      const signature = createSign('RSA-SHA256')
        .update(`POST\n/v3/refund/domestic/refunds\n${ts}\n${nonce}\n${body}\n`)
        .sign(own.privateKeyPem, 'base64');
      const res = await request(`${sim.baseUrl}/v3/refund/domestic/refunds`, {
        method: 'POST',
        headers: {
          authorization: `WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="${nonce}",signature="${signature}",timestamp="${ts}",serial_no="${serialNo}"`,
          accept: 'application/json',
          'content-type': 'application/json',
          'user-agent': 'independent/1.0',
        },
        body,
      });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ out_refund_no: 'R-OWN', status: 'PROCESSING' });
      expect(String(res.headers['wechatpay-serial'])).toMatch(/^PUB_KEY_ID_/);
    } finally {
      await sim.close();
    }
  });
});

describe('admin API (on a simulator serving v3 over https and v2 over plain http)', () => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await startTestSimulator({ tls: true, v2: { tls: false } });
  });
  afterAll(() => sim.close());

  it('serves the gateways over the configured transports (the manifest carries the CA)', async () => {
    expect(sim.baseUrl).toMatch(/^https:/);
    expect(sim.v2BaseUrl).toMatch(/^http:/);
    const order = await paidOrder(sim);
    const created = await v3Gateway(sim).createRefund({
      outRefundNo: 'R-TLS',
      outTradeNo: order.outTradeNo,
      refundFen: 1,
      totalFen: order.totalFen,
    });
    await expect(v2Gateway(sim).queryRefund({ outRefundNo: 'R-TLS' })).resolves.toMatchObject({
      refundId: created.refundId,
    });
    await sim.admin.reset();
  });

  it('validates seeded orders and names the field', async () => {
    await expect(sim.admin.seedOrder({ mchid: DIRECT, outTradeNo: 'x', totalFen: 1 })).rejects.toThrow(
      /400: outTradeNo: must be 6-32 characters/,
    );
    await expect(sim.admin.seedOrder({ mchid: DIRECT, outTradeNo: 'ORDER-FEN', totalFen: 1.5 })).rejects.toThrow(
      /totalFen/,
    );
    await expect(sim.admin.seedOrder({ mchid: '1999999999', outTradeNo: 'ORDER-MCH', totalFen: 1 })).rejects.toThrow(
      /404: mchid 1999999999/,
    );
    await expect(sim.admin.seedOrder({ mchid: '1900000100', outTradeNo: 'ORDER-SP', totalFen: 1 })).rejects.toThrow(
      /service provider/,
    );
    await sim.admin.seedOrder({ mchid: DIRECT, outTradeNo: 'ORDER-DUP', totalFen: 1 });
    await expect(sim.admin.seedOrder({ mchid: DIRECT, outTradeNo: 'ORDER-DUP', totalFen: 1 })).rejects.toThrow(/409/);
    await expect(sim.admin.advance({ to: '2000-01-01T00:00:00+08:00' })).rejects.toThrow(/simulated past/);
  });

  it('reports invariants and call counts, and reset restores balances and settings', async () => {
    const order = await paidOrder(sim, { totalFen: 2000 });
    const gw = v3Gateway(sim);
    await gw.createRefund({ outRefundNo: 'R-INV-1', outTradeNo: order.outTradeNo, refundFen: 1500, totalFen: 2000 });
    await sim.admin.advance({ minutes: 1 });
    await gw.queryRefund({ outRefundNo: 'R-INV-1' });
    const report = await sim.admin.invariants();
    expect(report).toMatchObject({ ok: true, duplicatePayouts: [], negativeBalances: [] });
    expect(report.orders.find((o) => o.outTradeNo === order.outTradeNo)).toMatchObject({
      refundedFen: 1500,
      reservedFen: 1500,
      ok: true,
    });
    expect(await sim.admin.calls()).toMatchObject({ 'v3.create': { total: 1 }, 'v3.query': { total: 1 } });

    await sim.admin.patchSettings({ rules: { sameOrderSpacingSeconds: 5 } });
    await sim.admin.setBalance(DIRECT, 7);
    await sim.admin.reset();
    expect((await sim.admin.settings()).rules?.sameOrderSpacingSeconds).toBe(60);
    expect((await sim.admin.merchants()).find((m) => m.mchid === DIRECT)?.balanceFen).toBe(1_000_000_00);
    expect(await sim.admin.refunds()).toEqual([]);
    expect(await sim.admin.calls()).toEqual({});
  });

  it('answers unknown admin routes with a JSON 404', async () => {
    const agent = new Agent({ connect: { ca: sim.manifest.caCertificatePem } });
    const res = await request(`${sim.adminUrl}/nothing`, { dispatcher: agent });
    expect(res.statusCode).toBe(404);
    expect(await res.body.json()).toMatchObject({ error: expect.stringContaining('no admin route') });
    await agent.close();
  });
});

describe('npm run sim', () => {
  it('starts from temporal-dev.yml plus flags, prints its URLs and writes the manifest', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-cli-'));
    const child = spawn(
      process.execPath,
      [
        require.resolve('ts-node/dist/bin.js'),
        '--transpile-only',
        'src/cli/simulator.ts',
        '--port',
        '0',
        '--v2-port',
        '0',
        '--keys-dir',
        dir,
        // Not the stack's own .data/simulator/state.sqlite (a running `npm run dev` may have it open).
        '--state-file',
        path.join(dir, 'state.sqlite'),
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const output = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('merchant 1900000100')) resolve(text);
        });
        child.stderr.on('data', (c: Buffer) => (text += c.toString()));
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${text}`)));
      });
      expect(output).toContain('seed 20261123'); // from temporal-dev.yml
      const adminUrl = /admin: (http:\/\/[^)\s]+)/.exec(output)?.[1];
      const res = await request(`${adminUrl}/health`);
      expect(await res.body.json()).toEqual({ ok: true });
      expect(loadSimulatorManifest(dir).urls.admin).toBe(adminUrl);
      expect(output).toContain(`state          : ${path.join(dir, 'state.sqlite')}`);
    } finally {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
