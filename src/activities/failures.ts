/**
 * Turns the protocol layer's errors (src/wechatpay/errors.ts) into Temporal ApplicationFailures whose `type` is the
 * failure class, so workflows switch on it without importing the protocol code. Which classes Temporal may retry is
 * decided in domain/failure-classes.ts.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isRetryable, type FailureClass } from '../domain/failure-classes';
import { InvalidRequest, isWechatPayError } from '../wechatpay/errors';

/** Carried as the failure's single detail: enough for an operator to find the call in WeChat's logs. */
export interface GatewayFailureDetails {
  code: string;
  message: string;
  httpStatus?: number;
  requestId?: string;
  detail?: unknown;
}

export interface TranslateOptions {
  /** For Throttled: how long Temporal's own activity retry should wait (§3.9: 1 min for queries). */
  throttledRetryDelayMs?: number;
}

export function toApplicationFailure(err: unknown, options: TranslateOptions = {}): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (isWechatPayError(err)) {
    const details: GatewayFailureDetails = {
      code: err.code,
      // err.message is "CODE: text"; keep the text once.
      message: err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message,
      httpStatus: err.httpStatus,
      requestId: err.requestId,
      detail: err.detail,
    };
    return ApplicationFailure.create({
      type: err.errorClass,
      message: err.message,
      nonRetryable: !isRetryable(err.errorClass),
      details: [details],
      nextRetryDelay: err.errorClass === 'Throttled' ? options.throttledRetryDelayMs : undefined,
    });
  }
  if (err instanceof InvalidRequest) {
    const details: GatewayFailureDetails = { code: 'INVALID_REQUEST_LOCAL', message: err.message, detail: err.issues };
    return ApplicationFailure.create({
      type: err.name,
      message: err.message,
      nonRetryable: !isRetryable(err.name),
      details: [details],
    });
  }
  // Anything else escaped the gateway (a bug, an unexpected exception after the request went out): we cannot know
  // whether WeChat acted, so it is an unknown outcome, retried with the same out_refund_no.
  const message = err instanceof Error ? err.message : String(err);
  const details: GatewayFailureDetails = { code: 'UNEXPECTED_ERROR', message };
  const type: FailureClass = 'UnknownOutcome';
  return ApplicationFailure.create({
    type,
    message: `UNEXPECTED_ERROR: ${message}`,
    nonRetryable: !isRetryable(type),
    details: [details],
    cause: err instanceof Error ? err : undefined,
  });
}
