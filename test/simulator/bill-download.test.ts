/**
 * The gateways' bill download (RefundGateway.downloadRefundBill, §12) end to end against the simulator: the real v3
 * gateway (tradebill → signed download of download_url → gunzip → SHA1 against hash_value) and the real v2 gateway
 * (/pay/downloadbill, gzip), for direct and partner merchants, with refunds made through the API and in the portal;
 * a bill that is not ready yet or missing, and a corrupted download that is refused and then fetched again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SimulatorHandle } from '../../src/simulator/server';
import { NeedsOperator, RetrySame } from '../../src/wechatpay/errors';
import type { RefundGateway } from '../../src/wechatpay/gateway';
import {
  at,
  beijingDay,
  DIRECT,
  freshBillDay,
  nextDay,
  paidOrder,
  PROVIDER,
  shareSimulator,
  SUB,
  v2Gateway,
  v3Gateway,
} from './support';

let sim: SimulatorHandle;
shareSimulator((s) => (sim = s));

const HOUR = 3600_000;
/** Each test takes a day of its own: 09:00 Beijing of the next fresh day. */
const freshDay = () => freshBillDay(sim, '09:00:00');

/** When WeChat publishes the bill of `day` (§12.1): 10:00 Beijing time the next day; a minute later to be safe. */
async function billPublished(day: string): Promise<void> {
  await sim.admin.advance({ to: at(nextDay(day), '10:01:00') });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bill-download-'));
});

let counter = 0;
const refundNo = (tag: string) => `RBD${tag}${Date.now().toString(36)}${++counter}`;

async function refundThrough(gateway: RefundGateway, opts: { mchid?: string; subMchid?: string } = {}) {
  const order = await paidOrder(sim, { mchid: opts.mchid ?? DIRECT, subMchid: opts.subMchid, totalFen: 10_000 });
  const outRefundNo = refundNo('A');
  await gateway.createRefund({
    outRefundNo,
    outTradeNo: order.outTradeNo,
    refundFen: 1234,
    totalFen: order.totalFen,
    subMchid: opts.subMchid,
  });
  return outRefundNo;
}

async function portalRefund(opts: { mchid?: string; subMchid?: string } = {}) {
  const order = await paidOrder(sim, { mchid: opts.mchid ?? DIRECT, subMchid: opts.subMchid, totalFen: 5_000 });
  const outRefundNo = refundNo('P');
  await sim.admin.portalRefund({
    mchid: opts.mchid ?? DIRECT,
    subMchid: opts.subMchid,
    outTradeNo: order.outTradeNo,
    outRefundNo,
    refundFen: 1,
  });
  return outRefundNo;
}

/** The detail row naming `outRefundNo` (every field starts with a backtick, §12.3), or undefined. */
function rowOf(text: string, outRefundNo: string): string | undefined {
  return text.split(/\r?\n/).find((line) => line.split(',').includes(`\`${outRefundNo}`));
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

async function rejection(p: Promise<unknown>): Promise<RetrySame> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RetrySame)) throw new Error(`expected RetrySame, got ${String(e)}`);
  return e;
}

describe('downloadRefundBill against the simulator', () => {
  it('v3 and v2: not ready before 10:00 the next day, then the day’s bill with API and portal refunds', async () => {
    const day = await freshDay();
    const v3 = v3Gateway(sim);
    const v2 = v2Gateway(sim);
    const viaApi = await refundThrough(v3);
    const viaPortal = await portalRefund();

    const early = path.join(dir, 'early.csv');
    await sim.admin.advance({ to: at(nextDay(day), '09:59:00') });
    expect(await rejection(v3.downloadRefundBill({ billDate: day, destFile: early }))).toMatchObject({
      code: 'BILL_NOT_READY',
    });
    expect(await rejection(v2.downloadRefundBill({ billDate: day, destFile: early }))).toMatchObject({
      code: 'BILL_NOT_READY',
    });
    expect(existsSync(early)).toBe(false);

    await billPublished(day);
    const v3File = path.join(dir, 'v3.csv');
    const v3Bill = await v3.downloadRefundBill({ billDate: day, destFile: v3File });
    const v3Bytes = readFileSync(v3File);
    expect(v3Bill).toEqual({ path: v3File, sha1: sha1(v3Bytes), bytes: v3Bytes.length, apiVersion: 'v3' });
    const v3Text = v3Bytes.toString('utf8');
    expect(v3Text.startsWith('交易时间')).toBe(true);
    expect(rowOf(v3Text, viaApi)).toContain('`12.34');
    expect(rowOf(v3Text, viaPortal)).toContain('`0.01');

    const v2File = path.join(dir, 'v2.csv');
    const v2Bill = await v2.downloadRefundBill({ billDate: day, destFile: v2File });
    const v2Bytes = readFileSync(v2File);
    expect(v2Bill).toEqual({ path: v2File, sha1: sha1(v2Bytes), bytes: v2Bytes.length, apiVersion: 'v2' });
    const v2Text = v2Bytes.toString('utf8');
    expect(rowOf(v2Text, viaApi)).toContain('`12.34');
    expect(rowOf(v2Text, viaPortal)).toContain('`0.01');

    // The bill is a snapshot (§12.3): asking again gives the same file.
    const again = await v3.downloadRefundBill({ billDate: day, destFile: path.join(dir, 'again.csv') });
    expect(again.sha1).toBe(v3Bill.sha1);
  });

  it('v3: a download that does not match hash_value is refused (BILL_HASH_MISMATCH); the next attempt succeeds', async () => {
    const day = await freshDay();
    const v3 = v3Gateway(sim);
    const outRefundNo = await refundThrough(v3);
    await billPublished(day);
    await sim.admin.addBillFault({ kind: 'CORRUPT', mchid: DIRECT, billDate: day, times: 1 });

    const dest = path.join(dir, 'bill.csv');
    const refused = await rejection(v3.downloadRefundBill({ billDate: day, destFile: dest }));
    expect(refused).toMatchObject({ code: 'BILL_HASH_MISMATCH' });
    expect(existsSync(dest)).toBe(false);

    const bill = await v3.downloadRefundBill({ billDate: day, destFile: dest });
    expect(bill.sha1).toBe(sha1(readFileSync(dest)));
    expect(rowOf(readFileSync(dest, 'utf8'), outRefundNo)).toBeDefined();
  });

  it('v3 and v2: a missing bill is BILL_NOT_READY (WeChat does not tell "late" from "never")', async () => {
    const day = await freshDay();
    const v3 = v3Gateway(sim);
    await refundThrough(v3);
    await billPublished(day);
    await sim.admin.addBillFault({ kind: 'MISSING', mchid: DIRECT, billDate: day });
    const dest = path.join(dir, 'missing.csv');
    expect(await rejection(v3.downloadRefundBill({ billDate: day, destFile: dest }))).toMatchObject({
      code: 'BILL_NOT_READY',
    });
    expect(await rejection(v2Gateway(sim).downloadRefundBill({ billDate: day, destFile: dest }))).toMatchObject({
      code: 'BILL_NOT_READY',
    });
    expect(existsSync(dest)).toBe(false);
  });

  it('a day older than WeChat keeps bills (about three months) is not "not ready": it goes to a human', async () => {
    const today = await freshDay();
    const old = beijingDay(Date.parse(at(today, '12:00:00')) - 120 * 24 * HOUR);
    for (const gateway of [v3Gateway(sim), v2Gateway(sim)]) {
      const e = await gateway.downloadRefundBill({ billDate: old, destFile: path.join(dir, 'old.csv') }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(NeedsOperator);
    }
  });

  it('partner mode: the sub-merchant’s bill, over v3 and v2, lists its refunds and not the direct merchant’s', async () => {
    const day = await freshDay();
    const direct = await refundThrough(v3Gateway(sim));
    const v3 = v3Gateway(sim, PROVIDER);
    const sub = await refundThrough(v3, { mchid: PROVIDER, subMchid: SUB });
    const subPortal = await portalRefund({ mchid: PROVIDER, subMchid: SUB });
    await billPublished(day);

    for (const [name, gateway] of [
      ['v3', v3],
      ['v2', v2Gateway(sim, PROVIDER)],
    ] as const) {
      const dest = path.join(dir, `${name}-sub.csv`);
      await gateway.downloadRefundBill({ billDate: day, subMchid: SUB, destFile: dest });
      const text = readFileSync(dest, 'utf8');
      expect(rowOf(text, sub)).toBeDefined();
      expect(rowOf(text, subPortal)).toBeDefined();
      expect(rowOf(text, direct)).toBeUndefined();
    }
  });
});
