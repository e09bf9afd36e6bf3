/**
 * The request pipeline every v2 endpoint shares (§5, §8.3). Always HTTP 200 with XML (except simulated gateway
 * failures). Order of checks: client certificate on /secapi/* when TLS is on (return_code=FAIL CERT_ERROR) → XML
 * (return_code=FAIL) → merchant → sign (return_code=FAIL, SIGNERROR) → appid → budgets → schema (PARAM_ERROR) →
 * faults → the endpoint's business part with v2 codes. Replies with return_code=SUCCESS are signed with the request's
 * sign_type. A certificate counts only if its public key is one of the merchant's registered API certificates.
 *
 * The MD5 / HMAC-SHA256 sign and the XML codec are the shared primitives of src/wechatpay/v2; the request rules are
 * the simulator's own (../wire/v2-requests.ts).
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { signV2, verifyV2Sign } from '../../wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../../wechatpay/v2/xml';
import { BizError, v2ErrorFor } from '../biz-errors';
import type { SimulatorCore } from '../core';
import type { EndpointId } from '../fault-schemas';
import { answerTransportFault, rawBody, resetConnection, sleep } from '../http-common';
import type { SimMerchant } from '../model';
import type { BudgetGroup } from '../rate-limiter';
import { describeIssues } from '../wire/field-rules';
import { generateNonce } from '../wire/nonce';
import { signTypeOf } from '../wire/v2-requests';
import { resultFail, type Fields, type Outcome, type Prepared, type V2Handler } from './outcome';

type SignType = 'MD5' | 'HMAC-SHA256';

export interface V2Endpoint<S extends z.ZodType> {
  endpoint: EndpointId;
  group: BudgetGroup;
  /** /secapi/* calls need the merchant's client certificate (when the v2 listener does TLS). */
  needsCert: boolean;
  schema: S;
  handler: V2Handler<z.output<S>>;
}

/** A business refusal (BizError from refund-service.ts) in the v2 layer its kind belongs to. */
function bizOutcome(e: unknown): Outcome {
  if (!(e instanceof BizError)) throw e;
  const shape = v2ErrorFor(e.kind, e.message);
  return shape.layer === 'return'
    ? { kind: 'return-fail', message: shape.returnMsg }
    : resultFail(shape.errCode, e.message);
}

function sendXml(reply: FastifyReply, fields: Fields): void {
  reply.code(200).type('text/xml; charset=utf-8').send(buildV2Xml(fields));
}

/** The peer certificate, when one was presented on this TLS connection. */
function peerCertificate(req: FastifyRequest): X509Certificate | undefined {
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate(false);
  if (!peer || !peer.raw) return undefined;
  return new X509Certificate(peer.raw);
}

function certBelongsTo(cert: X509Certificate, merchant: SimMerchant): boolean {
  return merchant.certificates.some((c) => createPublicKey(c.publicKeyPem).equals(cert.publicKey));
}

/** The reply XML for `outcome`; return_code=SUCCESS replies are signed with the request's sign_type. */
function sendOutcome(
  core: SimulatorCore,
  reply: FastifyReply,
  endpoint: EndpointId,
  request: VerifiedRequest,
  outcome: Outcome,
  badSign = false,
): void {
  if (outcome.kind === 'return-fail') {
    core.calls.record(endpoint, 200, 'RETURN_FAIL');
    return sendXml(reply, {
      return_code: 'FAIL',
      return_msg: outcome.message,
      ...(outcome.errorCode ? { error_code: outcome.errorCode } : {}),
    });
  }
  if (outcome.kind === 'file') {
    core.calls.record(endpoint, 200, 'FILE');
    reply.code(200).type(outcome.contentType).header('content-length', String(outcome.body.length)).send(outcome.body);
    return;
  }
  const { caller, params, signType } = request;
  const fields: Fields = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: caller.appid,
    mch_id: caller.mchid,
    sub_appid: params.sub_appid,
    sub_mch_id: params.sub_mch_id,
    nonce_str: generateNonce(),
    ...(outcome.kind === 'ok'
      ? { result_code: 'SUCCESS', ...outcome.fields }
      : { result_code: 'FAIL', err_code: outcome.errCode, err_code_des: outcome.errCodeDes }),
  };
  const sign = signV2(fields, caller.apiV2Key, signType);
  // A wrong sign of the right length: the reply looks genuine but fails verification (F7 for v2).
  fields.sign = badSign ? sign.replace(/^./, sign.startsWith('0') ? '1' : '0') : sign;
  core.calls.record(endpoint, 200, outcome.kind === 'ok' ? 'SUCCESS' : outcome.errCode);
  sendXml(reply, fields);
}

interface VerifiedRequest {
  caller: SimMerchant;
  params: Record<string, string>;
  signType: SignType;
}

/**
 * §5.1, §5.2, §8.3 (v2): the client certificate when one is required, the XML, the merchant, the certificate's owner,
 * the sign. Any failure is return_code=FAIL (`returnFail` is the return_msg): the request was never processed.
 */
function verifyRequest(
  core: SimulatorCore,
  req: FastifyRequest,
  certRequired: boolean,
): VerifiedRequest | { returnFail: string } {
  const cert = certRequired ? peerCertificate(req) : undefined;
  if (certRequired && !cert) return { returnFail: 'CERT_ERROR: 证书错误 (no client certificate was presented)' };
  let params: Record<string, string>;
  try {
    params = parseV2Xml(rawBody(req));
  } catch (e) {
    return { returnFail: `XML_FORMAT_ERROR: ${(e as Error).message}` };
  }
  const caller = params.mch_id ? core.store.merchant(params.mch_id) : undefined;
  if (!caller) return { returnFail: `MCHID_NOT_EXIST: mch_id ${params.mch_id ?? '(missing)'} is not a merchant` };
  if (cert && !certBelongsTo(cert, caller)) {
    return {
      returnFail: `CERT_ERROR: 证书错误 (the client certificate is not an API certificate of ${caller.mchid})`,
    };
  }
  const signType = signTypeOf(params.sign_type);
  if (!signType) return { returnFail: 'sign_type must be MD5 or HMAC-SHA256' };
  if (!verifyV2Sign(params, caller.apiV2Key, signType)) return { returnFail: 'SIGNERROR: 签名错误' };
  return { caller, params, signType };
}

/** Faults before processing that WeChat answers itself (nothing is stored). */
function beforeFaultAnswer(kind: string): Outcome | undefined {
  switch (kind) {
    case 'SYSTEM_ERROR':
      return resultFail('SYSTEMERROR', '系统超时 (simulated fault, nothing was stored)');
    case 'FREQUENCY_LIMITED':
      return resultFail('FREQUENCY_LIMITED', '频率限制 (simulated fault)');
    default:
      return undefined;
  }
}

/** Faults after the refund was stored that still answer with an error (the client must not trust it). */
function afterCommitFaultAnswer(kind: string): Outcome | undefined {
  switch (kind) {
    case 'SYSTEM_ERROR_AFTER_COMMIT':
      return resultFail('SYSTEMERROR', '系统超时 (simulated fault after the refund was stored)');
    case 'FREQUENCY_LIMITED_AFTER_COMMIT':
      return resultFail('FREQUENCY_LIMITED', '频率限制 (simulated fault after the refund was stored)');
    default:
      return undefined;
  }
}

/** The fastify handler of one v2 endpoint: the shared pipeline around `spec.handler`. */
export function v2Route<S extends z.ZodType>(core: SimulatorCore, tls: boolean, spec: V2Endpoint<S>) {
  const { endpoint, group, needsCert, schema, handler } = spec;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const verified = verifyRequest(core, req, tls && needsCert);
    if ('returnFail' in verified) {
      core.calls.record(endpoint, 200, 'RETURN_FAIL');
      return sendXml(reply, { return_code: 'FAIL', return_msg: verified.returnFail });
    }
    const { caller, params } = verified;
    const answer = (outcome: Outcome) => sendOutcome(core, reply, endpoint, verified, outcome);
    if (params.appid !== caller.appid) {
      core.limiter.record(caller.mchid, group, false);
      return answer(resultFail('APPID_NOT_EXIST', `appid ${params.appid} is not bound to ${caller.mchid}`));
    }
    const budget = core.limiter.check(caller.mchid, group, 'v2');
    if (!budget.ok) {
      const code = budget.reason === 'V2_BLOCKED' ? 'INVALID_REQ_TOO_MUCH' : 'FREQUENCY_LIMITED';
      return answer(resultFail(code, budget.message));
    }
    const checked = schema.safeParse(params);
    if (!checked.success) {
      core.limiter.record(caller.mchid, group, false);
      return answer(resultFail('PARAM_ERROR', describeIssues(checked.error)));
    }
    let prepared: Prepared;
    try {
      prepared = handler(checked.data, caller);
    } catch (e) {
      return answer(bizOutcome(e));
    }
    const faultCtx = {
      mchid: caller.mchid,
      outRefundNo: prepared.outRefundNo,
      outTradeNo: prepared.outTradeNo,
      arrival: core.faults.arrival(),
    };
    const before = core.faults.strike(endpoint, 'before', faultCtx);
    const beforeAnswer = before && beforeFaultAnswer(before.kind);
    if (beforeAnswer) return answer(beforeAnswer);
    if (answerTransportFault(reply, core.calls, endpoint, before)) return;
    let outcome: Outcome;
    try {
      outcome = prepared.run();
    } catch (e) {
      outcome = bizOutcome(e);
    }
    // Stored before any reply about it goes out (stateFile).
    core.persist();
    if (outcome.kind !== 'ok' && outcome.kind !== 'file') {
      core.limiter.record(caller.mchid, group, false);
      return answer(outcome);
    }
    try {
      core.limiter.record(caller.mchid, group, true);
      if (outcome.holdMs) await sleep(outcome.holdMs);
      const after = core.faults.strike(endpoint, 'after', faultCtx);
      const afterAnswer = after && afterCommitFaultAnswer(after.kind);
      if (afterAnswer) return answer(afterAnswer);
      if (after?.kind === 'LOST_REPLY') {
        core.calls.record(endpoint, 'RESET', 'LOST_REPLY');
        return resetConnection(reply);
      }
      if (after?.kind === 'SLOW') await sleep(after.delayMs);
      const badSign = core.faults.strike(endpoint, 'reply', faultCtx)?.kind === 'BAD_SIGNATURE';
      sendOutcome(core, reply, endpoint, verified, outcome, badSign);
    } finally {
      outcome.release?.();
    }
  };
}
