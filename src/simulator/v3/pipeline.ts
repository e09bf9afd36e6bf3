/**
 * The request pipeline every v3 endpoint shares (§8.3): Request-ID → Accept / User-Agent (400 INVALID_REQUEST) →
 * Authorization (401 SIGN_ERROR, authenticate.ts) → per-merchant budgets (429 FREQUENCY_LIMITED) → the endpoint's
 * own parsing (400 PARAM_ERROR) → faults "before" → business (`run`) → faults "after" / on the signature → signed
 * 2xx reply. Error replies are unsigned unless rules.signErrorReplies (§3.3, observed behaviour).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BizError, v3ErrorFor } from '../biz-errors';
import type { SimulatorCore } from '../core';
import type { EndpointId } from '../fault-schemas';
import { answerTransportFault, rawBody, resetConnection, sleep } from '../http-common';
import type { SimMerchant } from '../model';
import type { BudgetGroup } from '../rate-limiter';
import type { SignatureFault } from '../wechat-signer';
import { authenticate } from './authenticate';
import { failure, isOutcome, type Failure, type Handler, type Outcome, type Parsed } from './outcome';

/** A business refusal (BizError from refund-service.ts) as the v3 error reply of its kind. */
function bizOutcome(core: SimulatorCore, e: unknown): Outcome {
  if (!(e instanceof BizError)) throw e;
  const shape = v3ErrorFor(e.kind, core.config.rules);
  const detail = e.detail
    ? { field: e.detail.field, value: e.detail.value, issue: e.message, location: e.detail.location }
    : undefined;
  return failure(shape.status, shape.code, e.message, detail);
}

export function sendError(core: SimulatorCore, reply: FastifyReply, o: Failure, caller: SimMerchant | undefined): void {
  const text = JSON.stringify({ code: o.code, message: o.message, ...(o.detail ? { detail: o.detail } : {}) });
  if (core.config.rules.signErrorReplies) {
    reply.headers(core.signer.signHeaders(text, undefined, core.signer.nextKey(caller)));
  }
  reply.code(o.status).type('application/json; charset=utf-8').send(text);
}

/** §8.3 step 2. */
export function missingHeader(core: SimulatorCore, req: FastifyRequest): Failure | undefined {
  const rules = core.config.rules;
  if (rules.requireAccept && !req.headers.accept)
    return failure(400, 'INVALID_REQUEST', 'the Accept header is required');
  if (rules.requireUserAgent && !req.headers['user-agent']) {
    return failure(400, 'INVALID_REQUEST', 'the User-Agent header is required');
  }
  return undefined;
}

/** Faults before processing that WeChat answers itself (nothing is stored). */
export function beforeFaultAnswer(kind: string): Failure | undefined {
  switch (kind) {
    case 'SYSTEM_ERROR':
      return failure(500, 'SYSTEM_ERROR', '系统错误 (simulated fault, nothing was stored)');
    case 'FREQUENCY_LIMITED':
      return failure(429, 'FREQUENCY_LIMITED', '请求频率超过限制 (simulated fault)');
    default:
      return undefined;
  }
}

/** Faults after the refund was stored that still answer with an error (the client must not trust it). */
function afterCommitFaultAnswer(kind: string): Failure | undefined {
  switch (kind) {
    case 'SYSTEM_ERROR_AFTER_COMMIT':
      return failure(500, 'SYSTEM_ERROR', '系统错误 (simulated fault after the refund was stored)');
    case 'FREQUENCY_LIMITED_AFTER_COMMIT':
      return failure(429, 'FREQUENCY_LIMITED', '请求频率超过限制 (simulated fault after the refund was stored)');
    default:
      return undefined;
  }
}

/** The signed 200 reply (§3.3) in the caller's signing mode, possibly with a broken signature (fault F7). */
function sendSigned(
  core: SimulatorCore,
  reply: FastifyReply,
  caller: SimMerchant,
  outcome: Extract<Outcome, { ok: true }>,
  signatureFault: SignatureFault | undefined,
): void {
  const text = JSON.stringify(outcome.body);
  const key = (outcome.signWithCertificate && core.signer.certificateKey()) || core.signer.nextKey(caller);
  reply.headers(core.signer.signHeaders(text, signatureFault, key));
  reply.code(200).type('application/json; charset=utf-8').send(text);
}

/** The fastify handler of one v3 endpoint: the shared pipeline around `handler`. */
export function v3Route(core: SimulatorCore, endpoint: EndpointId, group: BudgetGroup, handler: Handler) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('Request-ID', core.requestIds.requestId());
    const body = rawBody(req);
    // Known once authenticated; failing calls of a known merchant count against its error budget.
    const who: { caller?: SimMerchant } = {};
    let countAsError = true;
    const finish = (o: Failure) => {
      sendError(core, reply, o, who.caller);
      core.calls.record(endpoint, o.status, o.code);
      if (who.caller && countAsError && o.status < 500 && o.status !== 429) {
        core.limiter.record(who.caller.mchid, group, false);
      }
    };

    const badHeaders = missingHeader(core, req);
    if (badHeaders) return finish(badHeaders);
    // §8.3 step 3 (§3.2)
    const auth = authenticate(core, req, body);
    if ('status' in auth) return finish(auth);
    const caller = auth.caller;
    who.caller = caller;
    // §8.3 step 4
    const budget = core.limiter.check(caller.mchid, group, 'v3');
    if (!budget.ok) {
      countAsError = false;
      return finish(failure(429, 'FREQUENCY_LIMITED', budget.message));
    }
    // §8.3 step 5 and the endpoint's own parsing
    let parsed: Parsed | Outcome;
    try {
      parsed = handler(req, caller, body);
    } catch (e) {
      parsed = bizOutcome(core, e);
    }
    if (isOutcome(parsed)) {
      if (parsed.ok) throw new Error('handlers return a Parsed value on success');
      return finish(parsed);
    }
    const faultCtx = {
      mchid: caller.mchid,
      outRefundNo: parsed.outRefundNo,
      outTradeNo: parsed.outTradeNo,
      arrival: core.faults.arrival(),
    };
    const before = core.faults.strike(endpoint, 'before', faultCtx);
    if (before) {
      countAsError = false;
      const answer = beforeFaultAnswer(before.kind);
      if (answer) return finish(answer);
      if (answerTransportFault(reply, core.calls, endpoint, before)) return;
    }
    let outcome: Outcome;
    try {
      outcome = parsed.run();
    } catch (e) {
      outcome = bizOutcome(core, e);
    }
    // Stored before any reply about it goes out (stateFile).
    core.persist();
    if (!outcome.ok) return finish(outcome);
    try {
      core.limiter.record(caller.mchid, group, true);
      if (outcome.holdMs) await sleep(outcome.holdMs);
      const after = core.faults.strike(endpoint, 'after', faultCtx);
      const afterAnswer = after && afterCommitFaultAnswer(after.kind);
      if (afterAnswer) {
        countAsError = false;
        return finish(afterAnswer);
      }
      if (after?.kind === 'LOST_REPLY') {
        core.calls.record(endpoint, 'RESET', 'LOST_REPLY');
        return resetConnection(reply);
      }
      if (after?.kind === 'SLOW') await sleep(after.delayMs);
      const onReply = core.faults.strike(endpoint, 'reply', faultCtx);
      sendSigned(core, reply, caller, outcome, onReply?.kind as SignatureFault | undefined);
      core.calls.record(endpoint, 200);
    } finally {
      outcome.release?.();
    }
  };
}
