/**
 * The field rules WeChat enforces on requests, as docs/wechatpay-protocol.md states them (§1.1 identifiers, §2.1
 * money rules M1/M2/M12, §3.6 notify_url). The simulator's own statement of the protocol: nothing here is imported
 * from the client (src/wechatpay), so a mistake in the client's schemas shows up as a refused request in the tests
 * instead of being mirrored on both sides.
 *
 * Every message names the rule; callers prefix the field ("amount.refund: must be a positive integer number of fen").
 * The wording is the answer merchants see in PARAM_ERROR, so it must not change casually.
 */
import { z } from 'zod';

export const FEN_RULE = 'must be a positive integer number of fen';
export const OUT_REFUND_NO_RULE = 'must be 1-64 characters of [0-9A-Za-z_-|*@]';
export const OUT_TRADE_NO_RULE = 'must be 6-32 characters of [0-9A-Za-z_-|*]';
export const TRANSACTION_ID_RULE = 'must be 1-32 letters or digits';
export const MCHID_RULE = 'must be 1-32 digits';
export const REFUND_ID_RULE = 'must be 1-32 digits';
export const APPID_RULE = 'must be 1-32 characters of [0-9A-Za-z_-]';
export const NOTIFY_URL_RULE = 'must be an http(s) URL of 8-256 characters without query string';
export const REASON_RULE = 'must be at most 80 characters';
export const CURRENCY_RULE = "must be 'CNY' (the only supported currency)";
export const POSITIVE_INTEGER_RULE = 'must be a positive integer';

type Input = { input?: unknown };
/** A missing value is reported as "is required (rule)", any other wrong value as the rule itself. */
const requiredOr = (rule: string) => (iss: Input) => (iss.input === undefined ? `is required (${rule})` : rule);

/** A string matching `re`; the same rule text for a missing value, a wrong type or a wrong charset/length. */
export function ruled(re: RegExp, rule: string) {
  return z.string({ error: requiredOr(rule) }).regex(re, { error: rule });
}

/** A string of `min`–`max` characters (JS string length). */
export function sized(min: number, max: number) {
  const rule = min === max ? `must be ${min} characters` : `must be ${min}-${max} characters`;
  return z
    .string({ error: requiredOr(rule) })
    .min(min, { error: rule })
    .max(max, { error: rule });
}

/** §1.1 identifiers. */
export const outRefundNo = ruled(/^[0-9A-Za-z_\-|*@]{1,64}$/, OUT_REFUND_NO_RULE);
export const outTradeNo = ruled(/^[0-9A-Za-z_\-|*]{6,32}$/, OUT_TRADE_NO_RULE);
export const transactionId = ruled(/^[0-9A-Za-z]{1,32}$/, TRANSACTION_ID_RULE);
export const mchid = ruled(/^[0-9]{1,32}$/, MCHID_RULE);
export const refundId = ruled(/^[0-9]{1,32}$/, REFUND_ID_RULE);
export const appid = ruled(/^[0-9A-Za-z_-]{1,32}$/, APPID_RULE);

/** M1: money is a positive integer number of fen (no decimals). */
export const fen = z.int({ error: requiredOr(FEN_RULE) }).positive({ error: FEN_RULE });
export const positiveCount = z.int({ error: POSITIVE_INTEGER_RULE }).positive({ error: POSITIVE_INTEGER_RULE });

/** M2: CNY and nothing else. */
export const cny = z.literal('CNY', { error: CURRENCY_RULE });

/** M12: the reason the payer sees, at most 80 characters. */
export const reason = z.string({ error: requiredOr('must be a string of at most 80 characters') }).max(80, {
  error: REASON_RULE,
});

/**
 * §3.6 notify_url: 8-256 characters, no query string. WeChat itself calls only https:// URLs; http:// is accepted
 * because the simulator delivers to a plain-HTTP webhook on the developer's machine.
 */
export const notifyUrl = z
  .string({ error: requiredOr(NOTIFY_URL_RULE) })
  .min(8, { error: NOTIFY_URL_RULE })
  .max(256, { error: NOTIFY_URL_RULE })
  .regex(/^https?:\/\/[^\s?#]+$/, { error: NOTIFY_URL_RULE });

/** "field.path: rule; other.field: rule": the err_code_des of a v2 PARAM_ERROR. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length === 0 ? '(root)' : i.path.map((p) => String(p)).join('.')}: ${i.message}`)
    .join('; ');
}
