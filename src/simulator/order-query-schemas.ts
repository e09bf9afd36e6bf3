/**
 * The simulator's own request schemas of WeChat's order query (reference §11): v3 path + query string (direct and
 * partner), v2 `/pay/orderquery` XML fields. Kept apart from the client's schemas (src/wechatpay) on purpose: the
 * simulator checks what WeChat checks, independently of how the project's client builds its requests.
 * Every message names the rule; the route prefixes the field.
 */
import { z } from 'zod';

const OUT_TRADE_NO_RULE = 'must be 6-32 characters of [0-9A-Za-z_-|*]';
const TRANSACTION_ID_RULE = 'must be 1-32 letters or digits';
const MCHID_RULE = 'must be 1-32 digits';

/** A required string matching `re` (the same rule text for a missing value, a wrong type or a wrong charset). */
function ruled(re: RegExp, rule: string) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? `is required (${rule})` : rule) })
    .regex(re, { error: rule });
}

const outTradeNo = ruled(/^[0-9A-Za-z_\-|*]{6,32}$/, OUT_TRADE_NO_RULE);
const transactionId = ruled(/^[0-9A-Za-z]{1,32}$/, TRANSACTION_ID_RULE);
const mchid = ruled(/^\d{1,32}$/, MCHID_RULE);

/** How the order is named in the v3 path. */
export type OrderKey = { kind: 'out_trade_no'; value: string } | { kind: 'transaction_id'; value: string };

/** `/v3/pay/transactions/out-trade-no/{out_trade_no}` and `/id/{transaction_id}`: the path parameter. */
export const v3OrderQueryPathSchemas = {
  out_trade_no: z.object({ out_trade_no: outTradeNo }),
  transaction_id: z.object({ transaction_id: transactionId }),
} as const;

/** Direct mode query string: `?mchid=` (required; must be the signing merchant). */
export const v3OrderQueryDirectSchema = z.object({ mchid });

/** Partner mode query string: `?sp_mchid=&sub_mchid=` (both required; sp_mchid must be the signing provider). */
export const v3OrderQueryPartnerSchema = z.object({ sp_mchid: mchid, sub_mchid: mchid });

/** POST /pay/orderquery (v2 XML; sign and appid are checked by the v2 pipeline before this schema). */
export const v2OrderQueryRequestSchema = z
  .object({
    appid: ruled(/^[0-9A-Za-z_-]{1,32}$/, 'must be 1-32 characters of [0-9A-Za-z_-]'),
    mch_id: mchid,
    sub_appid: ruled(/^[0-9A-Za-z_-]{1,32}$/, 'must be 1-32 characters of [0-9A-Za-z_-]').optional(),
    sub_mch_id: mchid.optional(),
    transaction_id: transactionId.optional(),
    out_trade_no: outTradeNo.optional(),
    nonce_str: ruled(/^[0-9A-Za-z]{1,32}$/, 'must be 1-32 letters or digits'),
    sign: ruled(/^[0-9A-Fa-f]{32}$|^[0-9A-Fa-f]{64}$/, 'must be an MD5 or HMAC-SHA256 hex digest'),
    sign_type: z.enum(['MD5', 'HMAC-SHA256'], { error: 'must be MD5 or HMAC-SHA256' }).optional(),
  })
  .refine((r) => r.transaction_id !== undefined || r.out_trade_no !== undefined, {
    error: 'one of transaction_id or out_trade_no is required',
    path: ['out_trade_no'],
  });
export type V2OrderQueryRequest = z.output<typeof v2OrderQueryRequestSchema>;
