/**
 * v3 error replies → error class (reference §3.9). Classification is by `code` first (the spec says to branch on
 * status and code only, never on message), then by HTTP status for codes the table does not name.
 */
import type { WechatPayError, WechatPayErrorClass } from '../errors';
import { errorOfClass, type MappedErrorClass } from '../error-of-class';

/** Every v3 code of the spec, with its class. Exported so tests and docs enumerate the same table. */
export const V3_ERROR_CLASSES: Readonly<Record<string, Exclude<WechatPayErrorClass, 'UnknownOutcome'>>> = {
  SYSTEM_ERROR: 'RetrySame', // 500: system timeout; resend with the same number and parameters
  SERVICE_UNAVAILABLE: 'RetrySame', // 502/503: gateway overload
  FREQUENCY_LIMITED: 'Throttled', // 429
  RATELIMIT_EXCEEDED: 'Throttled', // 429 under its other name (§10)
  PARAM_ERROR: 'NeedsOperator', // 400: malformed or missing field — a bug
  INVALID_REQUEST: 'Final', // 400: business rule (exceeds refundable, fully refunded, inconsistent, >50)
  SIGN_ERROR: 'NeedsOperator', // 401: signature, serial, clock skew, Authorization format
  NOT_ENOUGH: 'NeedsOperator', // 403: merchant balance insufficient — top up, then same number
  USER_ACCOUNT_ABNORMAL: 'Final', // 403: payer account unusable — refund offline
  NO_AUTH: 'NeedsOperator', // 403: no refund permission
  RESOURCE_NOT_EXISTS: 'Final', // 404 on create: order not found or unpaid (on query: "no such refund", not an error)
  // Order query (§11.1): 404 means "no such order" and resolves null before mapping; anywhere else the order named
  // does not exist, which no retry fixes (like RESOURCE_NOT_EXISTS on create).
  ORDER_NOT_EXIST: 'Final',
  MCH_NOT_EXISTS: 'NeedsOperator', // 404: unknown merchant number
  TRADE_OVERDUE: 'Final', // paid more than a year ago
  REFUND_FEE_MISMATCH: 'NeedsOperator', // same out_refund_no, different amounts — a bug
};

/** Class for a code the table does not know: by HTTP status, defaulting to a human. */
function classByStatus(status: number): MappedErrorClass {
  if (status === 429) return 'Throttled';
  if (status >= 500) return 'RetrySame';
  return 'NeedsOperator';
}

export interface V3ErrorReply {
  httpStatus: number;
  /** Empty when the body was empty or not a v3 error object (404/405 on a wrong path, HTML from a proxy). */
  code?: string;
  message?: string;
  detail?: unknown;
  requestId?: string;
}

/** The error for a non-2xx v3 reply. */
export function mapV3Error(reply: V3ErrorReply): WechatPayError {
  const { httpStatus, requestId, detail } = reply;
  if (!reply.code) {
    // No v3 error object. 5xx/429 from a gateway: unknown, resend. 404/405 with an empty body: wrong path or
    // method, our bug (§3.3, §3.9). Anything else without a code is equally something a human must look at.
    const code =
      httpStatus >= 500 ? 'SERVICE_UNAVAILABLE' : httpStatus === 429 ? 'FREQUENCY_LIMITED' : `HTTP_${httpStatus}`;
    return errorOfClass(classByStatus(httpStatus), {
      code,
      message: reply.message || `HTTP ${httpStatus} without a WeChat Pay error body`,
      httpStatus,
      requestId,
    });
  }
  const cls = V3_ERROR_CLASSES[reply.code] ?? classByStatus(httpStatus);
  return errorOfClass(cls, { code: reply.code, message: reply.message ?? '', httpStatus, requestId, detail });
}
