/**
 * Business refusals, independent of the API generation, and how each one reads on the wire in v3 (HTTP status +
 * code) and v2 (err_code, or return_code=FAIL). The tables are the simulator's reading of reference §2.1, §3.9, §5.5
 * and §8.3/§8.7; "(assumption)" rows are where WeChat documents no code.
 */
import type { RulesConfig } from './config';

export type BizErrorKind =
  | 'PARAM' // malformed field (carries a JSON pointer)
  | 'SUB_MCHID_REQUIRED'
  | 'MCH_NOT_EXISTS'
  | 'NO_AUTH'
  | 'ORDER_NOT_FOUND' // M10
  | 'ORDER_NOT_PAID' // M10
  | 'TRADE_NOT_EXIST' // order query (§11): unknown order, or one of another merchant
  | 'MERCHANT_MISMATCH' // M11
  | 'IDS_DISAGREE' // §8.7: transaction_id and out_trade_no name different orders
  | 'OUT_REFUND_NO_OTHER_ORDER' // §8.3 step 8
  | 'FEE_MISMATCH' // M8
  | 'TOTAL_MISMATCH' // M3
  | 'REFUND_EXCEEDS_TOTAL' // M4
  | 'REFUND_EXCEEDS_REMAINING' // M4
  | 'TOO_MANY_REFUNDS' // M6
  | 'TRADE_OVERDUE' // M5
  | 'CONCURRENT_REFUND' // M9 (concurrency)
  | 'TOO_SOON' // M9 (60 s spacing)
  | 'GOODS_INVALID'
  | 'USER_ACCOUNT_ABNORMAL'
  | 'NOT_ENOUGH'
  | 'REFUND_NOT_FOUND'
  | 'NOT_ABNORMAL'
  | 'OUT_REFUND_NO_MISMATCH';

export class BizError extends Error {
  override readonly name = 'BizError';
  constructor(
    readonly kind: BizErrorKind,
    message: string,
    /** For PARAM: JSON pointer of the field, e.g. /amount/from, and where it was (body, url, query). */
    readonly detail?: { field: string; value?: unknown; location: 'body' | 'url' | 'query' },
  ) {
    super(message);
  }
}

export interface V3ErrorShape {
  status: number;
  code: string;
}

export function v3ErrorFor(kind: BizErrorKind, rules: RulesConfig): V3ErrorShape {
  const undocumented = (code: string): V3ErrorShape =>
    rules.undocumentedCodes === '403' ? { status: 403, code } : { status: 400, code: 'INVALID_REQUEST' };
  switch (kind) {
    case 'PARAM':
    case 'SUB_MCHID_REQUIRED':
      return { status: 400, code: 'PARAM_ERROR' };
    case 'MCH_NOT_EXISTS':
      return { status: 404, code: 'MCH_NOT_EXISTS' };
    case 'NO_AUTH':
      return { status: 403, code: 'NO_AUTH' };
    case 'ORDER_NOT_FOUND':
    case 'ORDER_NOT_PAID':
    case 'REFUND_NOT_FOUND':
      return { status: 404, code: 'RESOURCE_NOT_EXISTS' };
    case 'TRADE_NOT_EXIST':
      return { status: 404, code: rules.orderNotFoundCode }; // §11.1: ORDER_NOT_EXIST (some pages: RESOURCE_NOT_EXISTS)
    case 'MERCHANT_MISMATCH':
    case 'IDS_DISAGREE':
    case 'OUT_REFUND_NO_OTHER_ORDER':
    case 'TOTAL_MISMATCH':
    case 'REFUND_EXCEEDS_TOTAL':
    case 'REFUND_EXCEEDS_REMAINING':
    case 'TOO_MANY_REFUNDS':
    case 'GOODS_INVALID':
    case 'NOT_ABNORMAL':
    case 'OUT_REFUND_NO_MISMATCH':
      return { status: 400, code: 'INVALID_REQUEST' };
    case 'FEE_MISMATCH':
      return undocumented('REFUND_FEE_MISMATCH');
    case 'TRADE_OVERDUE':
      return undocumented('TRADE_OVERDUE');
    case 'CONCURRENT_REFUND':
      return { status: 500, code: 'SYSTEM_ERROR' }; // (assumption) §8.3 step 9
    case 'TOO_SOON':
      return { status: 429, code: 'FREQUENCY_LIMITED' }; // (assumption) §8.3 step 9
    case 'USER_ACCOUNT_ABNORMAL':
      return { status: 403, code: 'USER_ACCOUNT_ABNORMAL' };
    case 'NOT_ENOUGH':
      return { status: 403, code: 'NOT_ENOUGH' };
  }
}

/** v2: most refusals are result_code=FAIL with an err_code; a few are protocol-level return_code=FAIL. */
export type V2ErrorShape = { layer: 'result'; errCode: string } | { layer: 'return'; returnMsg: string };

export function v2ErrorFor(kind: BizErrorKind, message: string): V2ErrorShape {
  const result = (errCode: string): V2ErrorShape => ({ layer: 'result', errCode });
  switch (kind) {
    case 'PARAM':
    case 'SUB_MCHID_REQUIRED':
      return result('PARAM_ERROR');
    case 'MCH_NOT_EXISTS':
      return result('MCHID_NOT_EXIST');
    case 'NO_AUTH':
      return result('NOAUTH');
    case 'ORDER_NOT_FOUND':
    case 'TRADE_NOT_EXIST':
      return result('ORDERNOTEXIST');
    case 'ORDER_NOT_PAID':
      return result('TRADE_STATE_ERROR');
    case 'REFUND_NOT_FOUND':
      return result('REFUNDNOTEXIST');
    case 'MERCHANT_MISMATCH':
    case 'IDS_DISAGREE':
    case 'OUT_REFUND_NO_OTHER_ORDER':
    case 'NOT_ABNORMAL':
    case 'OUT_REFUND_NO_MISMATCH':
      return result('INVALID_REQUEST');
    case 'TOTAL_MISMATCH':
      return result('PARAM_ERROR'); // M3: v2 code undocumented; simulator answers PARAM_ERROR
    case 'REFUND_EXCEEDS_TOTAL':
      return { layer: 'return', returnMsg: `invalid refund_fee: ${message}` }; // M4 (v2)
    case 'REFUND_EXCEEDS_REMAINING':
    case 'TOO_MANY_REFUNDS':
    case 'GOODS_INVALID':
      return result('ERROR');
    case 'FEE_MISMATCH':
      return result('REFUND_FEE_MISMATCH');
    case 'TRADE_OVERDUE':
      return result('TRADE_OVERDUE');
    case 'CONCURRENT_REFUND':
      return result('BIZERR_NEED_RETRY');
    case 'TOO_SOON':
      return result('FREQUENCY_LIMITED');
    case 'USER_ACCOUNT_ABNORMAL':
      return result('USER_ACCOUNT_ABNORMAL');
    case 'NOT_ENOUGH':
      return result('NOTENOUGH');
  }
}
