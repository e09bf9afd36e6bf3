/**
 * Generators and probes of reliability scenario 5 (hostile input): invalid values per field, mutations of a genuine
 * notification that always break what is signed, hostile XML documents, and leaf paths of configuration objects.
 */
import fc from 'fast-check';
import { request } from 'undici';

/** One fast-check seed per run, printed so a failure can be replayed (FC_SEED=<n> npx jest ...). */
export const FC_SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2_147_483_647;

/** Printable ASCII without space: survives HTTP header framing unchanged (Node trims surrounding whitespace). */
export const headerChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
export const headerValue = (maxLength = 40) => fc.string({ unit: headerChar, minLength: 1, maxLength });

/** Strings with what breaks naive code: unicode, combining marks, emoji, control characters, lone surrogates. */
export const nastyString = (maxLength = 40) =>
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\r\n',
      '\uD800',
      '💸💸',
      'é',
      'null',
      'undefined',
      '../../etc/passwd',
      '<xml/>',
      '${7*7}',
      '%00',
      'ＡＢＣ１２３',
    ),
  );

/** One generator per JSON-ish type; the `not…` generators below draw from all the others. */
const JSONISH = {
  string: fc.string({ maxLength: 10 }),
  integer: fc.integer(),
  double: fc.double(),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.integer(), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
};
const anythingBut = (...kinds: Array<keyof typeof JSONISH>) =>
  fc.oneof(
    ...Object.entries(JSONISH).flatMap(([kind, arb]) => (kinds.includes(kind as keyof typeof JSONISH) ? [] : [arb])),
  );

/** Values of any other JSON-ish type than the one expected. */
export const notAString = anythingBut('string');
export const notANumber = anythingBut('integer', 'double');
export const notABoolean = anythingBut('boolean', 'double');

/** Not a positive safe integer number of fen (M1). */
export const badFen = fc.oneof(
  fc.integer({ max: 0 }),
  fc.double({ noInteger: true }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 2 ** 53, 2 ** 60, 1e21, 1e308, Number.MAX_VALUE, 0.1 + 0.2),
  fc.integer({ min: 1, max: 1_000_000 }).map(String),
  notANumber,
);

const tradeChars = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-|*'.split(''));
/** Outside [0-9A-Za-z_-|*]{6,32}. */
export const badOutTradeNo = fc.oneof(
  fc.string({ unit: tradeChars, minLength: 0, maxLength: 5 }),
  fc.string({ unit: tradeChars, minLength: 33, maxLength: 80 }),
  fc
    .tuple(
      fc.string({ unit: tradeChars, minLength: 3, maxLength: 10 }),
      nastyString(5),
      fc.string({ unit: tradeChars, maxLength: 10 }),
    )
    .map(([a, b, c]) => `${a}${b}${c}`)
    .filter((s) => !/^[0-9A-Za-z_\-|*]{6,32}$/.test(s)),
  notAString,
);
/** Outside [0-9A-Za-z_-|*@]{1,64}, or the reserved `order-` prefix. */
export const badOutRefundNo = fc.oneof(
  fc.constant(''),
  fc.string({ unit: tradeChars, minLength: 65, maxLength: 100 }),
  fc.string({ unit: tradeChars, minLength: 1, maxLength: 20 }).map((s) => `order-${s}`),
  fc
    .tuple(fc.string({ unit: tradeChars, maxLength: 10 }), nastyString(5))
    .map(([a, b]) => `${a}${b}`)
    .filter((s) => !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(s)),
  notAString,
);
/** Not an ISO-8601 date-time with offset. */
export const badPaidAt = fc.oneof(
  fc.constantFrom(
    '2026-11-20',
    '2026-11-20T10:00:00',
    '2026-11-20 10:00:00+08:00',
    '2026-02-30T10:00:00+08:00',
    '2026-13-01T00:00:00+08:00',
    '2026-11-20T25:00:00+08:00',
    '20261120T100000+0800',
    'yesterday',
    'Invalid Date',
    '',
  ),
  nastyString(30).filter((s) => !/^\d{4}-\d{2}-\d{2}T/.test(s)),
  fc.date({ noInvalidDate: true }),
  notAString,
);
/** Field, invalid value: the order side of requestRefund. */
export const orderMutation = fc.oneof(
  fc.tuple(fc.constant('outTradeNo'), badOutTradeNo),
  fc.tuple(fc.constant('paidTotalFen'), badFen),
  fc.tuple(fc.constant('paidAt'), badPaidAt),
  fc.tuple(
    fc.constant('payerBankType'),
    fc.oneof(fc.constantFrom('others', 'ICBC DEBIT', 'X'.repeat(33), 'ＩＣＢＣ'), notAString),
  ),
  fc.tuple(fc.constant('subMchid'), fc.oneof(fc.constantFrom('', 'abc', '1'.repeat(33), '19000 0001'), notAString)),
  fc.tuple(fc.constant('transactionId'), fc.oneof(fc.constantFrom('', 'x'.repeat(33), '4200-0001'), notAString)),
  fc.tuple(
    fc.constant('notifyUrl'),
    fc.oneof(
      fc.constantFrom('http://pay.example.com/notify', 'https://x.example/n?a=1', 'ftp://x', 'https://'),
      notAString,
    ),
  ),
  fc.tuple(
    fc.constant('minSpacingMs'),
    fc.oneof(fc.integer({ min: -1_000, max: 59_999 }), fc.double({ noInteger: true }), notANumber),
  ),
  fc.tuple(fc.constant('maxHistoryEvents'), fc.oneof(fc.integer({ min: -5, max: 19 }), notANumber)),
  fc.tuple(fc.constant('fundsAccount'), fc.oneof(fc.constantFrom('UNSETTLED', 'available', ''), notAString)),
  fc.tuple(
    fc.constant('polling'),
    fc.oneof(
      fc.constant({
        balance: {
          initialOffsetsMs: [5_000, 1_000],
          thenEveryMs: 1_000,
          horizon: { calendarDays: 1, businessDays: 0 },
        },
      }),
      fc.constant({ waitingEveryMs: -1 }),
      fc.constant({ holidays: ['2026/10/01'] }),
      fc.string({ maxLength: 5 }),
      fc.integer(),
    ),
  ),
);
/** Field, invalid value: the refund side. */
export const refundMutation = fc.oneof(
  fc.tuple(fc.constant('outRefundNo'), badOutRefundNo),
  fc.tuple(fc.constant('amountFen'), badFen),
  fc.tuple(
    fc.constant('reason'),
    fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 81, maxLength: 200 }),
      fc.constantFrom('退'.repeat(81), 'x'.repeat(2 * 1024 * 1024)),
      notAString,
    ),
  ),
  fc.tuple(fc.constant('requestedBy'), fc.oneof(fc.string({ minLength: 129, maxLength: 300 }), notAString)),
);

/** Extra fields with odd names that must not get past validation either way (they ride along a real mistake). */
export const extraFields = fc.dictionary(
  fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'toString', 'paidTotalFenn', 'amount_fen', '💸'),
    fc.string({ maxLength: 8 }),
  ),
  fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)),
  { maxKeys: 3 },
);

// ---------------------------------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  status: number;
  text: string;
  ms: number;
}

export async function post(url: string, headers: Record<string, string>, body: Buffer | string): Promise<Answer> {
  const started = Date.now();
  const res = await request(url, { method: 'POST', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: Date.now() - started };
}

/** A refusal never carries a stack trace, an exception name, a file path or an echo of the input. */
export function leaksNothing(text: string): boolean {
  return !/\bat \S+:\d+|node_modules|Error\b|\/etc\/passwd|root:x:0|lol{3}/.test(text);
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations of a genuine v3 notification: each one changes signed material, so none may be accepted.

export const SIGNED_HEADERS = [
  'wechatpay-timestamp',
  'wechatpay-nonce',
  'wechatpay-signature',
  'wechatpay-serial',
] as const;

export type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'header'; name: (typeof SIGNED_HEADERS)[number]; value: string }
  | { kind: 'drop-header'; name: (typeof SIGNED_HEADERS)[number] }
  | { kind: 'content-type'; value: string };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('header' as const),
    name: fc.constantFrom(...SIGNED_HEADERS),
    value: fc.oneof(
      headerValue(),
      fc.integer({ min: 0, max: 2 ** 40 }).map(String),
      fc.base64String({ minLength: 4, maxLength: 400 }),
    ),
  }),
  fc.record({ kind: fc.constant('drop-header' as const), name: fc.constantFrom(...SIGNED_HEADERS) }),
  fc.record({
    kind: fc.constant('content-type' as const),
    value: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'text/xml',
      'application/xml',
      'multipart/form-data',
      'application/jsonx',
      'json',
    ),
  }),
);

export interface Request {
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Applies one mutation. A sequence may cancel out (insert then delete the same byte, a header set to its own value,
 * base64 text decoding to the same signature bytes): callers compare the result with the original (`sameSigned`).
 */
export function applyMutation(genuine: Request, m: Mutation): Request {
  const body = genuine.body;
  const headers = { ...genuine.headers };
  switch (m.kind) {
    case 'flip': {
      const out = Buffer.from(body);
      out[m.at % out.length] ^= m.xor;
      return { headers, body: out };
    }
    case 'insert': {
      const at = m.at % (body.length + 1);
      return { headers, body: Buffer.concat([body.subarray(0, at), Buffer.from(m.bytes), body.subarray(at)]) };
    }
    case 'delete': {
      const at = m.at % body.length;
      return { headers, body: Buffer.concat([body.subarray(0, at), body.subarray(at + m.length)]) };
    }
    case 'truncate':
      return { headers, body: body.subarray(0, m.keep % body.length) };
    case 'header':
      headers[m.name] = m.value;
      return { headers, body };
    case 'drop-header':
      delete headers[m.name];
      return { headers, body };
    case 'content-type':
      headers['content-type'] = m.value;
      return { headers, body };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile XML

export function billionLaughs(root = 'xml'): string {
  const ents = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) ents.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return `<?xml version="1.0"?><!DOCTYPE ${root} [${ents.join('')}]><${root}><return_code>&lol9;</return_code></${root}>`;
}

export const HOSTILE_XML: Record<string, string> = {
  'billion laughs': billionLaughs(),
  'external entity file:///etc/passwd':
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><return_code>&xxe;</return_code></xml>',
  'external parameter entity':
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><xml><return_code>SUCCESS</return_code></xml>',
  'bare DOCTYPE': '<!DOCTYPE xml><xml><return_code>SUCCESS</return_code></xml>',
  'DOCTYPE in lower case with SYSTEM id': '<!doctype xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml><a>1</a></xml>',
  'entity declared after a comment': '<!-- x --><!ENTITY a "b"><xml><a>&a;</a></xml>',
  'deeply nested elements (8,000 levels)': `<xml>${'<a>'.repeat(8_000)}x${'</a>'.repeat(8_000)}</xml>`,
  'undeclared entity': '<xml><return_code>&nbsp;</return_code></xml>',
  'code point beyond Unicode': '<xml><return_code>&#x110000;</return_code></xml>',
  'element named __proto__': '<xml><__proto__>x</__proto__><return_code>SUCCESS</return_code></xml>',
  'unterminated CDATA': '<xml><return_code><![CDATA[SUCCESS</return_code></xml>',
  'two roots': '<xml><a>1</a></xml><xml><a>2</a></xml>',
};

// ---------------------------------------------------------------------------------------------------------------
// API v2 req_info is AES-256-ECB: whole 16-byte blocks can be cut out of a genuine ciphertext and the rest still
// decrypts (the padding block is kept last). No key is needed to do that.

/** Every ciphertext with one block, then two blocks, removed (never the final padding block). */
export function* ecbBlockCuts(reqInfoBase64: string): Generator<string> {
  const ct = Buffer.from(reqInfoBase64, 'base64');
  const n = ct.length / 16;
  const without = (drop: number[]) =>
    Buffer.concat(
      Array.from({ length: n }, (_, i) => i)
        .filter((i) => !drop.includes(i))
        .map((i) => ct.subarray(i * 16, i * 16 + 16)),
    ).toString('base64');
  for (let i = 0; i < n - 1; i++) yield without([i]);
  for (let i = 0; i < n - 1; i++) for (let j = i + 1; j < n - 1; j++) yield without([i, j]);
}
