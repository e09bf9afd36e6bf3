/**
 * Refund bills (docs/wechatpay-protocol.md §12): v3 GET /v3/bill/tradebill → signed GET download_url, and v2
 * POST /pay/downloadbill, checked byte for byte with the test's own reading of the file (no project parser): header
 * names per generation, a backtick before every detail and summary field, yuan with two decimals, a summary that is
 * the sum of the rows, gzip, SHA1 of the decompressed file = hash_value. Also: when a bill is ready (10:00 Beijing
 * the next day), missing and corrupted bills, a partner's bill, a refund made in the merchant portal, and snapshot
 * semantics (a row keeps the status it had when the bill was made).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { BillBook } from '../../src/simulator/bills/bill-book';
import { fenToYuan } from '../../src/simulator/bills/bill-format';
import type { SimulatorHandle } from '../../src/simulator/server';
import { verifyV3Signature } from '../../src/wechatpay/v3/sign';
import { signV2 } from '../../src/wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../../src/wechatpay/v2/xml';
import {
  at,
  beijingDay,
  DIRECT,
  freshBillDay,
  keyringFor,
  nextDay,
  paidOrder,
  PROVIDER,
  shareSimulator,
  signedV3,
  startTestSimulator,
  SUB,
} from './support';

let sim: SimulatorHandle;
shareSimulator((s) => (sim = s));

const REFUNDS = '/v3/refund/domestic/refunds';

// ---------------------------------------------------------------------------------------------------------------
// Time: the clock never goes back (reset keeps it), so every test works on a day of its own.
// ---------------------------------------------------------------------------------------------------------------

/** Each test takes a day of its own: 08:00 Beijing of the next fresh day. */
const freshDay = () => freshBillDay(sim, '08:00:00');

async function advanceTo(iso: string): Promise<void> {
  await sim.admin.advance({ to: iso });
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------

async function v3Refund(
  order: { outTradeNo: string; totalFen: number },
  outRefundNo: string,
  refundFen: number,
  as: { mchid?: string; subMchid?: string } = {},
): Promise<void> {
  const res = await signedV3(sim, {
    path: REFUNDS,
    mchid: as.mchid,
    body: JSON.stringify({
      ...(as.subMchid ? { sub_mchid: as.subMchid } : {}),
      out_trade_no: order.outTradeNo,
      out_refund_no: outRefundNo,
      amount: { refund: refundFen, total: order.totalFen, currency: 'CNY' },
    }),
  });
  expect(res.status).toBe(200);
}

function tradeBillPath(day: string, opts: { subMchid?: string; gzip?: boolean; billType?: string } = {}): string {
  const q = new URLSearchParams({ bill_date: day, bill_type: opts.billType ?? 'REFUND' });
  if (opts.gzip !== false) q.set('tar_type', 'GZIP');
  if (opts.subMchid) q.set('sub_mchid', opts.subMchid);
  return `/v3/bill/tradebill?${q.toString()}`;
}

function tradeBill(day: string, opts: { mchid?: string; subMchid?: string; gzip?: boolean; billType?: string } = {}) {
  return signedV3(sim, { path: tradeBillPath(day, opts), mchid: opts.mchid });
}

interface V3Download {
  hashValue: string;
  downloadUrl: string;
  /** The bytes as served. */
  served: Buffer;
  contentType: string;
  signatureHeader: unknown;
  /** Decompressed (when gzip). */
  file: Buffer;
}

/** tradebill (expecting 200), then the signed GET of download_url. */
async function downloadV3(
  day: string,
  opts: { mchid?: string; subMchid?: string; gzip?: boolean } = {},
): Promise<V3Download> {
  const meta = await tradeBill(day, opts);
  expect(meta.status).toBe(200);
  const { hash_type, hash_value, download_url } = meta.json as Record<string, string>;
  expect(hash_type).toBe('SHA1');
  expect(download_url.startsWith(`${sim.baseUrl}/v3/billdownload/file?token=`)).toBe(true);
  const url = new URL(download_url);
  const got = await signedV3(sim, { path: `${url.pathname}${url.search}`, mchid: opts.mchid });
  expect(got.status).toBe(200);
  const gzip = opts.gzip !== false;
  return {
    hashValue: hash_value,
    downloadUrl: download_url,
    served: got.raw,
    contentType: String(got.headers['content-type']),
    signatureHeader: got.headers['wechatpay-signature'],
    file: gzip ? gunzipSync(got.raw) : got.raw,
  };
}

/** POST /pay/downloadbill signed with the merchant's v2 key (no client certificate: /pay/* does not need one). */
async function downloadV2(
  day: string,
  opts: { mchid?: string; subMchid?: string; gzip?: boolean } = {},
): Promise<{ contentType: string; body: Buffer; xml?: Record<string, string> }> {
  const merchant = sim.manifest.merchants.find((m) => m.mchid === (opts.mchid ?? DIRECT))!;
  const fields: Record<string, string | undefined> = {
    appid: merchant.appid,
    mch_id: merchant.mchid,
    sub_mch_id: opts.subMchid,
    nonce_str: randomBytes(8).toString('hex'),
    bill_date: day.replace(/-/g, ''),
    bill_type: 'REFUND',
    ...(opts.gzip ? { tar_type: 'GZIP' } : {}),
  };
  fields.sign = signV2(fields, merchant.apiV2Key, 'MD5');
  const agent = new Agent({ connect: { ca: sim.manifest.caCertificatePem } });
  try {
    const res = await request(`${sim.v2BaseUrl}/pay/downloadbill`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'text/xml' },
      body: buildV2Xml(fields),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const contentType = String(res.headers['content-type']);
    return { contentType, body, ...(contentType.includes('xml') ? { xml: parseV2Xml(body.toString('utf8')) } : {}) };
  } finally {
    await agent.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The test's own reading of a bill file (§12.3), deliberately independent of src/reconciliation
// ---------------------------------------------------------------------------------------------------------------

interface ReadBill {
  header: string[];
  rows: Array<Record<string, string>>;
  summaryHeader: string[];
  summary: Record<string, string>;
}

function readBill(file: Buffer): ReadBill {
  const text = file.toString('utf8');
  expect(Buffer.from(text, 'utf8').equals(file)).toBe(true); // valid UTF-8
  expect(text.endsWith('\r\n')).toBe(true);
  const lines = text.slice(0, -2).split('\r\n');
  const header = lines[0].split(',');
  expect(header.every((h) => !h.startsWith('`'))).toBe(true);
  const s = lines.findIndex((l) => l.startsWith('总交易单数'));
  expect(s).toBe(lines.length - 2);
  const unticked = (line: string) =>
    line.split(',').map((f) => {
      expect(f.startsWith('`')).toBe(true);
      return f.slice(1);
    });
  const record = (names: string[], values: string[]) => {
    expect(values).toHaveLength(names.length);
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  };
  const summaryHeader = lines[s].split(',');
  return {
    header,
    rows: lines.slice(1, s).map((l) => record(header, unticked(l))),
    summaryHeader,
    summary: record(summaryHeader, unticked(lines[s + 1])),
  };
}

/** Yuan text with exactly two decimals → fen, by string arithmetic. */
function fen(yuan: string): number {
  expect(yuan).toMatch(/^\d+\.\d{2}$/);
  const [whole, cents] = yuan.split('.');
  return Number(whole) * 100 + Number(cents);
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

const V3_HEADER = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '退款申请时间',
  '退款成功时间',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
];

// ---------------------------------------------------------------------------------------------------------------

describe('the v3 refund bill file (§12.1, §12.3)', () => {
  it('is signed metadata, then an unsigned gzip file whose decompressed SHA1 is hash_value, in WeChat’s format', async () => {
    const day = await freshDay();
    const small = await paidOrder(sim, { totalFen: 100 });
    const big = await paidOrder(sim, { totalFen: 200_000 });
    await v3Refund(small, 'RB-SMALL', 1);
    await v3Refund(big, 'RB-BIG', 123_450);
    await advanceTo(at(nextDay(day), '10:00:00'));

    const meta = await tradeBill(day);
    expect(meta.status).toBe(200);
    // The metadata reply is signed like every v3 2xx (§3.3), with a key the merchant knows.
    const serial = String(meta.headers['wechatpay-serial']);
    const key = keyringFor(sim.manifest).get(serial);
    expect(key).toBeDefined();
    expect(
      verifyV3Signature({
        timestamp: String(meta.headers['wechatpay-timestamp']),
        nonce: String(meta.headers['wechatpay-nonce']),
        body: meta.raw,
        signature: String(meta.headers['wechatpay-signature']),
        publicKey: key!,
      }),
    ).toBe(true);

    const dl = await downloadV3(day);
    expect(dl.signatureHeader).toBeUndefined(); // the file is not signed: the hash is the check
    expect(dl.served.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip magic
    expect(dl.served.equals(dl.file)).toBe(false);
    expect(sha1(dl.file)).toBe(dl.hashValue);

    const bill = readBill(dl.file);
    expect(bill.header).toEqual(V3_HEADER);
    expect(bill.summaryHeader).toEqual([
      '总交易单数',
      '应结订单总金额',
      '退款总金额',
      '充值券退款总金额',
      '手续费总金额',
      '订单总金额',
      '申请退款总金额',
    ]);
    const byNo = Object.fromEntries(bill.rows.map((r) => [r['商户退款单号'], r]));
    expect(Object.keys(byNo).sort()).toEqual(['RB-BIG', 'RB-SMALL']);
    expect(byNo['RB-SMALL']).toMatchObject({
      商户号: DIRECT,
      特约商户号: '0',
      商户订单号: small.outTradeNo,
      微信订单号: small.transactionId,
      退款金额: '0.01',
      申请退款金额: '0.01',
      订单金额: '1.00',
      货币种类: 'CNY',
      退款状态: 'SUCCESS', // paid from the balance: settled 30 s after acceptance
      退款类型: 'ORIGINAL',
    });
    expect(byNo['RB-BIG']).toMatchObject({ 退款金额: '1234.50', 订单金额: '2000.00' });
    expect(byNo['RB-BIG']['退款申请时间']).toBe(`${day} 08:00:00`);
    expect(byNo['RB-BIG']['退款成功时间']).toBe(`${day} 08:00:30`);
    const refunds = await sim.admin.refunds();
    expect(byNo['RB-BIG']['微信退款单号']).toBe(refunds.find((r) => r.outRefundNo === 'RB-BIG')!.refundId);

    // The summary is the rows' own totals.
    expect(bill.summary['总交易单数']).toBe('2');
    expect(fen(bill.summary['退款总金额'])).toBe(bill.rows.reduce((s, r) => s + fen(r['退款金额']), 0));
    expect(fen(bill.summary['退款总金额'])).toBe(123_451);
    expect(fen(bill.summary['申请退款总金额'])).toBe(123_451);
    expect(fen(bill.summary['订单总金额'])).toBe(200_100);
  });

  it('serves the plain file without tar_type, with the same hash', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB-PLAIN', 250);
    await advanceTo(at(nextDay(day), '11:00:00'));
    const gz = await downloadV3(day);
    const plain = await downloadV3(day, { gzip: false });
    expect(plain.contentType).toContain('text/plain');
    expect(plain.served.equals(gz.file)).toBe(true);
    expect(plain.hashValue).toBe(gz.hashValue);
  });

  it('refuses the download without a merchant signature, with an unknown token, and for another merchant', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB-AUTH', 100);
    await advanceTo(at(nextDay(day), '10:30:00'));
    const meta = await tradeBill(day);
    const url = new URL(String(meta.json?.download_url));

    const unsigned = await request(url, { headers: { accept: '*/*', 'user-agent': 'test' } });
    await unsigned.body.dump();
    expect(unsigned.statusCode).toBe(401);

    const forged = await signedV3(sim, { path: '/v3/billdownload/file?token=not-a-token' });
    expect(forged.status).toBe(400);
    expect(forged.json).toMatchObject({ code: 'INVALID_REQUEST' });

    const other = await signedV3(sim, { path: `${url.pathname}${url.search}`, mchid: PROVIDER });
    expect(other.status).toBe(403);
    expect(other.json).toMatchObject({ code: 'NO_AUTH' });
  });

  it('lets a download_url expire after 30 s (real time)', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB-TTL', 100);
    await advanceTo(at(nextDay(day), '10:30:00'));
    let realNow = 1_000_000;
    const book = new BillBook(sim.core.store, sim.core.clock, sim.core.config.rules, () => realNow);
    const found = book.lookup({ mchid: DIRECT }, day);
    if (found.kind !== 'ready') throw new Error(`bill not ready: ${found.kind}`);
    const token = book.grantDownload(found.bill, DIRECT, false);
    realNow += 29_999;
    expect(book.redeem(token, DIRECT)).toMatchObject({ ok: true });
    realNow += 2;
    expect(book.redeem(token, DIRECT)).toMatchObject({ ok: false, status: 400, code: 'INVALID_REQUEST' });
  });

  it('answers PARAM_ERROR naming the field for a bad bill_date or a bill type it does not serve', async () => {
    const bad = await signedV3(sim, { path: '/v3/bill/tradebill?bill_date=2026-02-30&bill_type=REFUND' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/bill_date', location: 'query' } });
    const all = await tradeBill('2026-03-01', { billType: 'ALL' });
    expect(all.status).toBe(400);
    expect(all.json).toMatchObject({ code: 'PARAM_ERROR', detail: { field: '/bill_type' } });
  });
});

describe('the v2 refund bill (§12.2)', () => {
  it('is the file itself, in the v2 spelling, plain or gzip, with v2 status names', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB2-OK', 1000);
    await sim.admin.forceOutcome('RB2-CLOSED', { status: 'CLOSED', afterSeconds: 60 });
    await v3Refund(await paidOrder(sim), 'RB2-CLOSED', 2000);
    await advanceTo(at(nextDay(day), '10:00:00'));

    const plain = await downloadV2(day);
    expect(plain.contentType).toContain('text/plain');
    const gz = await downloadV2(day, { gzip: true });
    expect(gz.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);

    const bill = readBill(plain.body);
    expect(bill.header).toEqual(
      expect.arrayContaining(['子商户号', '总金额', '代金券或立减优惠金额', '代金券或立减优惠退款金额']),
    );
    expect(bill.header).not.toContain('特约商户号');
    expect(bill.header).not.toContain('申请退款金额');
    expect(bill.summaryHeader[0]).toBe('总交易单数');
    const status = Object.fromEntries(bill.rows.map((r) => [r['商户退款单号'], r['退款状态']]));
    expect(status).toEqual({ 'RB2-OK': 'SUCCESS', 'RB2-CLOSED': 'REFUNDCLOSE' });
    expect(fen(bill.summary['退款总金额'])).toBe(3000);

    // The v3 file of the same bill writes CLOSED.
    const v3 = readBill((await downloadV3(day)).file);
    expect(v3.rows.find((r) => r['商户退款单号'] === 'RB2-CLOSED')!['退款状态']).toBe('CLOSED');
  });
});

describe('when a bill exists (§12.1)', () => {
  it('is not ready before 10:00 Beijing time the next day, and is at 10:00', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB-READY', 100);

    const today = await tradeBill(day);
    expect(today.status).toBe(400);
    expect(today.json).toMatchObject({ code: 'NO_STATEMENT_EXIST' });

    await advanceTo(at(nextDay(day), '09:59:59'));
    const early = await tradeBill(day);
    expect(early.status).toBe(400);
    expect(early.json).toMatchObject({ code: 'STATEMENT_CREATING' });
    expect((await downloadV2(day)).xml).toMatchObject({ return_code: 'FAIL', return_msg: 'No Bill Exist' });

    await advanceTo(at(nextDay(day), '10:00:00'));
    expect((await tradeBill(day)).status).toBe(200);
    expect((await downloadV2(day)).contentType).toContain('text/plain');
  });

  it('puts a refund in the bill of the Beijing day it was accepted (23:59:59 vs 00:00:00)', async () => {
    const day = await freshDay();
    const next = nextDay(day);
    await advanceTo(at(day, '23:59:59'));
    await v3Refund(await paidOrder(sim), 'RB-LATE', 100);
    await advanceTo(at(next, '00:00:00'));
    await v3Refund(await paidOrder(sim), 'RB-EARLY', 200);
    await advanceTo(at(nextDay(next), '10:00:00'));
    const first = readBill((await downloadV3(day)).file);
    const second = readBill((await downloadV3(next)).file);
    expect(first.rows.map((r) => r['商户退款单号'])).toEqual(['RB-LATE']);
    expect(first.rows[0]['退款申请时间']).toBe(`${day} 23:59:59`);
    expect(second.rows.map((r) => r['商户退款单号'])).toEqual(['RB-EARLY']);
  });

  it('has no bill for a day without refunds (NO_STATEMENT_EXIST), or an empty one with rules.emptyRefundBill', async () => {
    const day = await freshDay();
    await advanceTo(at(nextDay(day), '12:00:00'));
    const none = await tradeBill(day);
    expect(none.status).toBe(400);
    expect(none.json).toMatchObject({ code: 'NO_STATEMENT_EXIST' });
    expect((await downloadV2(day)).xml).toMatchObject({ return_code: 'FAIL', return_msg: 'No Bill Exist' });

    await sim.admin.patchSettings({ rules: { emptyRefundBill: 'EMPTY_FILE' } });
    const empty = readBill((await downloadV3(day)).file);
    expect(empty.rows).toEqual([]);
    expect(empty.summary).toMatchObject({ 总交易单数: '0', 退款总金额: '0.00' });
  });

  it('answers NO_STATEMENT_EXIST / No Bill Exist for a bill made missing, until the fault is spent', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB-MISSING', 100);
    await advanceTo(at(nextDay(day), '10:00:00'));
    const fault = await sim.admin.addBillFault({ kind: 'MISSING', mchid: DIRECT, billDate: day, times: 2 });
    expect(await sim.admin.billFaults()).toEqual([fault]);

    const v3 = await tradeBill(day);
    expect(v3.status).toBe(400);
    expect(v3.json).toMatchObject({ code: 'NO_STATEMENT_EXIST' });
    expect((await downloadV2(day)).xml).toMatchObject({
      return_code: 'FAIL',
      return_msg: 'No Bill Exist',
      error_code: '20002',
    });
    // Spent: the bill appears.
    expect((await tradeBill(day)).status).toBe(200);
    expect(await sim.admin.billFaults()).toEqual([]);
  });

  it('refuses admin bill faults with bad fields, naming them', async () => {
    await expect(sim.admin.addBillFault({ kind: 'MISSING', mchid: DIRECT, billDate: '2026-13-01' })).rejects.toThrow(
      /billDate/,
    );
  });
});

describe('a corrupted download (hash mismatch)', () => {
  it('serves a file that still gunzips but whose SHA1 is not hash_value; a fresh URL afterwards is good', async () => {
    const day = await freshDay();
    await v3Refund(await paidOrder(sim), 'RB-CORRUPT', 4321);
    await advanceTo(at(nextDay(day), '10:00:00'));
    await sim.admin.addBillFault({ kind: 'CORRUPT', mchid: DIRECT, billDate: day, times: 1 });

    const bad = await downloadV3(day);
    expect(sha1(bad.file)).not.toBe(bad.hashValue);
    const good = await downloadV3(day);
    expect(good.hashValue).toBe(bad.hashValue);
    expect(sha1(good.file)).toBe(good.hashValue);
    expect(bad.file.length).toBe(good.file.length);
  });
});

describe('a partner bill (service provider, §12.1 sub_mchid)', () => {
  it("lists only the sub-merchant's refunds under the provider's 商户号, and only for its own provider", async () => {
    const day = await freshDay();
    const subOrder = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB, totalFen: 5000 });
    await v3Refund(subOrder, 'RB-SUB', 1500, { mchid: PROVIDER, subMchid: SUB });
    await v3Refund(await paidOrder(sim), 'RB-DIRECT', 100);
    await advanceTo(at(nextDay(day), '10:00:00'));

    const dl = await downloadV3(day, { mchid: PROVIDER, subMchid: SUB });
    expect(sha1(dl.file)).toBe(dl.hashValue);
    const bill = readBill(dl.file);
    expect(bill.rows).toHaveLength(1);
    expect(bill.rows[0]).toMatchObject({
      商户号: PROVIDER,
      特约商户号: SUB,
      商户退款单号: 'RB-SUB',
      退款金额: '15.00',
    });
    const v2 = readBill((await downloadV2(day, { mchid: PROVIDER, subMchid: SUB })).body);
    expect(v2.rows.map((r) => [r['子商户号'], r['商户退款单号']])).toEqual([[SUB, 'RB-SUB']]);

    // The direct merchant's bill does not have it; it may not ask for the sub-merchant's.
    const direct = readBill((await downloadV3(day)).file);
    expect(direct.rows.map((r) => r['商户退款单号'])).toEqual(['RB-DIRECT']);
    const intruder = await tradeBill(day, { subMchid: SUB });
    expect(intruder.status).toBe(403);
    expect(intruder.json).toMatchObject({ code: 'NO_AUTH' });
  });
});

describe('a refund made in the merchant portal', () => {
  it('is processed like any refund and appears in the bill', async () => {
    const day = await freshDay();
    const order = await paidOrder(sim, { totalFen: 3000 });
    await v3Refund(order, 'RB-API', 1000);
    await advanceTo(at(day, '08:05:00')); // 60 s spacing between refunds of one order (M9)
    const portal = await sim.admin.portalRefund({
      mchid: DIRECT,
      outTradeNo: order.outTradeNo,
      outRefundNo: 'RB-PORTAL',
      refundFen: 700,
    });
    expect(portal).toMatchObject({ endpoint: 'portal', status: 'PROCESSING', outTradeNo: order.outTradeNo });
    await sim.admin.advance({ minutes: 1 });
    expect((await sim.admin.refund('RB-PORTAL')).status).toBe('SUCCESS');
    // A merchant query finds it too (WeChat knows it; only the merchant's engine does not).
    const queried = await signedV3(sim, { path: `${REFUNDS}/RB-PORTAL` });
    expect(queried.json).toMatchObject({ status: 'SUCCESS', amount: { refund: 700 } });

    await advanceTo(at(nextDay(day), '10:00:00'));
    const bill = readBill((await downloadV3(day)).file);
    expect(bill.rows.map((r) => [r['商户退款单号'], r['退款金额']])).toEqual([
      ['RB-API', '10.00'],
      ['RB-PORTAL', '7.00'],
    ]);
    expect(fen(bill.summary['退款总金额'])).toBe(1700);
  });

  it('follows the refund rules and refuses a number already used, naming the field', async () => {
    const order = await paidOrder(sim, { totalFen: 500 });
    await sim.admin.portalRefund({ mchid: DIRECT, outTradeNo: order.outTradeNo, outRefundNo: 'RB-P1', refundFen: 100 });
    await expect(
      sim.admin.portalRefund({ mchid: DIRECT, outTradeNo: order.outTradeNo, outRefundNo: 'RB-P1', refundFen: 100 }),
    ).rejects.toMatchObject({ status: 409, message: expect.stringContaining('outRefundNo') });
    await expect(
      sim.admin.portalRefund({ mchid: DIRECT, outTradeNo: 'T-NO-SUCH-ORDER', outRefundNo: 'RB-P2', refundFen: 1 }),
    ).rejects.toMatchObject({ status: 404 });
    await sim.admin.advance({ minutes: 2 });
    await expect(
      sim.admin.portalRefund({ mchid: DIRECT, outTradeNo: order.outTradeNo, outRefundNo: 'RB-P3', refundFen: 401 }),
    ).rejects.toMatchObject({ status: 409, message: expect.stringContaining('REFUND_EXCEEDS_REMAINING') });
    await expect(
      sim.admin.portalRefund({ mchid: DIRECT, outTradeNo: order.outTradeNo, outRefundNo: 'RB-P4', refundFen: 0 }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('refundFen') });
  });

  it('creates a sub-merchant refund through its service provider', async () => {
    const order = await paidOrder(sim, { mchid: PROVIDER, subMchid: SUB });
    const refund = await sim.admin.portalRefund({
      mchid: PROVIDER,
      subMchid: SUB,
      outTradeNo: order.outTradeNo,
      outRefundNo: 'RB-PSUB',
      refundFen: 10,
    });
    expect(refund).toMatchObject({ owner: SUB, mchid: PROVIDER, subMchid: SUB });
  });
});

describe('snapshot semantics (§12.3)', () => {
  it('keeps the status a refund had when the bill was made, in every later download, v3 and v2', async () => {
    const day = await freshDay();
    await sim.admin.forceOutcome('RB-SNAP', { status: 'SUCCESS', afterSeconds: 3 * 86_400 });
    await v3Refund(await paidOrder(sim), 'RB-SNAP', 600);
    await advanceTo(at(nextDay(day), '10:00:00'));

    const made = await downloadV3(day);
    const row = readBill(made.file).rows[0];
    expect(row).toMatchObject({ 商户退款单号: 'RB-SNAP', 退款状态: 'PROCESSING', 退款成功时间: '' });

    await sim.admin.advance({ days: 4 });
    expect((await sim.admin.refund('RB-SNAP')).status).toBe('SUCCESS');
    const queried = await signedV3(sim, { path: `${REFUNDS}/RB-SNAP` });
    expect(queried.json).toMatchObject({ status: 'SUCCESS' });

    const later = await downloadV3(day);
    expect(later.hashValue).toBe(made.hashValue);
    expect(later.file.equals(made.file)).toBe(true);
    const v2Row = readBill((await downloadV2(day)).body).rows[0];
    expect(v2Row['退款状态']).toBe('PROCESSING');
    expect((await sim.admin.bills({ billDate: day }))[0]).toMatchObject({
      mchid: DIRECT,
      rows: 1,
      outRefundNos: ['RB-SNAP'],
      sha1: { v3: made.hashValue },
    });
  });

  it('is made on the first request, not at 10:00: a refund that settled before then shows SUCCESS', async () => {
    const day = await freshDay();
    await sim.admin.forceOutcome('RB-SNAP2', { status: 'SUCCESS', afterSeconds: 2 * 86_400 });
    await v3Refund(await paidOrder(sim), 'RB-SNAP2', 600);
    await advanceTo(at(nextDay(day), '10:00:00'));
    await sim.admin.advance({ days: 3 }); // nobody asked for the bill yet
    const row = readBill((await downloadV3(day)).file).rows[0];
    expect(row['退款状态']).toBe('SUCCESS');
    expect(row['退款成功时间']).not.toBe('');
  });
});

describe('bills across a restart (stateFile)', () => {
  it('keeps a bill made before the restart instead of remaking it with newer statuses', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-bills-'));
    const config = { stateFile: path.join(dir, 'state.sqlite'), keysDir: path.join(dir, 'keys') };
    let first: SimulatorHandle | undefined = await startTestSimulator(config);
    let second: SimulatorHandle | undefined;
    try {
      const day = beijingDay(first.clock.now());
      const order = await first.admin.seedOrder({ mchid: DIRECT, outTradeNo: 'T-RESTART-1', totalFen: 1000 });
      await first.admin.forceOutcome('RB-RESTART', { status: 'SUCCESS', afterSeconds: 3 * 86_400 });
      const created = await signedV3(first, {
        path: REFUNDS,
        body: JSON.stringify({
          out_trade_no: order.outTradeNo,
          out_refund_no: 'RB-RESTART',
          amount: { refund: 300, total: 1000, currency: 'CNY' },
        }),
      });
      expect(created.status).toBe(200);
      await first.admin.advance({ to: at(nextDay(day), '10:00:00') });
      const made = await signedV3(first, { path: tradeBillPath(day) });
      expect(made.status).toBe(200);
      await first.close();
      first = undefined;

      second = await startTestSimulator(config);
      await second.admin.advance({ days: 4 });
      expect((await second.admin.refund('RB-RESTART')).status).toBe('SUCCESS');
      const again = await signedV3(second, { path: tradeBillPath(day) });
      expect(again.json?.hash_value).toBe(made.json?.hash_value);
      const url = new URL(String(again.json?.download_url));
      const file = gunzipSync((await signedV3(second, { path: `${url.pathname}${url.search}` })).raw);
      expect(readBill(file).rows[0]['退款状态']).toBe('PROCESSING');
    } finally {
      await first?.close();
      await second?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('independence from the client and the parser', () => {
  it('writes bills with its own code: nothing in src/simulator imports src/reconciliation', () => {
    const root = path.resolve(__dirname, '..', '..', 'src', 'simulator');
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const offenders = files.filter((f) =>
      /from '(\.\.\/)+reconciliation\//.test(readFileSync(path.join(root, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('formats fen as yuan with two decimals exactly', () => {
    expect([1, 10, 100, 123_450, 0, 99_999_999_999].map(fenToYuan)).toEqual([
      '0.01',
      '0.10',
      '1.00',
      '1234.50',
      '0.00',
      '999999999.99',
    ]);
  });
});
