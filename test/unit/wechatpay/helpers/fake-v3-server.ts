/**
 * A tiny stand-in for WeChat Pay's v3 API, started inside a test: it records every request, checks the request
 * signature against the merchant certificate, and replies with whatever the test says, signed as asked.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { IssuedCertificate } from '../../../../src/pki';
import { encryptV3Resource } from '../../../../src/wechatpay/v3/aes-gcm';
import {
  parseV3Authorization,
  ParsedV3Authorization,
  verifyV3RequestSignature,
} from '../../../../src/wechatpay/v3/sign';
import { API_V3_KEY, MCHID, signedHeaders, testKeys } from './wechat-keys';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  auth?: ParsedV3Authorization;
  /** Signature checked with the merchant certificate named by serial_no. */
  authValid: boolean;
  json?: unknown;
}

export type Signer = 'platform' | 'rotated' | 'publicKey' | 'none' | 'signtest' | 'stale' | 'wrongKey';

export interface Reply {
  status: number;
  body?: string | Buffer | object;
  sign?: Signer;
  headers?: Record<string, string>;
  /** Kill the connection without replying (reset after the request was received). */
  destroy?: boolean;
  delayMs?: number;
}

export interface FakeV3 {
  url: string;
  requests: RecordedRequest[];
  connections: number;
  close(): Promise<void>;
}

function signer(kind: Signer, nowS: number) {
  const k = testKeys();
  switch (kind) {
    case 'platform':
      return { as: { privateKeyPem: k.platform.privateKeyPem, serial: k.platform.serial }, ts: nowS };
    case 'rotated':
      return { as: { privateKeyPem: k.rotatedPlatform.privateKeyPem, serial: k.rotatedPlatform.serial }, ts: nowS };
    case 'publicKey':
      return { as: { privateKeyPem: k.publicKey.privateKeyPem, serial: k.publicKey.id }, ts: nowS };
    case 'stale':
      return { as: { privateKeyPem: k.platform.privateKeyPem, serial: k.platform.serial }, ts: nowS - 600 };
    case 'wrongKey':
      return { as: { privateKeyPem: k.rotatedPlatform.privateKeyPem, serial: k.platform.serial }, ts: nowS };
    default:
      return undefined;
  }
}

export async function startFakeV3(
  handler: (req: RecordedRequest) => Reply | Promise<Reply>,
  nowS = () => Math.floor(Date.now() / 1000),
): Promise<FakeV3> {
  const k = testKeys();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let auth: ParsedV3Authorization | undefined;
    let authValid: boolean;
    try {
      auth = parseV3Authorization(String(req.headers.authorization ?? ''));
      authValid =
        auth.serialNo === k.merchant.serial &&
        verifyV3RequestSignature({
          method: req.method ?? '',
          url: req.url ?? '',
          body,
          timestamp: auth.timestamp,
          nonce: auth.nonceStr,
          signature: auth.signature,
          publicKey: k.merchant.certPem,
        });
    } catch {
      authValid = false;
    }
    let json: unknown;
    try {
      json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
      auth,
      authValid,
      json,
    };
    requests.push(recorded);
    const reply = await handler(recorded);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (reply.destroy) {
      req.socket.destroy();
      return;
    }
    const payload =
      reply.body === undefined
        ? Buffer.alloc(0)
        : Buffer.isBuffer(reply.body)
          ? reply.body
          : Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    const headers: Record<string, string> = { 'request-id': `req-${requests.length}`, ...reply.headers };
    if (payload.length) headers['content-type'] = headers['content-type'] ?? 'application/json';
    const s = signer(reply.sign ?? (reply.status < 300 ? 'platform' : 'none'), nowS());
    if (s) Object.assign(headers, signedHeaders(payload, s.as, s.ts));
    if (reply.sign === 'signtest') {
      Object.assign(
        headers,
        signedHeaders(payload, { privateKeyPem: k.platform.privateKeyPem, serial: k.platform.serial }, nowS()),
      );
      headers['wechatpay-signature'] = `WECHATPAY/SIGNTEST/${headers['wechatpay-signature']}`;
    }
    res.writeHead(reply.status, headers);
    res.end(payload);
  });
  server.on('connection', (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Body of GET /v3/certificates listing `certs`, each encrypted with the APIv3 key. */
export function certificatesReply(certs: IssuedCertificate[]): object {
  return {
    data: certs.map((c, i) => {
      const nonce = `nonce${String(i).padStart(7, '0')}`;
      return {
        serial_no: c.serial,
        effective_time: '2020-01-01T00:00:00+08:00',
        expire_time: '2040-01-01T00:00:00+08:00',
        encrypt_certificate: {
          algorithm: 'AEAD_AES_256_GCM',
          nonce,
          associated_data: 'certificate',
          ciphertext: encryptV3Resource({
            plaintext: c.certPem,
            nonce,
            associatedData: 'certificate',
            apiV3Key: API_V3_KEY,
          }),
        },
      };
    }),
  };
}

export function refundObject(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    refund_id: '50000000382019052709732678859',
    out_refund_no: 'R20240101000001',
    transaction_id: '4200000001202401010000000001',
    out_trade_no: 'T20240101000001',
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    create_time: '2024-01-01T12:00:00+08:00',
    status: 'PROCESSING',
    funds_account: 'AVAILABLE',
    amount: {
      total: 300,
      refund: 100,
      payer_total: 300,
      payer_refund: 100,
      settlement_refund: 100,
      settlement_total: 300,
      discount_refund: 0,
      currency: 'CNY',
    },
    ...overrides,
  };
}

/** A paid order as the v3 order query returns it (direct mode, §11.1). */
export function orderObject(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    appid: 'wxd678efh567hg6787',
    mchid: MCHID,
    out_trade_no: 'T20240101000001',
    transaction_id: '4200000001202401010000000001',
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'CMB_DEBIT',
    attach: '',
    success_time: '2024-01-01T10:00:00+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    amount: { total: 300, payer_total: 300, currency: 'CNY', payer_currency: 'CNY' },
    promotion_detail: [],
    ...overrides,
  };
}
