/**
 * The v3 `Authorization` header as WeChat reads it (docs/wechatpay-protocol.md §3.2):
 * `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`. The five pairs may
 * come in any order, separated by commas with optional whitespace; each is required exactly once and must not be
 * empty. The simulator's own reading, independent of how the client writes the header (src/wechatpay/v3/sign.ts).
 */

export const AUTHORIZATION_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

export interface AuthorizationFields {
  mchid: string;
  nonceStr: string;
  signature: string;
  timestamp: string;
  serialNo: string;
}

/** The header cannot be read; the message is the 401 SIGN_ERROR answer. */
export class UnreadableAuthorization extends Error {
  override readonly name = 'UnreadableAuthorization';
}

const FIELDS = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'] as const;
const PAIR = /^([a-z_]+)="([^"]*)"\s*(?:,\s*|$)/;

export function readAuthorization(header: string): AuthorizationFields {
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${AUTHORIZATION_SCHEME} `)) {
    throw new UnreadableAuthorization(`Authorization scheme must be ${AUTHORIZATION_SCHEME}`);
  }
  const found = new Map<string, string>();
  let rest = trimmed.slice(AUTHORIZATION_SCHEME.length).trim();
  while (rest.length > 0) {
    const m = PAIR.exec(rest);
    if (!m) throw new UnreadableAuthorization(`cannot parse Authorization near: ${rest.slice(0, 20)}`);
    const [whole, name, value] = m;
    if (!(FIELDS as readonly string[]).includes(name)) throw new UnreadableAuthorization(`unknown field ${name}`);
    if (found.has(name)) throw new UnreadableAuthorization(`duplicate field ${name}`);
    found.set(name, value);
    rest = rest.slice(whole.length);
  }
  const field = (name: (typeof FIELDS)[number]): string => {
    const value = found.get(name);
    if (!value) throw new UnreadableAuthorization(`Authorization field ${name} is missing or empty`);
    return value;
  };
  // Checked in the header's documented order, so the first missing field named is the same every time.
  const [mchid, nonceStr, signature, timestamp, serialNo] = FIELDS.map(field);
  return { mchid, nonceStr, signature, timestamp, serialNo };
}
