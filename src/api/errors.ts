/**
 * Every refusal the API answers, as `{"error":{"type", "message", "param"?, "rule"?}}`, and how the refund core's
 * errors map onto them: the ledger's rules M7/M8 (the out_refund_no is bound to other parameters) → 409, other WeChat
 * rules → 422 naming the rule, a merchant the deployment does not serve → 422 unknown_merchant naming the field, no
 * decision in time or Temporal unreachable → 503 with Retry-After (nothing decided, safe to repeat). Texts of
 * unexpected errors are never sent (logged with the request id instead).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyError, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { describeZodError } from '../domain/zod-errors';
import { RefundRejected, RefundUndecided } from '../starter';
import { MerchantChoiceError } from './merchant-choice';
import type { ApiErrorType, ErrorBody } from './schemas';

export type { ApiErrorType };

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly extra: { param?: string; rule?: string } = {},
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { error: { type: this.type, ...this.extra, message: this.message } };
  }
}

/** 400 naming the first bad field (snake_case, as sent); the message names them all. */
export function invalidRequest(error: z.ZodError, where = ''): ApiError {
  const first = error.issues[0];
  let param = first?.path.map(String).join('.') ?? '';
  if (first?.code === 'unrecognized_keys') {
    param = [...first.path.map(String), first.keys[0]].join('.');
  }
  const message = error.issues
    .map((i) =>
      i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}` : null,
    )
    .filter((m): m is string => m !== null);
  const rest = error.issues.filter((i) => i.code !== 'unrecognized_keys');
  const text = [...message, ...(rest.length ? [describeZodError({ issues: rest } as z.ZodError)] : [])].join('; ');
  return new ApiError(400, 'invalid_request', where ? `${where}: ${text}` : text, param ? { param } : {});
}

export const notFound = (message: string) => new ApiError(404, 'not_found', message);

export const unavailable = (message: string) => new ApiError(503, 'unavailable', message);

/** 409 for a cancel that comes too late (already sent to WeChat, already settled): the message says which. */
export const notCancellable = (message: string) => new ApiError(409, 'not_cancellable', message);

/** gRPC codes meaning "Temporal did not answer": DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const UNAVAILABLE_CODES = new Set([4, 8, 14]);

function temporalDidNotAnswer(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && UNAVAILABLE_CODES.has(code)) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /Failed to connect|ECONNREFUSED|Connection (?:refused|reset)/i.test(message)) {
      return true;
    }
  }
  return false;
}

/** The refund core's errors as API errors; undefined for errors that are ours (answered 500). */
export function fromCoreError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof MerchantChoiceError) {
    return new ApiError(422, 'unknown_merchant', err.message, { param: err.param });
  }
  if (err instanceof RefundRejected) {
    if (err.rule === 'M7' || err.rule === 'M8') return new ApiError(409, 'idempotency_conflict', err.message);
    if (err.rule === 'INVALID_INPUT') return new ApiError(400, 'invalid_request', err.message);
    return new ApiError(422, 'rule_violation', err.message, { rule: err.rule });
  }
  if (err instanceof RefundUndecided) return unavailable(err.message);
  if (err instanceof WorkflowNotFoundError) return notFound(err.message);
  if (temporalDidNotAnswer(err)) {
    return unavailable('Temporal did not answer in time: nothing was decided, the same request is safe to repeat');
  }
  return undefined;
}

/** Fastify's own refusals (before a handler runs): oversized body, media type, unreadable JSON. */
export function fromFrameworkError(err: FastifyError): ApiError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'the body must be application/json');
    default:
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        return new ApiError(400, 'invalid_request', 'the body is not valid JSON');
      }
      return undefined;
  }
}

export function sendError(reply: FastifyReply, error: ApiError, retryAfterSeconds: number): FastifyReply {
  if (error.status === 503) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(error.status).send(error.body());
}
