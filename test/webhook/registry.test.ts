/**
 * One webhook for several merchants, from the merchant registry the worker reads (docs/merchants.md), over real HTTP:
 * the simulator (frozen clock) sends genuine notifications, the webhook verifies them with each merchant's keys from
 * the registry file and the gateway pool's keyrings, and signals stand-in workflows on the Temporal dev server.
 *
 * - each notification reaches its own merchant's workflow ID (the default merchant keeps `refund-<no>`);
 * - one merchant's missing key file fails only its own notifications, until the file is there;
 * - a registry reload adds a merchant without a restart;
 * - a notification signed by a platform certificate the webhook has never seen (none configured, or WeChat rotated
 *   its certificate) is verified after one download, through the gateway pool's keyring.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createMerchantGateways } from '../../src/merchants/gateway-pool';
import { loadRegistryFile } from '../../src/merchants/registry';
import { watchRegistry, type RegistryWatch } from '../../src/merchants/registry-watch';
import type { SimulatorHandle } from '../../src/simulator/server';
import { registryDirectory } from '../../src/webhook/registry-verifiers';
import { notifyUrl } from '../../src/webhook/server';
import { createDevServerEnv } from '../harness/temporal';
import {
  DEMO_DIRECT_MCHID,
  DEMO_PROVIDER_MCHID,
  DEMO_SUB_MCHID,
  createRefund,
  deliveryAttempts,
  startFrozenSimulator,
  startStandInWorker,
  startWebhook,
  uniqueNos,
  v3Gateway,
  waitFor,
} from './helpers';
import { merchantKeyFile, writeRegistryFile, type RegistryMerchantSpec } from './registry-fixture';

jest.setTimeout(120_000);

/** The simulator's balance refunds settle after 30 simulated seconds; WeChat retries 15 s after a failure (§4.6). */
const SETTLE = { seconds: 30 };
const FIRST_RETRY = { seconds: 15 };

const DEFAULT: RegistryMerchantSpec = { mchid: DEMO_DIRECT_MCHID, default: true };
const PARTNER: RegistryMerchantSpec = { mchid: DEMO_PROVIDER_MCHID, subMchids: [DEMO_SUB_MCHID] };

let env: TestWorkflowEnvironment;
let standIn: Awaited<ReturnType<typeof startStandInWorker>>;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'webhook-registry-'));
  env = await createDevServerEnv();
  standIn = await startStandInWorker(env);
});

afterAll(async () => {
  await standIn?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** A frozen simulator writing its keys under `dir`, and the webhook reading a registry file that names them. */
async function stackWith(
  name: string,
  merchants: RegistryMerchantSpec[],
  simulator: Parameters<typeof startFrozenSimulator>[0] = {},
) {
  const keysDir = path.join(dir, name, 'keys');
  const sim = await startFrozenSimulator({ ...simulator, keysDir });
  const registryFile = writeRegistryFile(path.join(dir, name, 'merchants.json'), sim.manifest, keysDir, merchants);
  const gateways = createMerchantGateways(loadRegistryFile(registryFile), { log: { info() {}, warn() {} } });
  const webhook = await startWebhook(sim, env.client, {}, registryDirectory(gateways));
  return {
    sim,
    keysDir,
    registryFile,
    gateways,
    webhook,
    async close() {
      await webhook.close();
      await gateways.close();
      await sim.close();
    },
  };
}

type Stack = Awaited<ReturnType<typeof stackWith>>;

/** A refund of `mchid` at the simulator whose notification goes to the webhook; its number. */
async function refundOf(stack: Stack, tag: string, mchid: string, subMchid?: string, url?: string) {
  const nos = uniqueNos(tag);
  const gateway = v3Gateway(stack.sim, mchid, stack.webhook.baseUrl);
  await createRefund(stack.sim, gateway, { mchid, subMchid, ...nos, notifyUrl: url });
  return nos;
}

async function statusesOf(sim: SimulatorHandle, outRefundNo: string, count = 1): Promise<number[]> {
  return waitFor(`${count} delivery attempt(s) for ${outRefundNo}`, async () => {
    const codes = (await deliveryAttempts(sim, outRefundNo)).map((a) => a.statusCode ?? 0);
    return codes.length >= count ? codes : undefined;
  });
}

describe('two merchants in one webhook, from the registry', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await stackWith('two', [DEFAULT, PARTNER]);
  });
  afterAll(() => stack?.close());

  it("signals each notification to its own merchant's workflow ID", async () => {
    const partner = await refundOf(stack, 'rgp', DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID);
    // The default merchant's notify_url may name no merchant: the registry's default is served there.
    const direct = await refundOf(stack, 'rgd', DEMO_DIRECT_MCHID, undefined, notifyUrl(stack.webhook.baseUrl, 'v3'));
    const partnerWaiter = await standIn.startWaiterAt(
      `refund-${DEMO_PROVIDER_MCHID}.${DEMO_SUB_MCHID}.${partner.outRefundNo}`,
    );
    const directWaiter = await standIn.startWaiterAt(`refund-${direct.outRefundNo}`);

    await stack.sim.admin.advance(SETTLE);
    await expect(partnerWaiter.result()).resolves.toMatchObject({
      outRefundNo: partner.outRefundNo,
      mchid: DEMO_PROVIDER_MCHID,
      subMchid: DEMO_SUB_MCHID,
      status: 'SUCCESS',
    });
    await expect(directWaiter.result()).resolves.toMatchObject({ outRefundNo: direct.outRefundNo, status: 'SUCCESS' });
    expect(await statusesOf(stack.sim, partner.outRefundNo)).toEqual([200]);
    expect(await statusesOf(stack.sim, direct.outRefundNo)).toEqual([200]);
  });

  it("records an orphan of a non-default merchant under that merchant's workflow ID", async () => {
    const nos = await refundOf(stack, 'rgo', DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID);
    await stack.sim.admin.advance(SETTLE);
    const orphan = await waitFor('orphan record', async () =>
      stack.webhook.server.orphans.recent().find((o) => o.outRefundNo === nos.outRefundNo),
    );
    expect(orphan).toMatchObject({
      mchid: DEMO_PROVIDER_MCHID,
      subMchid: DEMO_SUB_MCHID,
      workflowId: `refund-${DEMO_PROVIDER_MCHID}.${DEMO_SUB_MCHID}.${nos.outRefundNo}`,
    });
  });
});

describe('a merchant whose key file is missing', () => {
  let stack: Stack;
  let missingKey: string;
  beforeAll(async () => {
    missingKey = path.join(dir, 'broken', 'secrets', 'partner-apiv3.key');
    stack = await stackWith('broken', [DEFAULT, { ...PARTNER, apiV3KeyFile: missingKey }]);
  });
  afterAll(() => stack?.close());

  it('fails only its own notifications (WeChat retries), and verifies again once the file is there', async () => {
    const partner = await refundOf(stack, 'rbp', DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID);
    const direct = await refundOf(stack, 'rbd', DEMO_DIRECT_MCHID);
    const partnerWaiter = await standIn.startWaiterAt(
      `refund-${DEMO_PROVIDER_MCHID}.${DEMO_SUB_MCHID}.${partner.outRefundNo}`,
    );
    const directWaiter = await standIn.startWaiterAt(`refund-${direct.outRefundNo}`);

    await stack.sim.admin.advance(SETTLE);
    await expect(directWaiter.result()).resolves.toMatchObject({ outRefundNo: direct.outRefundNo });
    expect(await statusesOf(stack.sim, partner.outRefundNo)).toEqual([500]);
    const logged = stack.webhook.logs.lines.find((l) => l.msg === 'merchant credentials unavailable');
    expect(logged).toMatchObject({
      mchid: DEMO_PROVIDER_MCHID,
      setting: `merchants[${DEMO_PROVIDER_MCHID}].v3.apiV3Key`,
    });
    // The key's path may be logged (configuration), its content never: it is not even there yet.

    mkdirSync(path.dirname(missingKey), { recursive: true });
    copyFileSync(merchantKeyFile(stack.keysDir, DEMO_PROVIDER_MCHID, 'apiv3_key.txt'), missingKey);
    await stack.sim.admin.advance(FIRST_RETRY);
    await expect(partnerWaiter.result()).resolves.toMatchObject({ outRefundNo: partner.outRefundNo });
    expect(await statusesOf(stack.sim, partner.outRefundNo, 2)).toEqual([500, 200]);
  });
});

describe('a registry reload', () => {
  let stack: Stack;
  let watching: RegistryWatch;
  const reloaded: string[][] = [];
  beforeAll(async () => {
    stack = await stackWith('reload', [DEFAULT]);
    watching = watchRegistry(stack.registryFile, {
      load: () => loadRegistryFile(stack.registryFile),
      debounceMs: 50,
      onReload: (next) => reloaded.push(stack.gateways.replaceRegistry(next).added),
      onError: (err) => {
        throw err;
      },
    });
  });
  afterAll(async () => {
    watching?.close();
    await stack?.close();
  });

  it('picks up a new merchant without a restart', async () => {
    const nos = await refundOf(stack, 'rrp', DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID);
    const waiter = await standIn.startWaiterAt(`refund-${DEMO_PROVIDER_MCHID}.${DEMO_SUB_MCHID}.${nos.outRefundNo}`);
    await stack.sim.admin.advance(SETTLE);
    expect(await statusesOf(stack.sim, nos.outRefundNo)).toEqual([404]); // not (yet) one of ours

    writeRegistryFile(stack.registryFile, stack.sim.manifest, stack.keysDir, [DEFAULT, PARTNER]);
    await waitFor('registry reloaded', async () => (reloaded.length > 0 ? true : undefined));
    expect(reloaded).toEqual([[DEMO_PROVIDER_MCHID]]);

    await stack.sim.admin.advance(FIRST_RETRY);
    await expect(waiter.result()).resolves.toMatchObject({ outRefundNo: nos.outRefundNo, status: 'SUCCESS' });
    expect(await statusesOf(stack.sim, nos.outRefundNo, 2)).toEqual([404, 200]);
  });
});

describe('a platform certificate the webhook has never seen', () => {
  // Certificate mode: every notification names a platform certificate serial (never a public key).
  const certificateMode = { wechat: { signWith: 'certificate' as const } };
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  async function downloads(s: Stack): Promise<number> {
    return (await s.sim.admin.calls())['v3.certificates']?.total ?? 0;
  }

  async function notifiedOnce(s: Stack, tag: string): Promise<void> {
    const nos = await refundOf(s, tag, DEMO_DIRECT_MCHID);
    const waiter = await standIn.startWaiterAt(`refund-${nos.outRefundNo}`);
    await s.sim.admin.advance(SETTLE);
    await expect(waiter.result()).resolves.toMatchObject({ outRefundNo: nos.outRefundNo });
    expect(await statusesOf(s.sim, nos.outRefundNo)).toEqual([200]);
  }

  it('none configured: the first notification is verified after one certificate download', async () => {
    stack = await stackWith('unseen', [{ ...DEFAULT, noWechatKeys: true }], certificateMode);
    expect(stack.gateways.keyringOf(DEMO_DIRECT_MCHID)?.list()).toEqual([]);
    await notifiedOnce(stack, 'rcu');
    expect(await downloads(stack)).toBe(1);
  });

  it('WeChat rotated its certificate: verified after one download, and the next needs none', async () => {
    stack = await stackWith('rotated', [DEFAULT], certificateMode);
    const rotation = await stack.sim.admin.rotatePlatformCertificate({ retireOld: true });
    expect(stack.gateways.keyringOf(DEMO_DIRECT_MCHID)?.has(rotation.serialNo)).toBe(false);
    await notifiedOnce(stack, 'rcr');
    expect(stack.gateways.keyringOf(DEMO_DIRECT_MCHID)?.has(rotation.serialNo)).toBe(true);
    await notifiedOnce(stack, 'rcs');
    expect(await downloads(stack)).toBe(1);
  });
});
