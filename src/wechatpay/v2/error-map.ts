/**
 * v2 `err_code` (result_code = FAIL) → error class (reference §5.5, §5.6). `return_code = FAIL` never reached
 * business processing and is always NeedsOperator.
 */
import { WechatPayError, WechatPayErrorClass } from '../errors';
import { errorOfClass } from '../error-of-class';

/** Every v2 err_code of the spec (refund and refund query), with its class. */
export const V2_ERROR_CLASSES: Readonly<Record<string, Exclude<WechatPayErrorClass, 'UnknownOutcome'>>> = {
  SYSTEMERROR: 'RetrySame',
  BIZERR_NEED_RETRY: 'RetrySame',
  ORDER_NOT_READY: 'RetrySame',
  FREQUENCY_LIMITED: 'Throttled',
  INVALID_REQ_TOO_MUCH: 'Throttled',
  NOTENOUGH: 'NeedsOperator',
  TRADE_OVERDUE: 'Final',
  ERROR: 'Final',
  USER_ACCOUNT_ABNORMAL: 'Final',
  ORDERNOTEXIST: 'Final',
  TRADE_STATE_ERROR: 'Final',
  INVALID_REQUEST: 'Final',
  // Query: "no refund under these ids". The gateway's queryRefund turns it into `null` before mapping; anywhere
  // else it means the request named something that does not exist, which no retry fixes.
  REFUNDNOTEXIST: 'Final',
  REFUND_FEE_MISMATCH: 'NeedsOperator',
  INVALID_TRANSACTIONID: 'NeedsOperator',
  PARAM_ERROR: 'NeedsOperator',
  APPID_NOT_EXIST: 'NeedsOperator',
  MCHID_NOT_EXIST: 'NeedsOperator',
  REQUIRE_POST_METHOD: 'NeedsOperator',
  SIGNERROR: 'NeedsOperator',
  XML_FORMAT_ERROR: 'NeedsOperator',
  CERT_ERROR: 'NeedsOperator',
  NOAUTH: 'NeedsOperator',
};

/** result_code = FAIL. Unknown codes go to a human rather than being retried blindly. */
export function mapV2ResultError(errCode: string | undefined, errCodeDes: string | undefined): WechatPayError {
  const code = errCode || 'UNKNOWN_ERR_CODE';
  return errorOfClass(V2_ERROR_CLASSES[code] ?? 'NeedsOperator', {
    code,
    message: errCodeDes ?? '',
    httpStatus: 200,
  });
}

/** return_code = FAIL: the request itself was refused (signature, XML, invalid refund_fee, ...). */
export function mapV2ReturnFail(returnMsg: string | undefined): WechatPayError {
  return errorOfClass('NeedsOperator', { code: 'RETURN_CODE_FAIL', message: returnMsg ?? '', httpStatus: 200 });
}
