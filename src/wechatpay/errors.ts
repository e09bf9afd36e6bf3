/**
 * Every failure the WeChat Pay layer can raise falls into exactly one class (reference §3.9); the classes and what
 * each means are declared once, in domain/failure-classes.ts. The class decides what the refund workflow does next;
 * the code/status/requestId are kept for humans.
 */
import type { FailureClass } from '../domain/failure-classes';

/** InvalidRequest is raised before any call (see below), so it is not a WechatPayError. */
export type WechatPayErrorClass = Exclude<FailureClass, 'InvalidRequest'>;

export interface WechatPayErrorDetails {
  /** v3 `code` or v2 `err_code` / `return_code` text; for local failures a descriptive code such as `NETWORK_ERROR`. */
  code: string;
  message: string;
  /** HTTP status when a reply was received. */
  httpStatus?: number;
  /** v3 `Request-ID` header, when present. */
  requestId?: string;
  /** v3 error `detail` (field/value/issue/location) when present. */
  detail?: unknown;
  cause?: unknown;
}

export abstract class WechatPayError extends Error {
  abstract readonly errorClass: WechatPayErrorClass;
  readonly code: string;
  readonly httpStatus?: number;
  readonly requestId?: string;
  readonly detail?: unknown;

  constructor(d: WechatPayErrorDetails) {
    super(`${d.code}: ${d.message}`, d.cause === undefined ? undefined : { cause: d.cause });
    this.code = d.code;
    this.httpStatus = d.httpStatus;
    this.requestId = d.requestId;
    this.detail = d.detail;
  }

  override get name(): string {
    return this.errorClass;
  }

  toJSON(): Record<string, unknown> {
    return {
      errorClass: this.errorClass,
      code: this.code,
      message: this.message,
      httpStatus: this.httpStatus,
      requestId: this.requestId,
      detail: this.detail,
    };
  }
}

export class RetrySame extends WechatPayError {
  readonly errorClass = 'RetrySame' as const;
}
export class UnknownOutcome extends WechatPayError {
  readonly errorClass = 'UnknownOutcome' as const;
}
export class Throttled extends WechatPayError {
  readonly errorClass = 'Throttled' as const;
}
/** WeChat refused for good. Named as in the spec and in recorded histories (see domain/failure-classes.ts). */
export class Final extends WechatPayError {
  readonly errorClass = 'Final' as const;
}
export class NeedsOperator extends WechatPayError {
  readonly errorClass = 'NeedsOperator' as const;
}

/**
 * Raised before any network call when a request fails its zod schema. It is a programming or input error:
 * nothing was sent, so it is never an unknown outcome.
 */
export class InvalidRequest extends Error {
  override readonly name = 'InvalidRequest' satisfies FailureClass;
  constructor(
    message: string,
    readonly issues: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
  }
}

export function isWechatPayError(e: unknown): e is WechatPayError {
  return e instanceof WechatPayError;
}
