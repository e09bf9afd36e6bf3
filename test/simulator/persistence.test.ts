/**
 * State across restarts (config `stateFile`): a simulator stopped with refunds in flight and notifications pending
 * comes back on the same SQLite file with its orders, refunds, balances, notification retry state and virtual clock,
 * and carries on: the refund settles, its notification is delivered, new ids never repeat old ones. Admin reset clears
 * the file too.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SimulatorHandle } from '../../src/simulator/server';
import {
  DIRECT,
  NotificationReceiver,
  closeGateways,
  paidOrder,
  signedV3,
  startTestSimulator,
  v3Gateway,
} from './support';

let dir: string;
let receiver: NotificationReceiver | undefined;
const running: SimulatorHandle[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sim-state-'));
});
afterEach(async () => {
  await closeGateways();
  await Promise.all(running.splice(0).map((s) => s.close()));
  await receiver?.close();
  receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A simulator on the test's state file (and keys, so a restarted one keeps its identity). */
async function start(): Promise<SimulatorHandle> {
  const sim = await startTestSimulator({
    stateFile: path.join(dir, 'state', 'simulator.sqlite'),
    keysDir: path.join(dir, 'keys'),
  });
  running.push(sim);
  return sim;
}

async function stop(sim: SimulatorHandle): Promise<void> {
  await closeGateways();
  await sim.close();
  running.splice(running.indexOf(sim), 1);
}

async function startReceiver(sim: SimulatorHandle): Promise<NotificationReceiver> {
  const merchant = sim.manifest.merchants.find((m) => m.mchid === DIRECT)!;
  receiver = await new NotificationReceiver(sim.manifest, merchant).start();
  return receiver;
}

it('a refund PROCESSING at shutdown is found after a restart, reaches SUCCESS and is notified', async () => {
  const first = await start();
  const hook = await startReceiver(first);
  const order = await paidOrder(first);
  const created = await v3Gateway(first).createRefund({
    outRefundNo: 'R-PERSIST-1',
    outTradeNo: order.outTradeNo,
    refundFen: 300,
    totalFen: order.totalFen,
    notifyUrl: hook.url,
  });
  expect(created.status).toBe('PROCESSING');
  await first.admin.advance({ seconds: 10 }); // not yet due (balance refunds settle after 30 s)
  const clockAtStop = first.clock.now();
  const balanceAtStop = (await first.admin.merchants()).find((m) => m.mchid === DIRECT)!.balanceFen;
  await stop(first);
  expect(existsSync(path.join(dir, 'state', 'simulator.sqlite'))).toBe(true);

  const second = await start();
  // The clock resumes from where it was (not from the configured startTime, not from the wall clock).
  expect(second.clock.now()).toBe(clockAtStop);
  expect((await second.admin.merchants()).find((m) => m.mchid === DIRECT)!.balanceFen).toBe(balanceAtStop);
  const gw = v3Gateway(second);
  await expect(gw.queryRefund({ outRefundNo: 'R-PERSIST-1' })).resolves.toMatchObject({
    status: 'PROCESSING',
    refundId: created.refundId,
  });
  const stored = await second.admin.refund('R-PERSIST-1');
  expect(stored.nextTransitionAt).toBe(Date.parse('2026-03-02T10:00:30+08:00'));

  await second.admin.advance({ minutes: 1 });
  await expect(gw.queryRefund({ outRefundNo: 'R-PERSIST-1' })).resolves.toMatchObject({ status: 'SUCCESS' });
  expect(hook.verified()).toEqual([
    expect.objectContaining({ outRefundNo: 'R-PERSIST-1', refundId: created.refundId, status: 'SUCCESS' }),
  ]);
  const [notification] = await second.admin.notifications({ outRefundNo: 'R-PERSIST-1' });
  expect(notification).toMatchObject({ state: 'DELIVERED', attempts: [expect.objectContaining({ ok: true })] });
  expect((await second.admin.refund('R-PERSIST-1')).history.map((h) => h.status)).toEqual(['PROCESSING', 'SUCCESS']);

  // The order query sees the stored order, with its refund.
  const queried = await signedV3(second, {
    path: `/v3/pay/transactions/out-trade-no/${order.outTradeNo}?mchid=${DIRECT}`,
  });
  expect(queried.json).toMatchObject({ transaction_id: order.transactionId, trade_state: 'REFUND' });

  // New ids do not repeat the ones issued before the restart.
  const another = await paidOrder(second);
  expect(another.transactionId).not.toBe(order.transactionId);
  const next = await gw.createRefund({
    outRefundNo: 'R-PERSIST-2',
    outTradeNo: another.outTradeNo,
    refundFen: 100,
    totalFen: another.totalFen,
  });
  expect(next.refundId).not.toBe(created.refundId);
});

it('a notification waiting for its retry at shutdown is retried after the restart, with the same id', async () => {
  const first = await start();
  const hook = await startReceiver(first);
  hook.respond = () => ({ status: 500, body: 'busy' });
  const order = await paidOrder(first);
  await v3Gateway(first).createRefund({
    outRefundNo: 'R-PERSIST-RETRY',
    outTradeNo: order.outTradeNo,
    refundFen: 300,
    totalFen: order.totalFen,
    notifyUrl: hook.url,
  });
  await first.admin.advance({ seconds: 30 }); // SUCCESS; the first delivery fails
  const [before] = await first.admin.notifications({ outRefundNo: 'R-PERSIST-RETRY' });
  expect(before).toMatchObject({ state: 'SCHEDULED', attempts: [expect.objectContaining({ ok: false })] });
  await stop(first);

  hook.respond = undefined;
  hook.clear();
  const second = await start();
  const [restored] = await second.admin.notifications({ outRefundNo: 'R-PERSIST-RETRY' });
  expect(restored).toMatchObject({ id: before.id, state: 'SCHEDULED', nextAttemptAt: before.nextAttemptAt });
  await second.admin.advance({ seconds: 15 }); // WeChat's first retry step
  const [after] = await second.admin.notifications({ outRefundNo: 'R-PERSIST-RETRY' });
  expect(after).toMatchObject({ id: before.id, state: 'DELIVERED' });
  expect(after.attempts.map((a) => a.ok)).toEqual([false, true]);
  expect(hook.verified()).toEqual([expect.objectContaining({ outRefundNo: 'R-PERSIST-RETRY', status: 'SUCCESS' })]);
  // The same notification id as the failed attempt carried (the receiver deduplicates on it).
  expect(JSON.parse(hook.received[0].rawBody.toString()).id).toBe(before.id);
});

it('keeps balances and merchant settings; admin reset clears the stored state', async () => {
  const first = await start();
  await first.admin.patchMerchant(DIRECT, { balanceFen: 12_345, insufficientFunds: 'accept' });
  const order = await paidOrder(first);
  await stop(first);

  const second = await start();
  expect((await second.admin.merchants()).find((m) => m.mchid === DIRECT)).toMatchObject({
    balanceFen: 12_345,
    insufficientFunds: 'accept',
  });
  expect((await second.admin.orders()).map((o) => o.outTradeNo)).toEqual([order.outTradeNo]);
  await second.admin.reset();
  await stop(second);

  const third = await start();
  expect(await third.admin.orders()).toEqual([]);
  expect((await third.admin.merchants()).find((m) => m.mchid === DIRECT)!.balanceFen).toBe(1_000_000_00);
});

it('without stateFile nothing is written (the in-memory default)', async () => {
  const sim = await startTestSimulator({ keysDir: path.join(dir, 'keys') });
  running.push(sim);
  expect(sim.core.persistence).toBeUndefined();
  await paidOrder(sim);
  await stop(sim);
  expect(existsSync(path.join(dir, 'state'))).toBe(false);
});

it('refuses a second simulator on a state file in use', async () => {
  await start();
  await expect(start()).rejects.toThrow(/in use by another simulator/);
});
