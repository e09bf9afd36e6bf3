/**
 * Refund notifications (reference §4, §5.8, §8.5): delivered to a local receiver that verifies and decrypts them with
 * the project's own verifier; retried on WeChat's 15-step schedule on any non-2xx or timeout; every attempt recorded;
 * and every notification fault of §8.6 (dropped, duplicated, delayed, reordered, unverifiable, undecryptable, v2 XML).
 */
import type { SimulatorHandle } from '../../src/simulator/server';
import { WECHAT_RETRY_SCHEDULE_SECONDS } from '../../src/simulator/config';
import {
  DIRECT,
  PROVIDER,
  SUB,
  NotificationReceiver,
  closeGateways,
  paidOrder,
  startTestSimulator,
  v2Gateway,
  v3Gateway,
} from './support';

let sim: SimulatorHandle;
let receiver: NotificationReceiver;
let providerReceiver: NotificationReceiver;

beforeAll(async () => {
  sim = await startTestSimulator();
  const merchant = (mchid: string) => sim.manifest.merchants.find((m) => m.mchid === mchid)!;
  receiver = await new NotificationReceiver(sim.manifest, merchant(DIRECT)).start();
  providerReceiver = await new NotificationReceiver(sim.manifest, merchant(PROVIDER)).start();
});
afterAll(async () => {
  await closeGateways();
  await sim.close();
  await receiver.close();
  await providerReceiver.close();
});
beforeEach(async () => {
  await sim.admin.reset();
  receiver.clear();
  receiver.respond = undefined;
});

/** A balance refund that succeeds 30 s after creation, notifying `receiver`. */
async function refundWithNotification(outRefundNo: string, payer: Record<string, unknown> = {}) {
  const order = await paidOrder(sim, { payer });
  return v3Gateway(sim).createRefund({
    outRefundNo,
    outTradeNo: order.outTradeNo,
    refundFen: 250,
    totalFen: order.totalFen,
    notifyUrl: receiver.url,
  });
}

it('delivers a v3 notification that the project verifier accepts, and records the attempt', async () => {
  const created = await refundWithNotification('R-N1');
  await sim.admin.advance({ seconds: 30 });
  expect(receiver.received).toHaveLength(1);
  const [n] = receiver.verified();
  expect(n).toMatchObject({
    apiVersion: 'v3',
    mchid: DIRECT,
    outRefundNo: 'R-N1',
    refundId: created.refundId,
    status: 'SUCCESS',
    userReceivedAccount: '支付用户零钱',
    amounts: { refundFen: 250, totalFen: 10_000 },
  });
  expect(n.notificationId).toMatch(/^EV-/);
  expect(receiver.received[0].headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
  const [record] = await sim.admin.notifications({ outRefundNo: 'R-N1' });
  expect(record).toMatchObject({
    id: n.notificationId,
    state: 'DELIVERED',
    format: 'v3',
    status: 'SUCCESS',
    url: receiver.url,
  });
  expect(record.attempts).toEqual([
    expect.objectContaining({
      attempt: 1,
      statusCode: 200,
      ok: true,
      latencyMs: expect.any(Number),
      at: Date.parse(n.successTime!),
    }),
  ]);
});

it('retries on non-2xx on the 15 s / 15 s / 30 s … schedule with the same id, until a 2xx', async () => {
  let calls = 0;
  receiver.respond = () => (++calls <= 3 ? { status: 500, body: 'busy' } : undefined);
  await refundWithNotification('R-N2');
  await sim.admin.advance({ minutes: 10 });
  const [record] = await sim.admin.notifications({ outRefundNo: 'R-N2' });
  expect(record.state).toBe('DELIVERED');
  const offsets = record.attempts.map((a) => (a.at - record.attempts[0].at) / 1000);
  expect(offsets).toEqual([0, 15, 30, 60]);
  expect(record.attempts.slice(0, 3).map((a) => a.error)).toEqual(Array(3).fill('receiver answered 500: busy'));
  expect(new Set(receiver.verified().map((n) => n.notificationId)).size).toBe(1);
});

it('gives up after one delivery plus the 15 retries of WeChat’s schedule (24 h 04 min)', async () => {
  receiver.respond = () => ({ status: 503 });
  await refundWithNotification('R-N3');
  await sim.admin.advance({ hours: 25 });
  const [record] = await sim.admin.notifications({ outRefundNo: 'R-N3' });
  expect(record.state).toBe('ABANDONED');
  expect(record.attempts).toHaveLength(16);
  const offsets = record.attempts.map((a) => (a.at - record.attempts[0].at) / 1000);
  const expected = [0];
  for (const wait of WECHAT_RETRY_SCHEDULE_SECONDS) expected.push(expected[expected.length - 1] + wait);
  expect(offsets).toEqual(expected);
  expect(offsets[15]).toBe(24 * 3600 + 4 * 60);
});

it('treats a reply slower than the timeout as a failure and retries', async () => {
  await sim.admin.patchSettings({ notifications: { timeoutMs: 300 } });
  let calls = 0;
  receiver.respond = () => (++calls === 1 ? { status: 200, delayMs: 800 } : undefined);
  await refundWithNotification('R-N4');
  await sim.admin.advance({ seconds: 60 });
  const [record] = await sim.admin.notifications({ outRefundNo: 'R-N4' });
  expect(record.attempts[0]).toMatchObject({ ok: false, error: 'no reply within 300 ms' });
  expect(record.state).toBe('DELIVERED');
  expect(record.attempts).toHaveLength(2);
});

it('notifies every transition: ABNORMAL, then SUCCESS after abnormal handling', async () => {
  const created = await refundWithNotification('R-N5', {
    bankType: 'CCB_DEBIT',
    cardState: 'CANCELLED',
    balanceAccount: 'CLOSED',
  });
  await sim.admin.forceOutcome('R-N5', { status: 'ABNORMAL' });
  await sim.admin.advance({ seconds: 1 });
  await v3Gateway(sim).applyAbnormalRefund({
    refundId: created.refundId!,
    outRefundNo: 'R-N5',
    type: 'MERCHANT_BANK_CARD',
  });
  await sim.admin.advance({ days: 14 });
  expect(receiver.verified().map((n) => n.status)).toEqual(['ABNORMAL', 'SUCCESS']);
});

it('partner mode: the resource names sp_mchid and sub_mchid', async () => {
  const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
  await v3Gateway(sim, PROVIDER).createRefund({
    outRefundNo: 'R-N-SP',
    outTradeNo: order.outTradeNo,
    subMchid: SUB,
    refundFen: 1,
    totalFen: order.totalFen,
    notifyUrl: providerReceiver.url,
  });
  await sim.admin.advance({ minutes: 1 });
  expect(providerReceiver.verified()).toEqual([
    expect.objectContaining({ mchid: PROVIDER, subMchid: SUB, outRefundNo: 'R-N-SP' }),
  ]);
});

describe('v2 XML notifications (req_info)', () => {
  it('notifies a v2 refund in XML that the project decoder decrypts', async () => {
    const order = await paidOrder(sim);
    await v2Gateway(sim).createRefund({
      outRefundNo: 'R-N-V2',
      outTradeNo: order.outTradeNo,
      refundFen: 300,
      totalFen: order.totalFen,
      notifyUrl: receiver.url,
    });
    await sim.admin.advance({ minutes: 1 });
    expect(receiver.received[0].headers['content-type']).toContain('xml');
    expect(receiver.verified()).toEqual([
      expect.objectContaining({
        apiVersion: 'v2',
        mchid: DIRECT,
        outRefundNo: 'R-N-V2',
        status: 'SUCCESS',
        amounts: expect.objectContaining({ refundFen: 300 }),
      }),
    ]);
    expect((await sim.admin.notifications({ outRefundNo: 'R-N-V2' }))[0]).toMatchObject({
      format: 'v2',
      state: 'DELIVERED',
    });
  });

  it('sends v2 XML to the portal URL for a v3 refund created without notify_url (§4.9)', async () => {
    await sim.admin.patchMerchant(DIRECT, { portalNotifyUrl: receiver.url });
    const order = await paidOrder(sim);
    await v3Gateway(sim).createRefund({
      outRefundNo: 'R-N-PORTAL',
      outTradeNo: order.outTradeNo,
      refundFen: 5,
      totalFen: order.totalFen,
    });
    await sim.admin.advance({ minutes: 1 });
    expect(receiver.verified()).toEqual([expect.objectContaining({ apiVersion: 'v2', outRefundNo: 'R-N-PORTAL' })]);
    await sim.admin.patchMerchant(DIRECT, { portalNotifyUrl: null });
  });

  it('records NO_URL when there is neither notify_url nor a portal URL', async () => {
    const order = await paidOrder(sim);
    await v3Gateway(sim).createRefund({
      outRefundNo: 'R-N-NOURL',
      outTradeNo: order.outTradeNo,
      refundFen: 5,
      totalFen: order.totalFen,
    });
    await sim.admin.advance({ minutes: 1 });
    expect((await sim.admin.notifications({ outRefundNo: 'R-N-NOURL' }))[0]).toMatchObject({
      state: 'NO_URL',
      attempts: [],
    });
  });
});

describe('notification faults', () => {
  it('DROP: nothing is ever sent; the refund is still SUCCESS for a poller', async () => {
    await sim.admin.addNotificationFault({ kind: 'DROP', outRefundNo: 'R-F-DROP' });
    await refundWithNotification('R-F-DROP');
    await sim.admin.advance({ hours: 30 });
    expect(receiver.received).toHaveLength(0);
    expect((await sim.admin.notifications({ outRefundNo: 'R-F-DROP' }))[0]).toMatchObject({
      state: 'DROPPED',
      faults: ['DROP'],
    });
    expect((await v3Gateway(sim).queryRefund({ outRefundNo: 'R-F-DROP' }))?.status).toBe('SUCCESS');
  });

  it('DUPLICATE: the same notification (same id) arrives several times at once', async () => {
    await sim.admin.addNotificationFault({ kind: 'DUPLICATE', copies: 3, times: 1 });
    await refundWithNotification('R-F-DUP');
    await sim.admin.advance({ seconds: 30 });
    const ids = receiver.verified().map((n) => n.notificationId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
  });

  it('DELAY: the first delivery comes late', async () => {
    await sim.admin.addNotificationFault({ kind: 'DELAY', delaySeconds: 7200 });
    await refundWithNotification('R-F-DELAY');
    await sim.admin.advance({ minutes: 119 });
    expect(receiver.received).toHaveLength(0);
    await sim.admin.advance({ minutes: 2 });
    expect(receiver.verified()).toHaveLength(1);
  });

  it('REORDER: an ABNORMAL notification arrives after the SUCCESS that followed it', async () => {
    await sim.admin.addNotificationFault({ kind: 'REORDER', status: 'ABNORMAL', delaySeconds: 30 * 86_400 });
    const created = await refundWithNotification('R-F-ORDER', {
      bankType: 'CCB_DEBIT',
      cardState: 'CANCELLED',
      balanceAccount: 'CLOSED',
    });
    await sim.admin.forceOutcome('R-F-ORDER', { status: 'ABNORMAL' });
    await sim.admin.advance({ seconds: 1 });
    expect(receiver.received).toHaveLength(0);
    await v3Gateway(sim).applyAbnormalRefund({
      refundId: created.refundId!,
      outRefundNo: 'R-F-ORDER',
      type: 'MERCHANT_BANK_CARD',
    });
    await sim.admin.advance({ days: 14 });
    expect(receiver.verified().map((n) => n.status)).toEqual(['SUCCESS', 'ABNORMAL']);
  });

  it.each([
    ['BAD_SIGNATURE', 'BAD_SIGNATURE'],
    ['STALE_TIMESTAMP', 'STALE_TIMESTAMP'],
    ['SIGNTEST', 'SIGNTEST_PROBE'],
    ['UNKNOWN_SERIAL', 'UNKNOWN_SERIAL'],
    ['UNDECRYPTABLE', 'BAD_CIPHERTEXT'],
  ] as const)(
    '%s: the verifier rejects the first attempt (%s); the retry is genuine and accepted',
    async (kind, reason) => {
      await sim.admin.addNotificationFault({ kind, attempts: 1 });
      await refundWithNotification(`R-F-${kind}`);
      await sim.admin.advance({ minutes: 1 });
      expect(receiver.received).toHaveLength(2);
      expect(receiver.received[0].rejected).toMatch(new RegExp(`^${reason}`));
      expect(receiver.received[1].notification).toMatchObject({ outRefundNo: `R-F-${kind}`, status: 'SUCCESS' });
      const [record] = await sim.admin.notifications({ outRefundNo: `R-F-${kind}` });
      expect(record.attempts.map((a) => [a.faults, a.ok])).toEqual([
        [[kind], false],
        [[], true],
      ]);
    },
  );

  it('V2_XML: a v3 refund is notified in v2 XML (the receiver must cope)', async () => {
    await sim.admin.addNotificationFault({ kind: 'V2_XML' });
    await refundWithNotification('R-F-XML');
    await sim.admin.advance({ seconds: 30 });
    expect(receiver.verified()).toEqual([expect.objectContaining({ apiVersion: 'v2', outRefundNo: 'R-F-XML' })]);
  });

  it('faults select by refund number and are seeded: probability 0.5 hits the same notifications on every run', async () => {
    async function run() {
      await sim.admin.reset();
      receiver.clear();
      await sim.admin.addNotificationFault({ kind: 'DROP', probability: 0.5 });
      for (let i = 0; i < 8; i++) await refundWithNotification(`R-F-P${i}`);
      await sim.admin.advance({ minutes: 1 });
      return (await sim.admin.notifications()).map((n) => `${n.outRefundNo}:${n.state}`).sort();
    }
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first.some((s) => s.endsWith('DROPPED'))).toBe(true);
    expect(first.some((s) => s.endsWith('DELIVERED'))).toBe(true);
  });
});
