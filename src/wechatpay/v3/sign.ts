/**
 * API v3 signatures (reference §3.2, §3.3): SHA256withRSA (RSASSA-PKCS1-v1_5) over newline-terminated lines.
 * Pure functions, no clock. The simulator shares only the crypto primitives here (message string, RSA-SHA256 sign and
 * verify), which published vectors pin down; it parses requests with its own code (src/simulator/wire).
 */
import { randomBytes, sign as rsaSign, verify as rsaVerify } from 'node:crypto';
import { KeyLike, toPrivateKey, toPublicKey } from '../key-objects';

export type { KeyLike } from '../key-objects';

export const V3_AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat deliberately sends notifications with this signature prefix to check that merchants really verify (§4.8). */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';

type Bytes = string | Buffer;

function toBuffer(b: Bytes | undefined | null): Buffer {
  if (b === undefined || b === null) return Buffer.alloc(0);
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

/** Each line terminated by "\n", including the last one. */
export function buildSignMessage(lines: string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * Same as buildSignMessage, but the last line is raw bytes: signatures cover the body exactly as sent/received,
 * and decoding arbitrary bytes to a JS string and back would not be lossless.
 */
function buildSignBytes(lines: string[], body: Bytes | undefined | null): Buffer {
  return Buffer.concat([Buffer.from(buildSignMessage(lines), 'utf8'), toBuffer(body), Buffer.from('\n', 'utf8')]);
}

/** SHA256withRSA signature, base64. */
export function signSha256Rsa(message: Bytes, privateKey: KeyLike): string {
  return rsaSign('sha256', toBuffer(message), toPrivateKey(privateKey)).toString('base64');
}

/**
 * SHA256withRSA check. Returns false for any wrong or undecodable signature; throws only when the key itself cannot be
 * parsed (a configuration error that must not be mistaken for a forged message).
 */
export function verifySha256Rsa(message: Bytes, signatureB64: string, publicKeyOrCertPem: KeyLike): boolean {
  const key = toPublicKey(publicKeyOrCertPem);
  if (typeof signatureB64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64)) return false;
  try {
    return rsaVerify('sha256', toBuffer(message), key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** 32 random alphanumerics, as WeChat recommends for nonces. */
export function generateNonce(length = 32): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      // 248 = 62 * 4: rejecting bytes >= 248 keeps every character equally likely.
      if (byte < 248 && out.length < length) out += alphabet[byte % 62];
    }
  }
  return out;
}

export interface V3AuthorizationInput {
  method: string;
  /** Absolute path plus `?query`, exactly as sent on the wire (percent-encoding included). */
  url: string;
  /** Exact request body bytes; empty/undefined for GET. */
  body?: Bytes | null;
  /** The caller: merchant (direct mode) or service provider sp_mchid (partner mode). */
  mchid: string;
  /** Serial of the merchant API certificate (never a platform serial or PUB_KEY_ID_…). */
  serialNo: string;
  privateKey: KeyLike;
  timestamp: number | string;
  nonce: string;
}

/** The request signature alone (what goes into signature="..."). */
export function signV3Request(input: Omit<V3AuthorizationInput, 'mchid' | 'serialNo'>): string {
  const message = buildSignBytes(
    [input.method.toUpperCase(), input.url, String(input.timestamp), input.nonce],
    input.body,
  );
  return signSha256Rsa(message, input.privateKey);
}

/** Full `Authorization` header value for a v3 request. */
export function buildV3Authorization(input: V3AuthorizationInput): string {
  const signature = signV3Request(input);
  return (
    `${V3_AUTH_SCHEME} mchid="${input.mchid}",nonce_str="${input.nonce}",signature="${signature}",` +
    `timestamp="${String(input.timestamp)}",serial_no="${input.serialNo}"`
  );
}

export interface ParsedV3Authorization {
  mchid: string;
  serialNo: string;
  nonceStr: string;
  timestamp: string;
  signature: string;
}

export class MalformedAuthorization extends Error {
  override readonly name = 'MalformedAuthorization';
}

const AUTH_FIELDS = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'] as const;

/**
 * Parse `WECHATPAY2-SHA256-RSA2048 k="v",...`: the five pairs in any order, commas with optional whitespace,
 * every one required exactly once. Throws MalformedAuthorization otherwise. Used by tests' fake servers; the
 * simulator reads the header with its own parser (src/simulator/wire/v3-authorization.ts).
 */
export function parseV3Authorization(header: string): ParsedV3Authorization {
  if (typeof header !== 'string') throw new MalformedAuthorization('Authorization header missing');
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${V3_AUTH_SCHEME} `)) {
    throw new MalformedAuthorization(`Authorization scheme must be ${V3_AUTH_SCHEME}`);
  }
  const rest = trimmed.slice(V3_AUTH_SCHEME.length).trim();
  const pair = /^([a-z_]+)="([^"]*)"\s*(?:,\s*|$)/;
  const found = new Map<string, string>();
  let cursor = rest;
  while (cursor.length > 0) {
    const m = pair.exec(cursor);
    if (!m) throw new MalformedAuthorization(`cannot parse Authorization near: ${cursor.slice(0, 20)}`);
    const [whole, k, v] = m;
    if (!(AUTH_FIELDS as readonly string[]).includes(k)) throw new MalformedAuthorization(`unknown field ${k}`);
    if (found.has(k)) throw new MalformedAuthorization(`duplicate field ${k}`);
    found.set(k, v);
    cursor = cursor.slice(whole.length);
  }
  for (const k of AUTH_FIELDS) {
    if (!found.get(k)) throw new MalformedAuthorization(`Authorization field ${k} is missing or empty`);
  }
  return {
    mchid: found.get('mchid') as string,
    nonceStr: found.get('nonce_str') as string,
    signature: found.get('signature') as string,
    timestamp: found.get('timestamp') as string,
    serialNo: found.get('serial_no') as string,
  };
}

export interface V3RequestVerificationInput {
  method: string;
  url: string;
  body?: Bytes | null;
  timestamp: number | string;
  nonce: string;
  signature: string;
  publicKey: KeyLike;
}

/** Simulator side: check a request signature against the merchant certificate named by serial_no. */
export function verifyV3RequestSignature(input: V3RequestVerificationInput): boolean {
  const message = buildSignBytes(
    [input.method.toUpperCase(), input.url, String(input.timestamp), input.nonce],
    input.body,
  );
  return verifySha256Rsa(message, input.signature, input.publicKey);
}

export interface V3SignatureInput {
  timestamp: number | string;
  nonce: string;
  /** Raw body bytes (a string is taken as its UTF-8 bytes). */
  body?: Bytes | null;
  signature: string;
  /** PEM public key, PEM certificate or KeyObject. */
  publicKey: KeyLike;
}

/** Response/notification signature over `timestamp\nnonce\nbody\n`. Pure: no clock, no SIGNTEST policy. */
export function verifyV3Signature(input: V3SignatureInput): boolean {
  const message = buildSignBytes([String(input.timestamp), input.nonce], input.body);
  return verifySha256Rsa(message, input.signature, input.publicKey);
}

/** WeChat side (simulator): sign a reply or notification body. */
export function signV3Response(input: {
  timestamp: number | string;
  nonce: string;
  body?: Bytes | null;
  privateKey: KeyLike;
}): string {
  return signSha256Rsa(buildSignBytes([String(input.timestamp), input.nonce], input.body), input.privateKey);
}
