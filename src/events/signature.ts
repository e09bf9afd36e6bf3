/**
 * The signature of a refund event, Stripe's scheme so that order services reuse code they already know:
 *
 *   Refund-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * `t` is the time of the attempt, inside the signed text: a captured delivery replayed later fails the timestamp
 * tolerance, and each retry is signed afresh. A header may carry several `v1` entries (one per secret while a secret
 * is being rotated) and a receiver may accept several secrets (the old and the new one); any pair that matches is
 * enough. node:crypto only, so docs/events.md can show the same few lines to order services.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Stripe's default: five minutes either way, enough for clock skew and a slow network, short for a replay. */
export const DEFAULT_TOLERANCE_SEC = 300;

const SIGNATURE_HEX = /^[0-9a-f]{64}$/;

function hmacHex(secret: string, timestampSec: number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSec}.`, 'utf8').update(rawBody).digest('hex');
}

/** The header value for one attempt. `rawBody` is exactly the bytes that are sent. */
export function signatureHeader(secret: string, rawBody: string | Buffer, timestampSec: number): string {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new RangeError(`timestampSec must be whole unix seconds, got ${timestampSec}`);
  }
  return `t=${timestampSec},v1=${hmacHex(secret, timestampSec, rawBody)}`;
}

export type SignatureCheck = { ok: true; timestampSec: number } | { ok: false; reason: string };

export interface VerifyOptions {
  /** How far `t` may be from now, either way (seconds). */
  toleranceSec?: number;
  /** Now, in unix seconds (tests); default the clock. */
  nowSec?: number;
}

interface ParsedHeader {
  timestampSec: number;
  signatures: Buffer[];
}

/** `t=…,v1=…[,v1=…]`; other schemes (v0…) are ignored, as Stripe's libraries do. */
function parseHeader(header: string): ParsedHeader | string {
  let timestampSec: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return 'malformed Refund-Signature header (expected t=<seconds>,v1=<hex>)';
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestampSec !== undefined) return 'Refund-Signature has more than one t';
      if (!/^[0-9]{1,12}$/.test(value)) return 'Refund-Signature t is not unix seconds';
      timestampSec = Number(value);
    } else if (key === 'v1' && SIGNATURE_HEX.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestampSec === undefined) return 'Refund-Signature has no t';
  if (signatures.length === 0) return 'Refund-Signature has no v1 signature (64 lower-case hex digits)';
  return { timestampSec, signatures };
}

/**
 * Checks a received event: the header parses, some `v1` matches some secret over "<t>.<rawBody>", and `t` is within
 * the tolerance. Comparisons are constant-time and not cut short, so timing does not say how close a forgery came.
 * Pass the body exactly as received (before any JSON parsing): re-serialised JSON does not verify.
 */
export function verifyEventSignature(
  header: string | undefined,
  rawBody: string | Buffer,
  secrets: readonly string[],
  { toleranceSec = DEFAULT_TOLERANCE_SEC, nowSec = Math.floor(Date.now() / 1000) }: VerifyOptions = {},
): SignatureCheck {
  if (secrets.length === 0) return { ok: false, reason: 'no secret to verify with' };
  if (!header) return { ok: false, reason: 'no Refund-Signature header' };
  const parsed = parseHeader(header);
  if (typeof parsed === 'string') return { ok: false, reason: parsed };
  const { timestampSec, signatures } = parsed;
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(hmacHex(secret, timestampSec, rawBody), 'hex');
    for (const given of signatures) {
      // Both are 32 bytes (the header's entries were checked to be 64 hex digits), as timingSafeEqual requires.
      if (timingSafeEqual(expected, given)) matched = true;
    }
  }
  if (!matched) return { ok: false, reason: 'no v1 signature matches (wrong secret, or the body was changed)' };
  if (Math.abs(nowSec - timestampSec) > toleranceSec) {
    return { ok: false, reason: `timestamp ${timestampSec} is more than ${toleranceSec} s from now (${nowSec})` };
  }
  return { ok: true, timestampSec };
}
