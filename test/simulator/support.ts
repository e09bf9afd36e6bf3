/**
 * Shared helpers of the simulator tests: a simulator on a frozen clock, the project's gateways configured from its
 * manifest, and a local notification receiver that verifies with the project's own verifier.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/server';
import type { SimulatorConfigInput } from '../../src/simulator/config';
import { v2GatewayConfigFor, v3GatewayConfigFor, type SimulatorManifest } from '../../src/simulator/manifest';
import { createV2Gateway, type V2Gateway, type V2GatewayConfigInput } from '../../src/wechatpay/v2/gateway';
import { createV3Gateway, type V3Gateway, type V3GatewayConfigInput } from '../../src/wechatpay/v3/gateway';
import { WechatPayKeyring } from '../../src/wechatpay/v3/keyring';
import { decodeV2Notification, looksLikeXml, verifyV3Notification } from '../../src/wechatpay/notifications';
import type { RefundNotification } from '../../src/wechatpay/gateway';
import { signV2, type V2SignType } from '../../src/wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../../src/wechatpay/v2/xml';
import { buildV3Authorization } from '../../src/wechatpay/v3/sign';

export const DIRECT = '1900000109';
export const PROVIDER = '1900000100';
export const SUB = '1900000201';

/** Frozen clock (tests move it with admin.advance) and a fixed seed, unless overridden. */
export function startTestSimulator(config: SimulatorConfigInput = {}): Promise<SimulatorHandle> {
  return startSimulator({ timeScale: 0, seed: 42, startTime: '2026-03-02T10:00:00+08:00', ...config });
}

/**
 * The setup most simulator test files share: one test simulator for the whole file, reset before each test, closed
 * (with every gateway the tests opened) at the end. `use` receives the simulator once it runs, e.g.
 * `let sim: SimulatorHandle; shareSimulator((s) => (sim = s));`.
 */
export function shareSimulator(use: (sim: SimulatorHandle) => void, config: SimulatorConfigInput = {}): void {
  let sim: SimulatorHandle | undefined;
  beforeAll(async () => {
    sim = await startTestSimulator(config);
    use(sim);
  });
  afterAll(async () => {
    await closeGateways();
    await sim?.close();
  });
  beforeEach(async () => {
    await sim?.admin.reset();
  });
}

const gateways: Array<{ close(): Promise<void> }> = [];

export function v3Gateway(
  sim: SimulatorHandle,
  mchid = DIRECT,
  overrides: Partial<V3GatewayConfigInput> = {},
): V3Gateway {
  const gw = createV3Gateway(
    v3GatewayConfigFor(sim.manifest, mchid, {
      timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
      ...overrides,
    }),
  );
  gateways.push(gw);
  return gw;
}

export function v2Gateway(
  sim: SimulatorHandle,
  mchid = DIRECT,
  overrides: Partial<V2GatewayConfigInput> = {},
): V2Gateway {
  const gw = createV2Gateway(
    v2GatewayConfigFor(sim.manifest, mchid, {
      timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
      ...overrides,
    }),
  );
  gateways.push(gw);
  return gw;
}

export async function closeGateways(): Promise<void> {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
}

let orderCounter = 0;

/** Seed a paid order with a unique out_trade_no; returns it. */
export async function paidOrder(
  sim: SimulatorHandle,
  opts: Partial<Parameters<SimulatorHandle['admin']['seedOrder']>[0]> = {},
): Promise<{ outTradeNo: string; transactionId: string; totalFen: number }> {
  orderCounter += 1;
  const order = await sim.admin.seedOrder({
    mchid: DIRECT,
    outTradeNo: `T${Date.now().toString(36)}${orderCounter}`.slice(0, 32),
    totalFen: 10_000,
    ...opts,
  });
  return { outTradeNo: order.outTradeNo, transactionId: order.transactionId, totalFen: order.totalFen };
}

/** What a WeChat Pay-side key list looks like to the merchant: certificates and public keys from the manifest. */
export function keyringFor(manifest: SimulatorManifest): WechatPayKeyring {
  return new WechatPayKeyring({
    platformCertificates: manifest.wechat.platformCertificates.map((c) => c.certificatePem),
    publicKeys: manifest.wechat.publicKeys.map((k) => ({ id: k.id, publicKey: k.publicKeyPem })),
  });
}

export interface ReceivedNotification {
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** Verified and decrypted with the project's verifier, or the reason it was rejected. */
  notification?: RefundNotification;
  rejected?: string;
}

/**
 * A merchant webhook stand-in: verifies each notification with the project's verifier (v3 JSON or v2 XML) and answers
 * like a correct merchant (200 when verified, 401/500 when not), unless `respond` overrides the answer.
 */
export class NotificationReceiver {
  readonly received: ReceivedNotification[] = [];
  respond?: (n: ReceivedNotification) => { status: number; body?: string; delayMs?: number } | undefined;
  private server?: Server;
  url = '';

  constructor(
    private readonly manifest: SimulatorManifest,
    private readonly merchant: { mchid: string; apiV3Key: string; apiV2Key: string },
  ) {}

  async start(): Promise<this> {
    const keyring = keyringFor(this.manifest);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const rawBody = Buffer.concat(chunks);
          const entry: ReceivedNotification = { headers: req.headers, rawBody };
          const xml = looksLikeXml(rawBody, req.headers['content-type']);
          try {
            entry.notification = xml
              ? decodeV2Notification({ rawBody, apiKey: this.merchant.apiV2Key, mchid: this.merchant.mchid })
              : await verifyV3Notification({
                  headers: req.headers,
                  rawBody,
                  keyring,
                  apiV3Key: this.merchant.apiV3Key,
                });
          } catch (e) {
            entry.rejected = (e as Error).message;
          }
          this.received.push(entry);
          const custom = this.respond?.(entry);
          if (custom?.delayMs) await new Promise((r) => setTimeout(r, custom.delayMs));
          if (res.destroyed) return;
          const status =
            custom?.status ?? (entry.notification ? 200 : entry.rejected?.startsWith('BAD_CIPHERTEXT') ? 500 : 401);
          const body =
            custom?.body ??
            (xml
              ? `<xml><return_code><![CDATA[${status === 200 ? 'SUCCESS' : 'FAIL'}]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>`
              : status === 200
                ? ''
                : JSON.stringify({ code: 'FAIL', message: entry.rejected ?? 'refused' }));
          res.writeHead(status, { 'content-type': xml ? 'text/xml' : 'application/json' }).end(body);
        })();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/wechatpay/refund-notify`;
    return this;
  }

  verified(): RefundNotification[] {
    return this.received.flatMap((r) => (r.notification ? [r.notification] : []));
  }

  clear(): void {
    this.received.length = 0;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Await a rejected promise and return its error (fails the test when it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Wait (real time) until the simulator has stored a refund with this number, e.g. while its reply is still held. */
export async function storedSoon(sim: SimulatorHandle, outRefundNo: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await sim.admin.refunds()).every((r) => r.outRefundNo !== outRefundNo)) {
    if (Date.now() > deadline) throw new Error(`refund ${outRefundNo} was not stored within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface SignedV3Reply {
  status: number;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  json?: Record<string, unknown>;
}

/**
 * A v3 call signed with the project's signing primitive (src/wechatpay/v3/sign.ts), without any gateway: the path
 * (with its query string) and body are signed exactly as sent.
 */
export async function signedV3(
  sim: SimulatorHandle,
  call: {
    method?: 'GET' | 'POST';
    path: string;
    body?: string;
    mchid?: string;
    /** Send to this path instead of the signed one (signature tests). */
    sendPath?: string;
  },
): Promise<SignedV3Reply> {
  const merchant = sim.manifest.merchants.find((m) => m.mchid === (call.mchid ?? DIRECT));
  if (!merchant?.privateKeyPem) throw new Error(`no generated key for merchant ${call.mchid ?? DIRECT}`);
  const method = call.method ?? (call.body === undefined ? 'GET' : 'POST');
  const authorization = buildV3Authorization({
    method,
    url: call.path,
    body: call.body ?? '',
    mchid: merchant.mchid,
    serialNo: merchant.serialNo,
    privateKey: merchant.privateKeyPem,
    timestamp: Math.floor(Date.now() / 1000),
    nonce: randomBytes(16).toString('hex'),
  });
  const res = await request(`${sim.baseUrl}${call.sendPath ?? call.path}`, {
    method,
    headers: {
      accept: 'application/json',
      'user-agent': 'simulator-test/1.0',
      authorization,
      ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: call.body,
  });
  const raw = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers as IncomingHttpHeaders,
    raw,
    json:
      raw.length && String(res.headers['content-type'] ?? '').includes('json')
        ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>)
        : undefined,
  };
}

/**
 * A v2 XML call signed with the project's v2 primitive (src/wechatpay/v2/sign.ts): appid, mch_id and nonce_str are
 * filled in for `mchid` (default the direct demo merchant), `apiKey` overrides the signing key (bad-sign tests).
 * Presents the merchant's client certificate unless `withCert` is false. Returns the parsed reply fields.
 */
export async function signedV2(
  sim: SimulatorHandle,
  path: string,
  params: Record<string, string | number | undefined>,
  opts: { mchid?: string; signType?: V2SignType; apiKey?: string; withCert?: boolean } = {},
): Promise<Record<string, string>> {
  const merchant = sim.manifest.merchants.find((m) => m.mchid === (opts.mchid ?? DIRECT));
  if (!merchant) throw new Error(`no merchant ${opts.mchid ?? DIRECT}`);
  const fields: Record<string, string | number | undefined> = {
    appid: merchant.appid,
    mch_id: merchant.mchid,
    nonce_str: randomBytes(8).toString('hex'),
    ...(opts.signType ? { sign_type: opts.signType } : {}),
    ...params,
  };
  fields.sign = signV2(fields, opts.apiKey ?? merchant.apiV2Key, opts.signType ?? 'MD5');
  const agent = new Agent({
    connect: {
      ca: sim.manifest.caCertificatePem,
      ...(opts.withCert !== false && merchant.certificatePem && merchant.privateKeyPem
        ? { cert: merchant.certificatePem, key: merchant.privateKeyPem }
        : {}),
    },
  });
  try {
    const res = await request(`${sim.v2BaseUrl}${path}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'text/xml' },
      body: buildV2Xml(fields),
    });
    return parseV2Xml(await res.body.text());
  } finally {
    await agent.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bill days (§12.1): bills go by Beijing-time days, and the simulated clock never goes back (reset keeps it), so each
// bill test works on a day of its own.
// ---------------------------------------------------------------------------------------------------------------

const HOUR_MS = 3_600_000;

/** The Beijing-time day (YYYY-MM-DD) of an instant. */
export const beijingDay = (ms: number): string => new Date(ms + 8 * HOUR_MS).toISOString().slice(0, 10);
/** An instant of a Beijing-time day, e.g. at('2026-11-30', '10:00:00'). */
export const at = (day: string, time: string): string => `${day}T${time}+08:00`;
export const nextDay = (day: string): string => beijingDay(Date.parse(at(day, '12:00:00')) + 24 * HOUR_MS);

/** Moves the simulator to `time` (Beijing) of the next day that has not started yet; returns that day. */
export async function freshBillDay(sim: SimulatorHandle, time: string): Promise<string> {
  const day = nextDay(beijingDay((await sim.admin.clock()).nowMs));
  await sim.admin.advance({ to: at(day, time) });
  return day;
}
