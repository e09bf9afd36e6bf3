/**
 * HTTP transport shared by the v3 and v2 clients: one keep-alive undici Pool per base URL, explicit connect /
 * headers / body timeouts, optional TLS material (CA for a local simulator, client certificate for v2 mTLS), and
 * the classification of transport failures.
 *
 * A failure after the request may have left this process is an UnknownOutcome (the refund may or may not exist;
 * retry with the same out_refund_no). TLS certificate rejections happen before any HTTP byte is processed and
 * cannot fix themselves, so they go to a human (§8.6 F20).
 */
import { Pool } from 'undici';
import { NeedsOperator, UnknownOutcome, WechatPayError } from './errors';

export interface HttpTimeouts {
  connectMs: number;
  headersMs: number;
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 };

export interface TlsMaterial {
  /** Extra trusted CA(s), e.g. the local simulator's; WeChat's real hosts use public CAs. */
  ca?: string | Buffer;
  /** Client certificate and key for v2 mutual TLS (apiclient_cert.pem / apiclient_key.pem). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Endpoint {
  pool: Pool;
  /**
   * Whole-request deadline, time queued for a connection included. The per-phase timeouts only start once the
   * request is on a socket, so without it a few hanging calls that hold every connection would leave the others
   * queued until the activity's own timeout, unclassified (found by the reliability suite).
   */
  deadlineMs: number;
  /** Path prefix of the base URL ('' for WeChat's own hosts); part of the signed URL. */
  pathPrefix: string;
  origin: string;
}

export function createEndpoint(baseUrl: string, timeouts: HttpTimeouts, tls: TlsMaterial = {}): Endpoint {
  const url = new URL(baseUrl);
  const pool = new Pool(url.origin, {
    connect: {
      timeout: timeouts.connectMs,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
    },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
    keepAliveTimeout: 30_000,
    connections: 32,
  });
  const deadlineMs = timeouts.connectMs + timeouts.headersMs + timeouts.bodyMs;
  return { pool, deadlineMs, origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, '') };
}

/** Replies larger than this are not WeChat replies; refuse to buffer them. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export async function send(
  endpoint: Endpoint,
  req: { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: Buffer },
): Promise<RawResponse> {
  try {
    const res = await endpoint.pool.request({
      method: req.method,
      path: req.path,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(endpoint.deadlineMs),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > MAX_BODY_BYTES) {
        res.body.destroy();
        throw new UnknownOutcome({
          code: 'RESPONSE_TOO_LARGE',
          message: 'reply body exceeds 2 MiB',
          httpStatus: res.statusCode,
        });
      }
      chunks.push(b);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  } catch (e) {
    if (e instanceof WechatPayError) throw e;
    throw classifyTransportError(e);
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const SERVER_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** The peer refused our client certificate (or we sent none): OpenSSL alert names as Node reports them. */
const CLIENT_CERT_REJECTED =
  /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)|alert (bad certificate|certificate required|unknown ca|certificate unknown)/i;

function causes(e: unknown): Array<{ name?: string; code?: string; message?: string }> {
  const out: Array<{ name?: string; code?: string; message?: string }> = [];
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const err = cur as { code?: unknown; message?: unknown; cause?: unknown };
    out.push({
      name: typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined,
      code: typeof err.code === 'string' ? err.code : undefined,
      message: typeof err.message === 'string' ? err.message : undefined,
    });
    cur = err.cause;
  }
  return out;
}

export function classifyTransportError(e: unknown): WechatPayError {
  const chain = causes(e);
  const text = chain.map((c) => `${c.code ?? ''} ${c.message ?? ''}`).join(' | ');
  if (
    chain.some(
      (c) => (c.code && CLIENT_CERT_REJECTED.test(c.code)) || (c.message && CLIENT_CERT_REJECTED.test(c.message)),
    )
  ) {
    return new NeedsOperator({ code: 'CERT_ERROR', message: `TLS client certificate rejected: ${text}`, cause: e });
  }
  if (chain.some((c) => c.code && SERVER_CERT_CODES.has(c.code))) {
    return new NeedsOperator({
      code: 'TLS_SERVER_CERTIFICATE',
      message: `server certificate not trusted: ${text}`,
      cause: e,
    });
  }
  if (chain.some((c) => (c.code && TIMEOUT_CODES.has(c.code)) || c.name === 'TimeoutError')) {
    return new UnknownOutcome({ code: 'TIMEOUT', message: text, cause: e });
  }
  return new UnknownOutcome({ code: 'NETWORK_ERROR', message: text || String(e), cause: e });
}
