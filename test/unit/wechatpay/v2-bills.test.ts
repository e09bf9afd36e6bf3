/**
 * v2 refund bill download (§12.2) against a local mutual-TLS stand-in: the signed XML request, the file (gzip or
 * plain) streamed to the destination with its SHA1 computed, and the XML failure replies.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { InvalidRequest, NeedsOperator, RetrySame } from '../../../src/wechatpay/errors';
import { createV2Gateway, V2Gateway, V2GatewayConfigInput } from '../../../src/wechatpay/v2/gateway';
import { verifyV2Sign } from '../../../src/wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../../../src/wechatpay/v2/xml';
import { billText, sha1Hex } from './helpers/bill-text';
import { thrown } from './helpers/gateway-calls';
import { testKeys } from './helpers/wechat-keys';

const k = testKeys();
const APPID = 'wx2421b1c4370ec43b';
const MCH_ID = '10000100';
const SUB_MCH_ID = '10000101';
const API_KEY = '192006250b4c09247ec02edce69f6a2d';
const BILL = billText(3, MCH_ID);

interface Recorded {
  path: string;
  fields: Record<string, string>;
  signValid: boolean;
  clientCertCN?: string;
}

let server: Server;
let url: string;
const requests: Recorded[] = [];
const sockets = new Set<Socket>();
/** What the stand-in answers: raw bytes, as /pay/downloadbill sends a file or an XML failure. */
let respond: (req: Recorded) => Buffer | string;
let gateways: V2Gateway[] = [];
let dir: string;

beforeAll(async () => {
  server = createServer(
    { key: k.tlsServer.privateKeyPem, cert: k.tlsServer.certPem, ca: [k.ca.certPem], requestCert: true },
    async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const fields = parseV2Xml(Buffer.concat(chunks));
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const recorded: Recorded = {
        path: req.url ?? '',
        fields,
        signValid: verifyV2Sign(fields, API_KEY, fields.sign_type === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5'),
        clientCertCN: [peer?.subject?.CN].flat()[0],
      };
      requests.push(recorded);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(respond(recorded));
    },
  );
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  requests.length = 0;
  dir = mkdtempSync(path.join(tmpdir(), 'v2-bills-'));
  respond = () => gzipSync(BILL);
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

function gateway(overrides: Partial<V2GatewayConfigInput> = {}): V2Gateway {
  const g = createV2Gateway(
    {
      baseUrl: url,
      appid: APPID,
      mchid: MCH_ID,
      apiKey: API_KEY,
      clientCertificate: k.merchant.certPem,
      clientPrivateKey: k.merchant.privateKeyPem,
      caCertificate: k.ca.certPem,
      timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
      ...overrides,
    },
    { nonce: () => '5K8264ILTKCH16CQ2502SI8ZNMTM67VS' },
  );
  gateways.push(g);
  return g;
}

const failXml = (msg: string) => buildV2Xml({ return_code: 'FAIL', return_msg: msg });

describe('v2 refund bill download', () => {
  it('posts a signed REFUND/GZIP request over mutual TLS and writes the decompressed bill with its SHA1', async () => {
    const dest = path.join(dir, 'bill-2026-11-30.csv');
    const bill = await gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest });

    expect(bill).toEqual({ path: dest, sha1: sha1Hex(BILL), bytes: Buffer.byteLength(BILL), apiVersion: 'v2' });
    expect(readFileSync(dest, 'utf8')).toBe(BILL);
    const [req] = requests;
    expect(req.path).toBe('/pay/downloadbill');
    expect(req.clientCertCN).toBe('1900000109');
    expect(req.signValid).toBe(true);
    expect(req.fields).toEqual({
      appid: APPID,
      mch_id: MCH_ID,
      nonce_str: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      sign_type: 'MD5',
      bill_date: '20261130',
      bill_type: 'REFUND',
      tar_type: 'GZIP',
      sign: expect.stringMatching(/^[0-9A-F]{32}$/),
    });
  });

  it('accepts a plain-text bill (the file itself, uncompressed)', async () => {
    respond = () => BILL;
    const dest = path.join(dir, 'plain.csv');
    const bill = await gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest });
    expect(bill.sha1).toBe(sha1Hex(BILL));
    expect(readFileSync(dest, 'utf8')).toBe(BILL);
  });

  it('signs with HMAC-SHA256 when configured', async () => {
    await gateway({ signType: 'HMAC-SHA256' }).downloadRefundBill({
      billDate: '2026-11-30',
      destFile: path.join(dir, 'b.csv'),
    });
    expect(requests[0].fields.sign_type).toBe('HMAC-SHA256');
    expect(requests[0].signValid).toBe(true);
  });

  it.each(['No Bill Exist', 'Bill Creating'])(
    'return_code FAIL "%s" is RetrySame BILL_NOT_READY, and nothing is written',
    async (msg) => {
      respond = () => failXml(msg);
      const dest = path.join(dir, 'bill.csv');
      const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest }));
      expect(e).toBeInstanceOf(RetrySame);
      expect(e).toMatchObject({ code: 'BILL_NOT_READY' });
      expect(e.message).toContain('2026-11-30');
      expect(existsSync(dest)).toBe(false);
    },
  );

  it('any other FAIL (e.g. a bad date) goes to a human, with WeChat’s words, and leaves the old file alone', async () => {
    respond = () => buildV2Xml({ return_code: 'FAIL', return_msg: 'invalid bill_date', error_code: '20001' });
    const dest = path.join(dir, 'bill.csv');
    writeFileSync(dest, 'previous\n');
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: dest }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e.message).toContain('invalid bill_date');
    expect(e.message).toContain('20001');
    expect(readFileSync(dest, 'utf8')).toBe('previous\n');
    expect(readdirSync(dir)).toEqual(['bill.csv']);
  });

  it('partner mode sends sub_mch_id; direct mode refuses one before sending', async () => {
    await gateway({ mode: 'partner' }).downloadRefundBill({
      billDate: '2026-11-30',
      subMchid: SUB_MCH_ID,
      destFile: path.join(dir, 'sub.csv'),
    });
    expect(requests[0].fields.sub_mch_id).toBe(SUB_MCH_ID);
    expect(requests[0].signValid).toBe(true);

    requests.length = 0;
    const e = await thrown(
      gateway().downloadRefundBill({ billDate: '2026-11-30', subMchid: SUB_MCH_ID, destFile: path.join(dir, 'x') }),
    );
    expect(e).toBeInstanceOf(InvalidRequest);
    expect(requests).toHaveLength(0);
  });

  it('a truncated gzip file is RetrySame BILL_CORRUPT and leaves nothing behind', async () => {
    const gz = gzipSync(billText(2000, MCH_ID));
    respond = () => gz.subarray(0, gz.length - 50);
    const e = await thrown(gateway().downloadRefundBill({ billDate: '2026-11-30', destFile: path.join(dir, 'x') }));
    expect(e).toBeInstanceOf(RetrySame);
    expect(e).toMatchObject({ code: 'BILL_CORRUPT' });
    expect(readdirSync(dir)).toEqual([]);
  });
});
