/**
 * The webhook against WeChat's behaviour, end to end over real HTTP: the real refund workflow submits refunds to the
 * simulator (frozen clock, advanced on cue), which sends genuine v3 and v2 notifications, with faults on demand, to the
 * webhook; the webhook signals the workflow on the real Temporal dev server. Refusals must leave the refund untouched
 * (still PROCESSING, no signal); WeChat's genuine retry must then complete it.
 */
import { readFileSync } from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NotificationFaultInput } from '../../src/simulator/fault-schemas';
import type { SimulatorHandle } from '../../src/simulator/server';
import type { OrphanRecord } from '../../src/webhook/orphans';
import { statusQuery } from '../../src/workflows/definitions';
import { createDevServerEnv } from '../harness/temporal';
import {
  DEMO_DIRECT_MCHID,
  DEMO_PROVIDER_MCHID,
  DEMO_SUB_MCHID,
  createRefund,
  deliveryAttempts,
  signalsReceived,
  startFrozenSimulator,
  startRefundWorker,
  startWebhook,
  uniqueNos,
  v2Gateway,
  waitFor,
  v3Gateway,
  type WebhookUnderTest,
} from './helpers';

/** The simulator's balance refunds settle after 30 simulated seconds (§8.4 default). */
const SETTLE = { seconds: 30 };
/** WeChat's first retry comes 15 s after a failed delivery (§4.6). */
const FIRST_RETRY = { seconds: 15 };

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let webhook: WebhookUnderTest;
type RefundWorker = Awaited<ReturnType<typeof startRefundWorker>>;
let directV3: RefundWorker;
let partnerV3: RefundWorker;
let directV2: RefundWorker;

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startFrozenSimulator();
  webhook = await startWebhook(sim, env.client);
  const direct = { mchid: DEMO_DIRECT_MCHID };
  directV3 = await startRefundWorker(env, sim, v3Gateway(sim, DEMO_DIRECT_MCHID, webhook.baseUrl), direct);
  directV2 = await startRefundWorker(env, sim, v2Gateway(sim, DEMO_DIRECT_MCHID, webhook.baseUrl), direct);
  partnerV3 = await startRefundWorker(env, sim, v3Gateway(sim, DEMO_PROVIDER_MCHID, webhook.baseUrl), {
    mchid: DEMO_PROVIDER_MCHID,
    subMchid: DEMO_SUB_MCHID,
  });
}, 120_000);

afterAll(async () => {
  await Promise.all([directV3?.close(), directV2?.close(), partnerV3?.close()]);
  await webhook?.close();
  await sim?.close();
  await env?.teardown();
});

function rejections(reason: string): Promise<number> {
  return webhook.server.metrics.rejections
    .get()
    .then((m) => m.values.find((v) => v.labels.reason === reason)?.value ?? 0);
}

const stateOf = async (handle: WorkflowHandle) => (await handle.query(statusQuery)).state;

describe('genuine notifications complete refunds', () => {
  it('v3 (direct merchant): verified, decrypted, signalled to refund-<out_refund_no>, acknowledged with 200', async () => {
    const { outRefundNo, handle } = await directV3.start('v3ok');
    // The simulator has the create; the workflow records WeChat's answer in its next workflow task.
    await waitFor('the refund PROCESSING', async () => ((await stateOf(handle)) === 'PROCESSING' ? true : undefined));
    await sim.admin.advance(SETTLE);
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, state: 'SUCCESS', notifications: 1 });

    const view = await handle.query(statusQuery);
    // The notification carried the recipient account (the workflow keeps it); the webhook's logs must not (see below).
    expect(view.userReceivedAccount).toContain('零钱');
    expect(view.notifications).toEqual([expect.objectContaining({ status: 'SUCCESS', deliveries: 1 })]);
    const attempts = await deliveryAttempts(sim, outRefundNo);
    expect(attempts.map((a) => [a.format, a.statusCode, a.ok])).toEqual([['v3', 200, true]]);
    const line = webhook.logs.lines.find((l) => l.outRefundNo === outRefundNo && l.result === 'accepted');
    expect(line).toMatchObject({ apiVersion: 'v3', mchid: DEMO_DIRECT_MCHID, httpStatus: 200 });
    expect(line?.notificationId).toBe(view.notifications[0].notificationId);
    expect(line?.reqId).toEqual(expect.any(String));
  });

  it('v3 (service provider, not the default merchant): reaches refund-<mchid>.<sub_mchid>.<out_refund_no>', async () => {
    const { outRefundNo, handle } = await partnerV3.start('v3sp');
    expect(handle.workflowId).toBe(`refund-${DEMO_PROVIDER_MCHID}.${DEMO_SUB_MCHID}.${outRefundNo}`);
    await sim.admin.advance(SETTLE);
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, state: 'SUCCESS', notifications: 1 });
    expect(webhook.logs.lines.find((l) => l.outRefundNo === outRefundNo)).toMatchObject({
      mchid: DEMO_PROVIDER_MCHID,
      subMchid: DEMO_SUB_MCHID,
      result: 'accepted',
    });
  });

  it('v2 XML (req_info) on the v2 route: decrypted and signalled, answered with SUCCESS XML', async () => {
    const { outRefundNo, handle } = await directV2.start('v2ok');
    await sim.admin.advance(SETTLE);
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, state: 'SUCCESS', notifications: 1 });
    // The simulator only counts a v2 delivery as done when the reply XML says return_code=SUCCESS.
    expect((await deliveryAttempts(sim, outRefundNo)).map((a) => [a.format, a.statusCode, a.ok])).toEqual([
      ['v2', 200, true],
    ]);
  });

  it('v2 XML arriving at the v3 notify_url (§4.9) is recognised and handled', async () => {
    const { outRefundNo, handle } = await directV3.start('v2on3', {
      beforeCreate: (no) => sim.admin.addNotificationFault({ kind: 'V2_XML', outRefundNo: no }),
    });
    await sim.admin.advance(SETTLE);
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, state: 'SUCCESS' });
    expect((await deliveryAttempts(sim, outRefundNo)).map((a) => [a.format, a.ok])).toEqual([['v2', true]]);
    expect(webhook.logs.lines.find((l) => l.outRefundNo === outRefundNo)).toMatchObject({ apiVersion: 'v2' });
  });
});

describe('unverifiable notifications are refused and change nothing; WeChat’s genuine retry then succeeds', () => {
  const cases: Array<[NotificationFaultInput['kind'], number, string]> = [
    ['BAD_SIGNATURE', 401, 'BAD_SIGNATURE'],
    ['UNKNOWN_SERIAL', 401, 'UNKNOWN_SERIAL'],
    ['STALE_TIMESTAMP', 401, 'STALE_TIMESTAMP'],
    ['SIGNTEST', 401, 'SIGNTEST_PROBE'],
    // Signed correctly but the GCM tag is broken (F11): 5xx so WeChat retries, and an alert-level log line.
    ['UNDECRYPTABLE', 500, 'BAD_CIPHERTEXT'],
  ];

  it.each(cases)('%s → %i, refund untouched, retry accepted', async (kind, status, reason) => {
    const before = await rejections(reason);
    const { outRefundNo, handle } = await directV3.start(kind.slice(0, 6), {
      beforeCreate: (no) => sim.admin.addNotificationFault({ kind, outRefundNo: no, attempts: 1 }),
    });
    await sim.admin.advance(SETTLE);

    const [first] = await deliveryAttempts(sim, outRefundNo);
    expect(first).toMatchObject({ statusCode: status, ok: false });
    expect(JSON.parse(first.error!.replace(/^receiver answered \d+: /, ''))).toEqual({
      code: 'FAIL',
      message: expect.any(String),
    });
    expect(await signalsReceived(handle)).toBe(0);
    expect(await stateOf(handle)).toBe('PROCESSING');
    expect(await rejections(reason)).toBe(before + 1);

    await sim.admin.advance(FIRST_RETRY);
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, state: 'SUCCESS', notifications: 1 });
    expect((await deliveryAttempts(sim, outRefundNo)).map((a) => a.statusCode)).toEqual([status, 200]);
    expect(await signalsReceived(handle)).toBe(1);
  });

  it('logs a SIGNTEST probe at debug level only (not an attack, §4.8), forged ones at warn, undecryptable at error', () => {
    const levelOf = (reason: string) =>
      webhook.logs.lines.find((l) => l.reason === reason && typeof l.result === 'string')?.level;
    expect(levelOf('SIGNTEST_PROBE')).toBe(20);
    expect(levelOf('BAD_SIGNATURE')).toBe(40);
    expect(levelOf('BAD_CIPHERTEXT')).toBe(50);
  });
});

describe('duplicates', () => {
  it('the same notification delivered 5 times at once: five 200s, one signal, the refund completes once', async () => {
    const { outRefundNo, handle } = await directV3.start('dup5', {
      beforeCreate: (no) => sim.admin.addNotificationFault({ kind: 'DUPLICATE', copies: 5, outRefundNo: no }),
    });
    await sim.admin.advance(SETTLE);

    const attempts = await deliveryAttempts(sim, outRefundNo);
    expect(attempts).toHaveLength(5);
    expect(attempts.every((a) => a.statusCode === 200 && a.ok)).toBe(true);
    await expect(handle.result()).resolves.toMatchObject({ outRefundNo, state: 'SUCCESS' });
    expect(await signalsReceived(handle)).toBe(1);
    const results = webhook.logs.lines.filter((l) => l.outRefundNo === outRefundNo).map((l) => l.result);
    expect(results.filter((r) => r === 'accepted')).toHaveLength(1);
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(4);
    // Exactly one run of refund-<out_refund_no>, completed once.
    const runs = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(w);
    expect(runs.map((r) => r.status.name)).toEqual(['COMPLETED']);
  });
});

describe('orphans', () => {
  it('a genuine notification for an unknown out_refund_no is acknowledged and recorded for reconciliation', async () => {
    // A refund made outside this system (no workflow): e.g. by hand through the API with our notify_url.
    const nos = uniqueNos('orphan');
    await createRefund(sim, v3Gateway(sim, DEMO_DIRECT_MCHID, webhook.baseUrl), { mchid: DEMO_DIRECT_MCHID, ...nos });
    await sim.admin.advance(SETTLE);
    const [attempt] = await deliveryAttempts(sim, nos.outRefundNo);
    expect(attempt).toMatchObject({ statusCode: 200, ok: true });

    const records = readFileSync(webhook.orphanLogPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as OrphanRecord)
      .filter((r) => r.outRefundNo === nos.outRefundNo);
    const refund = await sim.admin.refund(nos.outRefundNo);
    expect(records).toEqual([
      expect.objectContaining({
        workflowId: `refund-${nos.outRefundNo}`,
        apiVersion: 'v3',
        mchid: DEMO_DIRECT_MCHID,
        outTradeNo: nos.outTradeNo,
        transactionId: refund.transactionId,
        refundId: refund.refundId,
        status: 'SUCCESS',
        amounts: expect.objectContaining({ refundFen: 300, totalFen: 1_000 }),
        notificationId: expect.any(String),
        requestId: expect.any(String),
      }),
    ]);
    expect(JSON.stringify(records)).not.toMatch(/userReceivedAccount|零钱/);
    expect(webhook.server.orphans.recent().some((r) => r.outRefundNo === nos.outRefundNo)).toBe(true);
    expect(webhook.logs.lines.find((l) => l.outRefundNo === nos.outRefundNo && l.result === 'orphaned')?.level).toBe(
      40,
    );
  });
});

describe('what the webhook never reveals', () => {
  it('no key and no recipient account text in any log line', () => {
    const text = webhook.logs.text();
    expect(webhook.logs.lines.length).toBeGreaterThan(20);
    for (const m of sim.manifest.merchants) {
      expect(text).not.toContain(m.apiV3Key);
      expect(text).not.toContain(m.apiV2Key);
    }
    // Balance refunds go back to 支付用户零钱: recipient account text is bank-detail class data, kept out of logs.
    expect(text).not.toContain('零钱');
    expect(text).not.toMatch(/userReceivedAccount|BEGIN [A-Z ]*PRIVATE KEY/);
  });
});
