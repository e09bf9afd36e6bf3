/**
 * v3 refund bill download (§12.1) against a local stand-in: tradebill signed and verified, the file fetched with a
 * signed GET on download_url, gunzipped, hashed against hash_value, and streamed to the destination file.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync, createGzip } from 'node:zlib';
import { InvalidRequest, NeedsOperator, RetrySame } from '../../../src/wechatpay/errors';
import { createV3Gateway, V3Gateway, V3GatewayConfigInput } from '../../../src/wechatpay/v3/gateway';
import { parseV3Authorization, verifyV3RequestSignature } from '../../../src/wechatpay/v3/sign';
import { billText, sha1Hex } from './helpers/bill-text';
import { FakeV3, RecordedRequest, Reply, startFakeV3 } from './helpers/fake-v3-server';
import { thrown } from './helpers/gateway-calls';
import { API_V3_KEY, MCHID, signedHeaders, SP_MCHID, SUB_MCHID, testKeys } from './helpers/wechat-keys';

const k = testKeys();
let server: FakeV3;
let gateways: V3Gateway[] = [];
let respond: (req: RecordedRequest) => Reply | Promise<Reply>;
let dir: string;

const BILL = billText(3);
const TOKEN = 'tk_3f9aKq0-Zb~x';

/** tradebill answers with `hash` and a download_url on the stand-in; the file answers with `file`, unsigned. */
function billServer(file: Buffer, hash = sha1Hex(BILL), url?: string) {
  return (req: RecordedRequest): Reply => {
    if (req.url.startsWith('/v3/bill/tradebill')) {
      return {
        status: 200,
        body: {
          hash_type: 'SHA1',
          hash_value: hash,
          download_url: url ?? `${server.url}/v3/billdownload/file?token=${TOKEN}`,
        },
      };
    }
    return { status: 200, body: file, sign: 'none', headers: { 'content-type': 'application/octet-stream' } };
  };
}

beforeAll(async () => {
  server = await startFakeV3((req) => respond(req));
});
afterAll(async () => server.close());
beforeEach(() => {
  server.requests.length = 0;
  dir = mkdtempSync(path.join(tmpdir(), 'v3-bills-'));
  respond = billServer(gzipSync(BILL));
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

function gateway(overrides: Partial<V3GatewayConfigInput> = {}, baseUrl = server.url): V3Gateway {
  const g = createV3Gateway({
    baseUrl,
    mchid: MCHID,
    merchantSerialNo: k.merchant.serial,
    merchantPrivateKey: k.merchant.privateKeyPem,
    apiV3Key: API_V3_KEY,
    platformCertificates: [k.platform.certPem],
    timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 2000 },
    ...overrides,
  });
  gateways.push(g);
  return g;
}

/** Nothing but the accepted bill is left in the directory (no half-written or refused file). */
function filesIn(d: string): string[] {
  return readdirSync(d).sort();
}

describe('v3 refund bill download', () => {
  it('asks tradebill for the REFUND bill as gzip, downloads download_url signed, and writes the decompressed bill', async () => {
    const dest = path.join(dir, 'bill-2026-11-30.csv');
    const bill = await gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest });

    expect(bill).toEqual({ path: dest, sha1: sha1Hex(BILL), bytes: Buffer.byteLength(BILL), apiVersion: 'v3' });
    expect(readFileSync(dest, 'utf8')).toBe(BILL);
    expect(filesIn(dir)).toEqual(['bill-2026-11-30.csv']);

    const [tradeBill, file] = server.requests;
    expect(tradeBill.method).toBe('GET');
    expect(tradeBill.url).toBe('/v3/bill/tradebill?bill_date=2026-11-30&bill_type=REFUND&tar_type=GZIP');
    expect(tradeBill.authValid).toBe(true);
    // The path and its query are what is signed (§12.1): the stand-in checks the signature over req.url.
    expect(file.method).toBe('GET');
    expect(file.url).toBe(`/v3/billdownload/file?token=${TOKEN}`);
    expect(file.authValid).toBe(true);
    expect(file.auth?.mchid).toBe(MCHID);
    expect(file.headers['user-agent']).toBeTruthy();
    expect(file.headers.accept).toBeTruthy();
  });

  it('accepts a plain (not gzip) body with the right digest', async () => {
    respond = billServer(Buffer.from(BILL, 'utf8'));
    const dest = path.join(dir, 'plain.csv');
    const bill = await gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest });
    expect(bill.sha1).toBe(sha1Hex(BILL));
    expect(readFileSync(dest, 'utf8')).toBe(BILL);
  });

  it('compares hash_value case-insensitively (WeChat writes hex in either case)', async () => {
    respond = billServer(gzipSync(BILL), sha1Hex(BILL).toUpperCase());
    const bill = await gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'b.csv') });
    expect(bill.sha1).toBe(sha1Hex(BILL));
  });

  it('refuses a file whose SHA1 differs from hash_value: RetrySame BILL_HASH_MISMATCH, the old file untouched', async () => {
    const dest = path.join(dir, 'bill.csv');
    writeFileSync(dest, 'yesterday attempt\n');
    // The stand-in serves a file one character off from the one it hashed.
    respond = billServer(gzipSync(BILL.replace('`0.01', '`0.02')));
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest }));
    expect(e).toBeInstanceOf(RetrySame);
    expect(e).toMatchObject({ code: 'BILL_HASH_MISMATCH' });
    expect(e.message).toContain(sha1Hex(BILL));
    expect(e.message).not.toContain(TOKEN);
    expect(readFileSync(dest, 'utf8')).toBe('yesterday attempt\n');
    expect(filesIn(dir)).toEqual(['bill.csv']);
  });

  it('asks tradebill again on every attempt (download_url lives about 30 s)', async () => {
    const g = gateway();
    await g.downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'a.csv') });
    await g.downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'a.csv') });
    expect(server.requests.map((r) => r.url.split('?')[0])).toEqual([
      '/v3/bill/tradebill',
      '/v3/billdownload/file',
      '/v3/bill/tradebill',
      '/v3/billdownload/file',
    ]);
  });

  it.each(['NO_STATEMENT_EXIST', 'STATEMENT_CREATING', 'SOME_NEW_NOT_READY_CODE'])(
    'a bill that is not ready (400 %s) is RetrySame BILL_NOT_READY, and no file is fetched',
    async (code) => {
      respond = () => ({ status: 400, body: { code, message: '账单不存在' } });
      const dest = path.join(dir, 'bill.csv');
      const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest }));
      expect(e).toBeInstanceOf(RetrySame);
      expect(e).toMatchObject({ code: 'BILL_NOT_READY', httpStatus: 400 });
      expect(e.message).toContain(code);
      expect(server.requests).toHaveLength(1);
      expect(existsSync(dest)).toBe(false);
    },
  );

  it('keeps the class of codes the error table knows: 401 SIGN_ERROR is a human, not "not ready"', async () => {
    respond = () => ({ status: 401, body: { code: 'SIGN_ERROR', message: '签名错误' } });
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e).toMatchObject({ code: 'SIGN_ERROR' });
  });

  it('an unverifiable tradebill reply is never used; the read is repeated (RetrySame)', async () => {
    const inner = billServer(gzipSync(BILL));
    respond = (req) => ({ ...inner(req), sign: req.url.startsWith('/v3/bill/') ? 'wrongKey' : 'none' });
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(RetrySame);
    expect((e as RetrySame).code).toMatch(/^UNVERIFIABLE_RESPONSE_/);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    [400, 'INVALID_REQUEST'],
    [400, 'PARAM_ERROR'],
    [404, 'RESOURCE_NOT_EXISTS'],
  ])(
    'a refused download token (%i %s on the file) is RetrySame: the next attempt gets a fresh URL',
    async (status, code) => {
      const inner = billServer(gzipSync(BILL));
      respond = (req) =>
        req.url.startsWith('/v3/billdownload/') ? { status, body: { code, message: 'token expired' } } : inner(req);
      const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
      expect(e).toBeInstanceOf(RetrySame);
      expect(e).toMatchObject({ code, httpStatus: status });
    },
  );

  it('a signature refused on the file download (401 SIGN_ERROR) goes to a human', async () => {
    const inner = billServer(gzipSync(BILL));
    respond = (req) =>
      req.url.startsWith('/v3/billdownload/')
        ? { status: 401, body: { code: 'SIGN_ERROR', message: '签名错误' } }
        : inner(req);
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e).toMatchObject({ code: 'SIGN_ERROR' });
  });

  it('a connection cut during the file download is RetrySame (a read changes nothing), not an unknown outcome', async () => {
    const inner = billServer(gzipSync(BILL));
    respond = (req) => (req.url.startsWith('/v3/billdownload/') ? { status: 200, destroy: true } : inner(req));
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(RetrySame);
    expect((e as RetrySame).code).toBe('NETWORK_ERROR');
    expect(filesIn(dir)).toEqual([]);
  });

  it('a truncated gzip body is RetrySame BILL_CORRUPT and leaves no file behind', async () => {
    const gz = gzipSync(billText(2000));
    respond = billServer(gz.subarray(0, gz.length - 100), sha1Hex(billText(2000)));
    const dest = path.join(dir, 'bill.csv');
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest }));
    expect(e).toBeInstanceOf(RetrySame);
    expect(e).toMatchObject({ code: 'BILL_CORRUPT' });
    expect(filesIn(dir)).toEqual([]);
  });

  it('never sends a signed request to a host other than the configured one or WeChat Pay', async () => {
    respond = billServer(gzipSync(BILL), sha1Hex(BILL), `http://attacker.example/v3/billdownload/file?token=${TOKEN}`);
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e).toMatchObject({ code: 'BILL_DOWNLOAD_URL_UNTRUSTED' });
    expect(e.message).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a tradebill reply with another digest type', async () => {
    respond = () => ({ status: 200, body: { hash_type: 'MD5', hash_value: 'x', download_url: 'http://x/y' } });
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain('hash_type');
  });

  it('partner mode asks for the sub-merchant bill; direct mode refuses a sub_mchid before sending', async () => {
    await gateway({ mode: 'partner', mchid: SP_MCHID }).downloadRefundBill({
      billDate: '2026-11-30',
      subMchid: SUB_MCHID,
      destFile: path.join(dir, 'sub.csv'),
    });
    expect(server.requests[0].url).toBe(
      `/v3/bill/tradebill?bill_date=2026-11-30&bill_type=REFUND&tar_type=GZIP&sub_mchid=${SUB_MCHID}`,
    );
    expect(server.requests[1].auth?.mchid).toBe(SP_MCHID);

    server.requests.length = 0;
    const e = await thrown(
      gateway().downloadRefundBill({ billDate: '2026-11-30', subMchid: SUB_MCHID, destFile: path.join(dir, 'x') }),
    );
    expect(e).toBeInstanceOf(InvalidRequest);
    expect(server.requests).toHaveLength(0);
  });

  it.each(['2026-02-30', '20261130', '2026-11-3', ''])('refuses bill date %p before sending', async (billDate) => {
    const e = await thrown(gateway().downloadRefundBill({ billDate, destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(InvalidRequest);
    expect((e as InvalidRequest).issues[0].path).toBe('billDate');
    expect(server.requests).toHaveLength(0);
  });
});

describe('v3 refund bill download streams to the file', () => {
  let streaming: Server;
  let url: string;
  afterEach(async () => new Promise<void>((r) => streaming.close(() => r())));

  it('writes the decompressed bill while the body is still arriving, never holding it whole', async () => {
    const dest = path.join(dir, 'big.csv');
    const firstHalf = billText(20_000);
    const secondHalf = firstHalf; // the same text twice: the digest covers both
    const whole = firstHalf + secondHalf;
    let sawPartialFile = false;
    const nowS = () => Math.floor(Date.now() / 1000);
    streaming = createServer((req, res) => {
      const auth = parseV3Authorization(String(req.headers.authorization ?? ''));
      const signedOk = verifyV3RequestSignature({
        method: 'GET',
        url: req.url ?? '',
        body: '',
        timestamp: auth.timestamp,
        nonce: auth.nonceStr,
        signature: auth.signature,
        publicKey: k.merchant.certPem,
      });
      if (!signedOk) {
        res.writeHead(401).end();
        return;
      }
      if (req.url?.startsWith('/v3/bill/tradebill')) {
        const body = JSON.stringify({
          hash_type: 'SHA1',
          hash_value: sha1Hex(whole),
          download_url: `${url}/v3/billdownload/file?token=${TOKEN}`,
        });
        const as = { privateKeyPem: k.platform.privateKeyPem, serial: k.platform.serial };
        res.writeHead(200, { 'content-type': 'application/json', ...signedHeaders(body, as, nowS()) });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const gzip = createGzip();
      gzip.pipe(res);
      gzip.write(firstHalf);
      gzip.flush(() => {
        // Hold the rest back until the client has written part of the bill to disk.
        const started = Date.now();
        const poll = setInterval(() => {
          const part = readdirSync(dir).find((f) => f.endsWith('.part'));
          if (part && statSync(path.join(dir, part)).size > 0) {
            sawPartialFile = true;
            clearInterval(poll);
            gzip.end(secondHalf);
          } else if (Date.now() - started > 5000) {
            clearInterval(poll);
            res.destroy();
          }
        }, 20);
      });
    });
    await new Promise<void>((r) => streaming.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(streaming.address() as AddressInfo).port}`;

    const bill = await gateway({}, url).downloadRefundBill({ billDate: '2026-11-30', destFile: dest });
    expect(sawPartialFile).toBe(true);
    expect(bill.sha1).toBe(sha1Hex(whole));
    expect(bill.bytes).toBe(Buffer.byteLength(whole));
    expect(statSync(dest).size).toBe(Buffer.byteLength(whole));
    expect(filesIn(dir)).toEqual(['big.csv']);
  });
});
