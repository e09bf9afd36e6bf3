/**
 * WeChat's keys changing under a running deployment (reference §3.4): a platform certificate rotated in while a
 * client still knows only the old one, a merchant moved to WeChat Pay public keys while the others stay on
 * certificates, and both surviving a simulator restart. Plus the third demo merchant, driven through API v2.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { certificateSerial } from '../../src/pki';
import { SimulatorAdminError } from '../../src/simulator/admin-client';
import { DEMO_V2_MCHID } from '../../src/simulator/keys';
import { loadSimulatorManifest, v3GatewayConfigFor } from '../../src/simulator/manifest';
import type { SimulatorHandle } from '../../src/simulator/server';
import { createV3Gateway } from '../../src/wechatpay/v3/gateway';
import {
  DIRECT,
  NotificationReceiver,
  SUB,
  closeGateways,
  errorOf,
  paidOrder,
  signedV3,
  startTestSimulator,
  v2Gateway,
  v3Gateway,
} from './support';

const certificateMode = { wechat: { signWith: 'certificate' as const } };

afterAll(closeGateways);

/** Serial / key id that signed a v3 reply of `mchid` (a refund query: any signed 2xx would do). */
async function replySigner(sim: SimulatorHandle, mchid: string): Promise<string> {
  const order = await paidOrder(sim, { mchid });
  const res = await signedV3(sim, {
    mchid,
    path: `/v3/pay/transactions/out-trade-no/${order.outTradeNo}?mchid=${mchid}`,
  });
  expect(res.status).toBe(200);
  return String(res.headers['wechatpay-serial']);
}

const platformSerials = (sim: SimulatorHandle) => sim.manifest.wechat.platformCertificates.map((c) => c.serialNo);

describe('platform certificate rotation', () => {
  let dir: string;
  let sim: SimulatorHandle;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-rotation-'));
    sim = await startTestSimulator({ ...certificateMode, keysDir: dir });
  });
  afterAll(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client knowing only the old certificate downloads the new one on the unknown serial and keeps verifying', async () => {
    const [oldSerial] = platformSerials(sim);
    // Configured before the rotation: its keyring holds the old certificate only.
    const gw = v3Gateway(sim, DIRECT);
    expect(gw.keyring.list().map((k) => k.id)).toEqual([oldSerial]);

    const rotation = await sim.admin.rotatePlatformCertificate();
    expect(rotation.serialNo).not.toBe(oldSerial);
    expect(rotation.platformCertificates).toEqual([oldSerial, rotation.serialNo]);
    expect(rotation.retired).toEqual([]);
    expect(await replySigner(sim, DIRECT)).toBe(rotation.serialNo);

    const order = await paidOrder(sim);
    await expect(
      gw.createRefund({ outRefundNo: 'R-ROT-1', outTradeNo: order.outTradeNo, refundFen: 10, totalFen: 10_000 }),
    ).resolves.toMatchObject({ outRefundNo: 'R-ROT-1', status: 'PROCESSING' });
    expect(gw.keyring.list().map((k) => k.id)).toContain(rotation.serialNo);
    // Overlap: the list it downloaded still carries the old certificate.
    expect((await gw.client.downloadPlatformCertificates()).map((c) => c.serial)).toEqual([
      oldSerial,
      rotation.serialNo,
    ]);

    // The manifest, in memory and on disk, names both: a process started now pre-loads the new one.
    expect(platformSerials(sim)).toEqual([oldSerial, rotation.serialNo]);
    expect(loadSimulatorManifest(dir).wechat.platformCertificates.map((c) => c.serialNo)).toEqual([
      oldSerial,
      rotation.serialNo,
    ]);
  });

  it('retireOld drops the old certificates from GET /v3/certificates', async () => {
    const rotation = await sim.admin.rotatePlatformCertificate({ retireOld: true });
    expect(rotation.retired).toHaveLength(2);
    expect(rotation.platformCertificates).toEqual([rotation.serialNo]);
    const gw = v3Gateway(sim, DIRECT);
    expect((await gw.client.downloadPlatformCertificates()).map((c) => c.serial)).toEqual([rotation.serialNo]);
    expect(loadSimulatorManifest(dir).wechat.platformCertificates.map((c) => c.serialNo)).toEqual([rotation.serialNo]);
  });

  it('refuses a malformed body, naming the field', async () => {
    const e = await errorOf(
      sim.admin.rotatePlatformCertificate({ retireOld: 'yes' } as unknown as { retireOld: boolean }),
    );
    expect(e).toBeInstanceOf(SimulatorAdminError);
    expect(e).toMatchObject({ status: 400, message: expect.stringContaining('retireOld') });
  });
});

describe('per-merchant signing mode', () => {
  let sim: SimulatorHandle;
  let receiver: NotificationReceiver;
  let otherReceiver: NotificationReceiver;
  beforeAll(async () => {
    sim = await startTestSimulator(certificateMode);
  });
  afterAll(async () => {
    await sim.close();
    await receiver?.close();
    await otherReceiver?.close();
  });

  it('a merchant switched to public keys gets PUB_KEY_ID_… signatures and 403 from /v3/certificates; another keeps certificates', async () => {
    const [platformSerial] = platformSerials(sim);
    expect(sim.manifest.wechat.publicKeys).toHaveLength(0);

    const view = await sim.admin.setMerchantSigning(DIRECT, 'publicKey');
    expect(view).toMatchObject({ mchid: DIRECT, signWith: 'publicKey' });
    // The simulator had no public key: it issued one, and the manifest lists it for the merchant's verifier.
    expect(sim.manifest.wechat.publicKeys).toHaveLength(1);
    const [{ id: publicKeyId }] = sim.manifest.wechat.publicKeys;
    expect(publicKeyId).toMatch(/^PUB_KEY_ID_\d+$/);
    expect(sim.manifest.merchants.find((m) => m.mchid === DIRECT)?.signWith).toBe('publicKey');

    expect(await replySigner(sim, DIRECT)).toBe(publicKeyId);
    expect(await replySigner(sim, DEMO_V2_MCHID)).toBe(platformSerial);

    const refused = await signedV3(sim, { path: '/v3/certificates', mchid: DIRECT });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ code: 'NO_AUTH', message: expect.stringContaining('public keys') });
    const served = await signedV3(sim, { path: '/v3/certificates', mchid: DEMO_V2_MCHID });
    expect(served.status).toBe(200);
    expect(served.headers['wechatpay-serial']).toBe(platformSerial);

    // The project's gateway configured from the updated manifest verifies the public-key signed replies.
    const gw = v3Gateway(sim, DIRECT);
    const order = await paidOrder(sim);
    await expect(
      gw.createRefund({ outRefundNo: 'R-PK-1', outTradeNo: order.outTradeNo, refundFen: 20, totalFen: 10_000 }),
    ).resolves.toMatchObject({ status: 'PROCESSING' });
  });

  it('notifications follow the merchant’s mode', async () => {
    const merchant = (mchid: string) => sim.manifest.merchants.find((m) => m.mchid === mchid)!;
    receiver = await new NotificationReceiver(sim.manifest, merchant(DIRECT)).start();
    otherReceiver = await new NotificationReceiver(sim.manifest, merchant(DEMO_V2_MCHID)).start();
    const direct = await paidOrder(sim);
    await v3Gateway(sim, DIRECT).createRefund({
      outRefundNo: 'R-PK-N',
      outTradeNo: direct.outTradeNo,
      refundFen: 30,
      totalFen: 10_000,
      notifyUrl: receiver.url,
    });
    const other = await paidOrder(sim, { mchid: DEMO_V2_MCHID });
    await v3Gateway(sim, DEMO_V2_MCHID).createRefund({
      outRefundNo: 'R-CERT-N',
      outTradeNo: other.outTradeNo,
      refundFen: 30,
      totalFen: 10_000,
      notifyUrl: otherReceiver.url,
    });
    await sim.admin.advance({ minutes: 1 });

    expect(receiver.verified()).toEqual([expect.objectContaining({ outRefundNo: 'R-PK-N', status: 'SUCCESS' })]);
    expect(otherReceiver.verified()).toEqual([expect.objectContaining({ outRefundNo: 'R-CERT-N', status: 'SUCCESS' })]);
    expect(receiver.received[0].headers['wechatpay-serial']).toBe(sim.manifest.wechat.publicKeys[0].id);
    expect(otherReceiver.received[0].headers['wechatpay-serial']).toBe(platformSerials(sim)[0]);
  });

  it('refuses an unknown mode naming the field, and a sub-merchant (its provider signs for it)', async () => {
    const bad = await errorOf(
      sim.admin.patchMerchant(DIRECT, { signWith: 'rsa' } as unknown as { signWith: 'publicKey' }),
    );
    expect(bad).toMatchObject({ status: 400, message: expect.stringContaining('signWith') });
    await expect(sim.admin.setMerchantSigning(SUB, 'publicKey')).rejects.toMatchObject({ status: 400 });
  });
});

describe('across a restart', () => {
  it('keeps rotated certificates (keysDir) and a merchant’s switched mode (stateFile)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-rotation-restart-'));
    const config = {
      ...certificateMode,
      keysDir: path.join(dir, 'keys'),
      stateFile: path.join(dir, 'state.sqlite'),
    };
    try {
      const first = await startTestSimulator(config);
      const rotation = await first.admin.rotatePlatformCertificate();
      await first.admin.setMerchantSigning(DIRECT, 'publicKey');
      const certificates = platformSerials(first);
      const publicKeys = first.manifest.wechat.publicKeys.map((k) => k.id);
      await first.close();

      const second = await startTestSimulator(config);
      try {
        expect(platformSerials(second)).toEqual(certificates);
        expect(second.manifest.wechat.publicKeys.map((k) => k.id)).toEqual(publicKeys);
        expect((await second.admin.merchants()).find((m) => m.mchid === DIRECT)?.signWith).toBe('publicKey');
        expect(await replySigner(second, DIRECT)).toBe(publicKeys[0]);
        expect(await replySigner(second, DEMO_V2_MCHID)).toBe(rotation.serialNo);
        // A process reading the manifest file now verifies without downloading anything.
        const gw = createV3Gateway(v3GatewayConfigFor(loadSimulatorManifest(config.keysDir), DEMO_V2_MCHID));
        try {
          const order = await paidOrder(second, { mchid: DEMO_V2_MCHID });
          await gw.queryOrder({ outTradeNo: order.outTradeNo });
          expect((await second.admin.calls())['v3.certificates']).toBeUndefined();
        } finally {
          await gw.close();
        }
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`the API v2 demo merchant ${DEMO_V2_MCHID}`, () => {
  let sim: SimulatorHandle;
  let receiver: NotificationReceiver;
  beforeAll(async () => {
    sim = await startTestSimulator();
  });
  afterAll(async () => {
    await receiver?.close();
    await sim.close();
  });

  it('is a default direct merchant with its own appid and generated API certificate', () => {
    expect(sim.merchants.map((m) => m.mchid)).toEqual([DIRECT, '1900000100', DEMO_V2_MCHID]);
    const m = sim.merchants.find((x) => x.mchid === DEMO_V2_MCHID)!;
    expect(m).toMatchObject({ mode: 'direct', subMerchants: [] });
    expect(m.appid).not.toBe(sim.merchants[0].appid);
    expect(m.certificatePem).toContain('CERTIFICATE');
    expect(m.privateKeyPem).toContain('PRIVATE KEY');
    expect(m.serialNo).not.toBe(sim.merchants[0].serialNo);
  });

  it('added over a keys directory from before it existed: the cached keys stay, its certificate serial is new', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-added-merchant-'));
    try {
      const before = await startTestSimulator({ keysDir: dir, merchants: [{ mchid: DIRECT }] });
      const directSerial = before.merchants[0].serialNo;
      await before.close();
      const after = await startTestSimulator({ keysDir: dir });
      try {
        expect(after.merchants.find((m) => m.mchid === DIRECT)?.serialNo).toBe(directSerial);
        // Every certificate of the simulator's CA has its own serial (the restarted seeded stream would repeat them).
        const serials = [
          certificateSerial(after.manifest.caCertificatePem),
          ...platformSerials(after),
          ...after.merchants.map((m) => m.serialNo),
        ];
        expect(new Set(serials).size).toBe(serials.length);
      } finally {
        await after.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refunds through the v2 gateway to SUCCESS, with a v2 notification its API key decrypts', async () => {
    receiver = await new NotificationReceiver(
      sim.manifest,
      sim.merchants.find((x) => x.mchid === DEMO_V2_MCHID)!,
    ).start();
    const gw = v2Gateway(sim, DEMO_V2_MCHID);
    const order = await paidOrder(sim, { mchid: DEMO_V2_MCHID });
    await expect(
      gw.createRefund({
        outRefundNo: 'R-V2-DEMO',
        outTradeNo: order.outTradeNo,
        refundFen: 400,
        totalFen: order.totalFen,
        notifyUrl: receiver.url,
      }),
    ).resolves.toMatchObject({ outRefundNo: 'R-V2-DEMO', status: 'PROCESSING' });
    await sim.admin.advance({ minutes: 1 });
    await expect(gw.queryRefund({ outRefundNo: 'R-V2-DEMO' })).resolves.toMatchObject({
      outRefundNo: 'R-V2-DEMO',
      status: 'SUCCESS',
    });
    expect(receiver.verified()).toEqual([
      expect.objectContaining({ apiVersion: 'v2', mchid: DEMO_V2_MCHID, outRefundNo: 'R-V2-DEMO', status: 'SUCCESS' }),
    ]);
  });
});
