/**
 * The gateway pool against the simulator: gateways per merchant built on first use, one merchant's broken key file
 * affecting only that merchant, reloads that keep unchanged gateways, and the scheduled certificate refresh (driven by
 * injected timers) including a public-key-mode merchant whose GET /v3/certificates is refused.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createMerchantGateways, type PoolLog, type PoolTimers } from '../../../src/merchants/gateway-pool';
import { loadRegistryFile } from '../../../src/merchants/registry';
import { MerchantCredentialError, type MerchantRegistry } from '../../../src/merchants/types';
import type { SimulatorHandle } from '../../../src/simulator/server';
import { WechatPayV3Client } from '../../../src/wechatpay/v3/client';
import { DIRECT, paidOrder, startTestSimulator } from '../../simulator/support';
import { tempDir, write, writeRegistry } from './support';

/** A merchant of the simulator whose replies are signed with WeChat Pay public keys only (403 on /v3/certificates). */
const PUBKEY = '1900000120';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startTestSimulator({
    merchants: [{ mchid: DIRECT }, { mchid: PUBKEY, signWith: 'publicKey' }],
    wechat: { signWith: 'certificate' },
  });
});
afterAll(() => sim?.close());

/** The simulator merchant's keys as files under `<dir>/<mchid>/`, and its registry entry. */
function simMerchant(
  dir: string,
  mchid: string,
  v3: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  const m = sim.manifest.merchants.find((x) => x.mchid === mchid)!;
  write(path.join(dir, mchid, 'apiclient_key.pem'), m.privateKeyPem!);
  write(path.join(dir, mchid, 'apiv3_key.txt'), m.apiV3Key);
  return {
    mchid,
    apiVersion: 'v3',
    ...extra,
    v3: {
      baseUrl: sim.manifest.urls.v3,
      merchantSerialNo: m.serialNo,
      merchantPrivateKey: { file: `${mchid}/apiclient_key.pem` },
      apiV3Key: { file: `${mchid}/apiv3_key.txt` },
      wechatpayPublicKeys: sim.manifest.wechat.publicKeys.map((k) => ({ id: k.id, pem: k.publicKeyPem })),
      timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
      ...v3,
    },
  };
}

/** Timers the test runs by hand. */
function manualTimers() {
  const every: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const after: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const timers: PoolTimers = {
    every(fn, ms) {
      const t = { fn, ms, cancelled: false };
      every.push(t);
      return () => (t.cancelled = true);
    },
    after(fn, ms) {
      const t = { fn, ms, cancelled: false };
      after.push(t);
      return () => (t.cancelled = true);
    },
  };
  return { timers, every, after };
}

function recordingLog() {
  const warnings: string[] = [];
  const log: PoolLog = { info: () => {}, warn: (message) => warnings.push(message) };
  return { log, warnings };
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function certificateCalls(): Promise<{ total: number; byStatus: Record<string, number> }> {
  return (await sim.admin.calls())['v3.certificates'] ?? { total: 0, byStatus: {} };
}

function load(file: string): MerchantRegistry {
  return loadRegistryFile(file, { env: {}, format: 'registry' });
}

describe('merchant gateways', () => {
  it("refund for one merchant while another's key file is missing; that one fails naming the setting", async () => {
    const dir = tempDir();
    const registry = load(writeRegistry(dir, [simMerchant(dir, DIRECT), simMerchant(dir, PUBKEY)]));
    rmSync(path.join(dir, PUBKEY, 'apiclient_key.pem'));
    const gateways = createMerchantGateways(registry, { log: recordingLog().log, timers: manualTimers().timers });
    try {
      expect(() => gateways.forMerchant(PUBKEY)).toThrow(MerchantCredentialError);
      expect(() => gateways.forMerchant(PUBKEY)).toThrow(`merchants[${PUBKEY}].v3.merchantPrivateKey: cannot read`);
      const order = await paidOrder(sim);
      const refund = await gateways.forMerchant(DIRECT).createRefund({
        outRefundNo: 'R-POOL-GOOD',
        outTradeNo: order.outTradeNo,
        refundFen: 10,
        totalFen: order.totalFen,
      });
      expect(refund).toMatchObject({ outRefundNo: 'R-POOL-GOOD', status: 'PROCESSING' });
    } finally {
      await gateways.close();
    }
  });

  it('keeps unchanged gateways across a reload; a changed one is replaced and closed once idle', async () => {
    const dir = tempDir();
    const file = writeRegistry(dir, [simMerchant(dir, DIRECT)]);
    const { timers, after } = manualTimers();
    const gateways = createMerchantGateways(load(file), { log: recordingLog().log, timers, retireGraceMs: 30_000 });
    const closed = jest.spyOn(WechatPayV3Client.prototype, 'close');
    const changes: unknown[] = [];
    gateways.onChange((change) => changes.push(change));
    try {
      const first = gateways.forMerchant(DIRECT);
      const firstKeyring = gateways.keyringOf(DIRECT);
      expect(gateways.replaceRegistry(load(file))).toEqual({ added: [], removed: [], changed: [] });
      expect(gateways.forMerchant(DIRECT)).toBe(first);
      expect(gateways.keyringOf(DIRECT)).toBe(firstKeyring);

      // The key file rotated in place (same key, other bytes): a change, the gateway is rebuilt.
      const m = sim.manifest.merchants.find((x) => x.mchid === DIRECT)!;
      writeFileSync(path.join(dir, DIRECT, 'apiv3_key.txt'), `${m.apiV3Key}\n`);
      expect(gateways.replaceRegistry(load(file))).toEqual({ added: [], removed: [], changed: [DIRECT] });
      expect(changes).toHaveLength(2);
      expect(gateways.keyringOf(DIRECT)).not.toBe(firstKeyring);

      // A call through the gateway taken before the reload still works (it follows the merchant's new gateway).
      const order = await paidOrder(sim);
      const input = {
        outRefundNo: 'R-POOL-RELOAD',
        outTradeNo: order.outTradeNo,
        refundFen: 10,
        totalFen: order.totalFen,
      };
      await expect(first.createRefund(input)).resolves.toMatchObject({ status: 'PROCESSING' });

      expect(closed).not.toHaveBeenCalled();
      const grace = after.find((t) => !t.cancelled);
      expect(grace?.ms).toBe(30_000);
      grace!.fn();
      await until(() => closed.mock.calls.length === 1);
    } finally {
      await gateways.close();
      closed.mockRestore();
    }
  });

  it('refreshes platform certificates on schedule (certificate mode)', async () => {
    const dir = tempDir();
    const registry = load(
      writeRegistry(dir, [simMerchant(dir, DIRECT, { wechatpayPublicKeys: [], certificateRefreshHours: 6 })]),
    );
    const { timers, every } = manualTimers();
    const { log, warnings } = recordingLog();
    const gateways = createMerchantGateways(registry, { log, timers });
    try {
      gateways.forMerchant(DIRECT);
      expect(every.map((t) => t.ms)).toEqual([6 * 3_600_000]);
      const keyring = gateways.keyringOf(DIRECT)!;
      expect(keyring.list()).toHaveLength(0);
      every[0].fn();
      await until(() => keyring.list().length > 0);
      expect(keyring.list().map((k) => [k.id, k.source])).toEqual([
        [sim.manifest.wechat.platformCertificates[0].serialNo, 'downloaded'],
      ]);
      expect(warnings).toEqual([]);
    } finally {
      await gateways.close();
    }
    expect(every[0].cancelled).toBe(true);
  });

  it('a public-key-mode merchant refused GET /v3/certificates: logged once, tried again only on schedule, keeps verifying', async () => {
    const dir = tempDir();
    const registry = load(writeRegistry(dir, [simMerchant(dir, PUBKEY)]));
    const { timers, every } = manualTimers();
    const { log, warnings } = recordingLog();
    const gateways = createMerchantGateways(registry, { log, timers });
    try {
      const gateway = gateways.forMerchant(PUBKEY);
      expect(every.map((t) => t.ms)).toEqual([12 * 3_600_000]);
      const before = (await certificateCalls()).total;

      every[0].fn();
      await until(() => warnings.length === 1);
      expect(warnings[0]).toContain(`merchants[${PUBKEY}]: GET /v3/certificates answered 403`);

      every[0].fn();
      await until(async () => (await certificateCalls()).total === before + 2);
      // No loop: nothing more until the next scheduled run, and the refusal is not logged again.
      await new Promise((r) => setTimeout(r, 300));
      expect((await certificateCalls()).total).toBe(before + 2);
      expect(warnings).toHaveLength(1);

      // Replies signed with the WeChat Pay public key still verify.
      const order = await paidOrder(sim, { mchid: PUBKEY });
      await expect(
        gateway.createRefund({
          outRefundNo: 'R-POOL-PUBKEY',
          outTradeNo: order.outTradeNo,
          refundFen: 10,
          totalFen: order.totalFen,
        }),
      ).resolves.toMatchObject({ status: 'PROCESSING' });
    } finally {
      await gateways.close();
    }
  });

  it('schedules nothing when certificateRefreshHours is 0, and close() cancels every timer', async () => {
    const dir = tempDir();
    const registry = load(
      writeRegistry(dir, [
        simMerchant(dir, DIRECT, { certificateRefreshHours: 0 }, { default: true }),
        simMerchant(dir, PUBKEY),
      ]),
    );
    const { timers, every } = manualTimers();
    const gateways = createMerchantGateways(registry, { log: recordingLog().log, timers });
    gateways.forMerchant();
    expect(every).toHaveLength(0);
    gateways.forMerchant(PUBKEY);
    expect(every).toHaveLength(1);
    await gateways.close();
    expect(every.every((t) => t.cancelled)).toBe(true);
    expect(() => gateways.forMerchant()).toThrow(/closed/);
  });
});
