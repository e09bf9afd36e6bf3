/**
 * Field rules shared by the v3 and v2 schemas (reference §1.1, §2.1). Every message states the rule, and
 * formatZodError prefixes the field path, so an error reads like "amount.refund: must be a positive integer number of fen".
 */
import { z } from 'zod';

export const FEN_RULE = 'must be a positive integer number of fen';
export const FEN_OR_ZERO_RULE = 'must be a non-negative integer number of fen';

type Input = { input?: unknown };
const required = (rule: string) => (iss: Input) => (iss.input === undefined ? `is required (${rule})` : rule);

/** A string that must match `re`; the rule text is used for every failure (type, length, charset). */
export function ruleString(re: RegExp, rule: string) {
  return z.string({ error: required(rule) }).regex(re, { error: rule });
}

/** A string of `min`–`max` characters (JS string length, i.e. UTF-16 units; WeChat counts characters). */
export function lengthString(min: number, max: number) {
  const rule = min === max ? `must be ${min} characters` : `must be ${min}-${max} characters`;
  return z
    .string({ error: required(rule) })
    .min(min, { error: rule })
    .max(max, { error: rule });
}

/** Money: safe positive integer (fen, no decimals; M1). */
export const fenSchema = z.int({ error: required(FEN_RULE) }).positive({ error: FEN_RULE });
/** Money that may legitimately be zero in replies (discount_refund, coupon parts). */
export const fenOrZeroSchema = z.int({ error: required(FEN_OR_ZERO_RULE) }).nonnegative({ error: FEN_OR_ZERO_RULE });

export const OUT_REFUND_NO_RULE = 'must be 1-64 characters of [0-9A-Za-z_-|*@]';
export const OUT_TRADE_NO_RULE = 'must be 6-32 characters of [0-9A-Za-z_-|*]';

export const outRefundNoSchema = ruleString(/^[0-9A-Za-z_\-|*@]{1,64}$/, OUT_REFUND_NO_RULE);
export const outTradeNoSchema = ruleString(/^[0-9A-Za-z_\-|*]{6,32}$/, OUT_TRADE_NO_RULE);
export const transactionIdSchema = ruleString(/^[0-9A-Za-z]{1,32}$/, 'must be 1-32 letters or digits');
export const mchidSchema = ruleString(/^[0-9]{1,32}$/, 'must be 1-32 digits');
export const refundIdSchema = ruleString(/^[0-9]{1,32}$/, 'must be 1-32 digits');
export const appidSchema = ruleString(/^[0-9A-Za-z_-]{1,32}$/, 'must be 1-32 characters of [0-9A-Za-z_-]');
/** M12: shown to the payer; 80 characters at most. */
export const reasonSchema = z
  .string({ error: required('must be a string of at most 80 characters') })
  .max(80, { error: 'must be at most 80 characters' });
/** Currency of a request this engine sends: always CNY (M2). */
export const requestCurrencySchema = z.literal('CNY', { error: "must be 'CNY' (the only supported currency)" });
/** Request side under its historical name (requests still always say CNY). */
export const currencySchema = requestCurrencySchema;
export const CURRENCY_RULE = 'must be a currency code of 1-16 upper-case letters, digits or _';
/**
 * Currency in a reply or notification: whatever WeChat wrote, as long as it looks like a currency code. It is not
 * pinned to CNY here: the workflow compares it with the request (domain/evidence.ts) and names the difference, which a
 * parse failure could not do.
 */
export const replyCurrencySchema = ruleString(/^[A-Z][A-Z0-9_]{0,15}$/, CURRENCY_RULE);

/**
 * Order trade_state (§11): SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR, the same words in v3 and v2.
 * Kept as a word, not an enum: an unknown state is passed on (and is not refundable) instead of failing a verified reply.
 */
export const TRADE_STATE_RULE = 'must be a trade_state such as SUCCESS, REFUND or NOTPAY';
export const tradeStateSchema = ruleString(/^[A-Z_]{1,32}$/, TRADE_STATE_RULE);

/**
 * notify_url: 8-256 characters, absolute URL without query string (§3.6). WeChat itself only calls https:// URLs;
 * http:// is accepted here because the local simulator delivers to a plain-HTTP webhook.
 */
export const NOTIFY_URL_RULE = 'must be an http(s) URL of 8-256 characters without query string';
export const notifyUrlSchema = z
  .string({ error: required(NOTIFY_URL_RULE) })
  .min(8, { error: NOTIFY_URL_RULE })
  .max(256, { error: NOTIFY_URL_RULE })
  .regex(/^https?:\/\/[^\s?#]+$/, { error: NOTIFY_URL_RULE });

/** RFC 3339 with offset, e.g. 2020-12-01T16:18:12+08:00 (§3.1). */
export const rfc3339Schema = ruleString(
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  'must be an RFC 3339 time with offset',
);

/** v2 `yyyy-MM-dd HH:mm:ss` (Beijing time). */
export const v2TimeSchema = ruleString(
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/,
  'must be a time as yyyy-MM-dd HH:mm:ss',
);

/** v2 `yyyyMMddHHmmss` (Beijing time): time_end of the order query. */
export const v2CompactTimeSchema = ruleString(
  /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d[0-5]\d$/,
  'must be a time as yyyyMMddHHmmss',
);

/** v2 XML carries numbers as text: accept a digit string (or a number) and check it as fen. */
export function v2Number<T extends z.ZodType>(inner: T) {
  return z.preprocess((v) => (typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : v), inner);
}
export const v2FenSchema = v2Number(fenSchema);
export const v2FenOrZeroSchema = v2Number(fenOrZeroSchema);
export const v2CountSchema = v2Number(
  z.int({ error: 'must be a non-negative integer' }).nonnegative({ error: 'must be a non-negative integer' }),
);

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(root)' : path.map((p) => String(p)).join('.');
}

/** "field.path: rule; other.field: rule" — what InvalidRequest and PARAM_ERROR details show. */
export function formatZodError(error: z.ZodError): string {
  return error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`).join('; ');
}

export function zodIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((i) => ({ path: pathOf(i.path), message: i.message }));
}
