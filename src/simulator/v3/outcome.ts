/**
 * What a v3 endpoint handler returns, and the error answers of §3.9 (`{code, message, detail}`). A handler first
 * parses and validates the request (Parsed, or a Failure such as PARAM_ERROR); `run` then does the business part once
 * faults had their say. Pure: no HTTP here, so each handler can be tested on its own.
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { zodDetail } from '../http-common';
import type { SimMerchant } from '../model';

/** §3.9 error detail: the field as a JSON pointer, the offending value, the rule, where the field was. */
export type Detail = { field: string; value?: unknown; issue: string; location: string };

export type Outcome =
  | { ok: true; body: Record<string, unknown>; signWithCertificate?: boolean; release?: () => void; holdMs?: number }
  | { ok: false; status: number; code: string; message: string; detail?: Detail };

export type Failure = Extract<Outcome, { ok: false }>;

export interface Parsed {
  /** For fault selection. */
  outRefundNo?: string;
  outTradeNo?: string;
  run: () => Outcome;
}

/** One endpoint: the authenticated caller's request in, a Parsed request (or why it was refused) out. */
export type Handler = (req: FastifyRequest, caller: SimMerchant, body: Buffer) => Parsed | Outcome;

export function failure(status: number, code: string, message: string, detail?: Detail): Failure {
  return { ok: false, status, code, message, detail };
}

export function isOutcome(x: Parsed | Outcome): x is Outcome {
  return 'ok' in x;
}

/** 400 PARAM_ERROR for the first zod issue, with its detail (§3.9). */
export function paramError(error: z.ZodError, input: unknown, location: 'body' | 'url' | 'query'): Failure {
  const detail = zodDetail(error, input, location);
  return failure(400, 'PARAM_ERROR', `${detail.field}: ${detail.issue}`, detail);
}

/** The JSON body checked against `schema`; PARAM_ERROR when it is not JSON or breaks a rule. */
export function parseJsonBody<S extends z.ZodType>(schema: S, body: Buffer): { data: z.output<S> } | Failure {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return failure(400, 'PARAM_ERROR', 'request body is not valid JSON', {
      field: '/',
      issue: 'must be a JSON object',
      location: 'body',
    });
  }
  const r = schema.safeParse(json);
  if (!r.success) return paramError(r.error, json, 'body');
  return { data: r.data };
}
