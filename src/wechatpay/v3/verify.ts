/**
 * Verification of a v3 reply or notification (reference §3.3): raw body bytes, timestamp window, SIGNTEST probes,
 * key chosen by Wechatpay-Serial (with one certificate refresh on an unknown serial), then SHA256withRSA.
 */
import { KeyObject, verify as rsaVerify } from 'node:crypto';
import { SIGNTEST_PREFIX } from './sign';
import { isPublicKeyId, WechatPayKeyring } from './keyring';

export type V3VerificationFailure =
  'MISSING_HEADERS' | 'STALE_TIMESTAMP' | 'SIGNTEST_PROBE' | 'UNKNOWN_SERIAL' | 'BAD_SIGNATURE';

export type V3VerificationResult =
  { ok: true; serial: string; timestamp: number } | { ok: false; reason: V3VerificationFailure; message: string };

export const DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 300;

export type HeaderBag = Record<string, string | string[] | undefined> | Headers;

/** Case-insensitive single header value (first one if repeated). */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const lower = name.toLowerCase();
  // Fast path: Node and undici hand over lower-cased header names.
  const direct = bag[lower];
  if (direct !== undefined) return Array.isArray(direct) ? direct[0] : direct;
  for (const key of Object.keys(bag)) {
    if (key.toLowerCase() !== lower) continue;
    const v = bag[key];
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

export interface V3VerifyInput {
  headers: HeaderBag;
  /** The body exactly as received. */
  rawBody: Buffer | string;
  keyring: WechatPayKeyring;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  toleranceSeconds?: number;
}

type Prechecked =
  | { done: V3VerificationResult }
  | { done?: undefined; timestamp: string; nonce: string; signature: string; serial: string; ts: number };

/** Header presence, SIGNTEST probes and the timestamp window: everything that needs no key. */
function precheck(input: V3VerifyInput): Prechecked {
  const timestamp = headerValue(input.headers, 'wechatpay-timestamp');
  const nonce = headerValue(input.headers, 'wechatpay-nonce');
  const signature = headerValue(input.headers, 'wechatpay-signature');
  const serial = headerValue(input.headers, 'wechatpay-serial');
  if (!timestamp || !nonce || !signature || !serial) {
    return {
      done: { ok: false, reason: 'MISSING_HEADERS', message: 'Wechatpay-Timestamp/Nonce/Signature/Serial missing' },
    };
  }
  // Probes are recognised first so they are reported as probes (logged quietly), whatever else is wrong with them.
  if (signature.startsWith(SIGNTEST_PREFIX)) {
    return { done: { ok: false, reason: 'SIGNTEST_PROBE', message: 'WECHATPAY/SIGNTEST/ probe signature' } };
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    return {
      done: { ok: false, reason: 'STALE_TIMESTAMP', message: 'Wechatpay-Timestamp is not a Unix time in seconds' },
    };
  }
  const ts = Number(timestamp);
  const nowSeconds = Math.floor((input.now ?? Date.now)() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TIMESTAMP_TOLERANCE_SECONDS;
  if (Math.abs(nowSeconds - ts) > tolerance) {
    return {
      done: { ok: false, reason: 'STALE_TIMESTAMP', message: `timestamp ${ts} is more than ${tolerance}s from now` },
    };
  }
  return { timestamp, nonce, signature, serial, ts };
}

function checkSignature(
  p: Exclude<Prechecked, { done: V3VerificationResult }>,
  key: KeyObject | undefined,
  rawBody: Buffer | string,
): V3VerificationResult {
  if (!key) return { ok: false, reason: 'UNKNOWN_SERIAL', message: `no WeChat key with serial ${p.serial}` };
  const message = signedMessage(p.timestamp, p.nonce, rawBody);
  let valid: boolean;
  try {
    // A signature that is not base64 decodes to bytes that cannot verify; no separate (costly) format check needed.
    valid = rsaVerify('sha256', message, key, Buffer.from(p.signature, 'base64'));
  } catch {
    valid = false;
  }
  return valid
    ? { ok: true, serial: p.serial, timestamp: p.ts }
    : { ok: false, reason: 'BAD_SIGNATURE', message: `signature does not verify with key ${p.serial}` };
}

/**
 * Synchronous verification when the key is already in the keyring; `undefined` when the serial is unknown and a
 * certificate refresh could still find it (then use verifyV3Message). Keeps the hot webhook path free of awaits.
 */
export function verifyV3MessageIfKeyKnown(input: V3VerifyInput): V3VerificationResult | undefined {
  const p = precheck(input);
  if (p.done) return p.done;
  const key = input.keyring.get(p.serial);
  if (!key && input.keyring.canRefresh && !isPublicKeyId(p.serial)) return undefined;
  return checkSignature(p, key, input.rawBody);
}

export async function verifyV3Message(input: V3VerifyInput): Promise<V3VerificationResult> {
  const p = precheck(input);
  if (p.done) return p.done;
  const key = input.keyring.get(p.serial) ?? (await input.keyring.resolve(p.serial));
  return checkSignature(p, key, input.rawBody);
}
/** `timestamp\nnonce\nbody\n` in one allocation (this runs for every reply and notification). */
function signedMessage(timestamp: string, nonce: string, rawBody: Buffer | string): Buffer {
  const head = `${timestamp}\n${nonce}\n`;
  const headLength = Buffer.byteLength(head, 'utf8');
  const bodyLength = typeof rawBody === 'string' ? Buffer.byteLength(rawBody, 'utf8') : rawBody.length;
  const out = Buffer.allocUnsafe(headLength + bodyLength + 1);
  out.write(head, 0, 'utf8');
  if (typeof rawBody === 'string') out.write(rawBody, headLength, 'utf8');
  else rawBody.copy(out, headLength);
  out[headLength + bodyLength] = 0x0a;
  return out;
}
