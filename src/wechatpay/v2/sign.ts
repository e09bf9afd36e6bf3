/**
 * API v2 signatures (reference §5.2): every non-empty parameter except `sign`, sorted by name in ASCII byte order,
 * joined as `k=v&...`, then `&key=<API key>`; MD5 or HMAC-SHA256 (keyed with the API key), upper-case hex.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type V2SignType = 'MD5' | 'HMAC-SHA256';
export const V2_SIGN_TYPES: readonly V2SignType[] = ['MD5', 'HMAC-SHA256'];

function fieldValue(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  // Objects would have to be serialised the same way on both sides; v2 only ever sends text (detail is a JSON *string*).
  throw new TypeError(`v2 parameter ${name} must be a string or number`);
}

/** The exact string that is hashed (exported for tests and debugging of sign mismatches). */
export function buildV2SignString(params: Record<string, unknown>, apiKey: string): string {
  const pairs: string[] = [];
  // Default sort compares UTF-16 code units, which equals ASCII byte order for WeChat's ASCII parameter names.
  for (const name of Object.keys(params).sort()) {
    if (name === 'sign') continue;
    const v = fieldValue(name, params[name]);
    if (v === undefined || v === '') continue;
    pairs.push(`${name}=${v}`);
  }
  pairs.push(`key=${apiKey}`);
  return pairs.join('&');
}

export function signV2(params: Record<string, unknown>, apiKey: string, signType: V2SignType = 'MD5'): string {
  const input = Buffer.from(buildV2SignString(params, apiKey), 'utf8');
  switch (signType) {
    case 'MD5':
      return createHash('md5').update(input).digest('hex').toUpperCase();
    case 'HMAC-SHA256':
      return createHmac('sha256', apiKey).update(input).digest('hex').toUpperCase();
    default:
      throw new TypeError(`unsupported v2 sign_type ${String(signType)}`);
  }
}

/** sign_type as sent: absent means MD5; anything unknown is undefined (the sign cannot be checked). */
export function parseV2SignType(value: unknown): V2SignType | undefined {
  if (value === undefined || value === null || value === '') return 'MD5';
  return V2_SIGN_TYPES.find((t) => t === value);
}

/**
 * Check `params.sign`. The algorithm is `params.sign_type` (MD5 when absent) unless `signType` is given — replies
 * are signed with the request's algorithm and do not always echo sign_type. Constant-time comparison.
 */
export function verifyV2Sign(params: Record<string, unknown>, apiKey: string, signType?: V2SignType): boolean {
  const given = params.sign;
  if (typeof given !== 'string' || given.length === 0) return false;
  const type = signType ?? parseV2SignType(params.sign_type);
  if (!type) return false;
  const expected = Buffer.from(signV2(params, apiKey, type), 'utf8');
  const actual = Buffer.from(given.toUpperCase(), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
