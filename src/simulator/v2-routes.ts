/**
 * API v2 endpoints (reference §5, §8.3, §11.2): /secapi/pay/refund, /secapi/pay/refundv2, /pay/refundquery,
 * /pay/orderquery. Always HTTP 200
 * with XML (except simulated gateway failures).
 *
 * Order of checks: client certificate on /secapi/* when TLS is on (return_code=FAIL CERT_ERROR) → XML
 * (return_code=FAIL) → merchant → sign (return_code=FAIL, SIGNERROR) → budgets → schema (PARAM_ERROR) → faults →
 * the shared business pipeline with v2 codes. Replies with return_code=SUCCESS are signed with the request's
 * sign_type. A certificate counts only if its public key is one of the merchant's registered API certificates.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { formatZodError } from '../wechatpay/schema-rules';
import {
  v2RefundDetailSchema,
  v2RefundQueryRequestSchema,
  v2RefundRequestSchema,
  v2RefundV2RequestSchema,
} from '../wechatpay/v2/schemas';
import { parseV2SignType, signV2, verifyV2Sign, type V2SignType } from '../wechatpay/v2/sign';
import { buildV2Xml, parseV2Xml } from '../wechatpay/v2/xml';
import { generateNonce } from '../wechatpay/v3/sign';
import { BizError, v2ErrorFor } from './biz-errors';
import type { SimulatorCore } from './core';
import type { EndpointId } from './fault-schemas';
import { answerTransportFault, rawBody, resetConnection, sleep } from './http-common';
import type { SimMerchant, SimOrder, SimRefund } from './model';
import type { BudgetGroup } from './rate-limiter';
import { hiddenByLag, outTradeNoOf } from './v3-routes';
import { v2OrderQueryRequestSchema, type V2OrderQueryRequest } from './order-query-schemas';
import { v2CreateFields, v2OrderQueryFields, v2PromotionDetail, v2QueryFields } from './wire-views';

type Fields = Record<string, string | number | undefined>;

interface Prepared {
  /** For fault selection. */
  outRefundNo?: string;
  outTradeNo?: string;
  run: () => Outcome;
}

type Outcome =
  | { kind: 'return-fail'; message: string }
  | { kind: 'result-fail'; errCode: string; errCodeDes: string }
  | { kind: 'ok'; fields: Fields; release?: () => void; holdMs?: number };

export const V2_PATHS = ['/secapi/pay/refund', '/secapi/pay/refundv2', '/pay/refundquery', '/pay/orderquery'];

const PAGE_SIZE = 10;

export function registerV2Routes(app: FastifyInstance, core: SimulatorCore, tls: boolean): void {
  const resultFail = (errCode: string, errCodeDes: string): Outcome => ({ kind: 'result-fail', errCode, errCodeDes });

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

  function route(
    endpoint: EndpointId,
    group: BudgetGroup,
    needsCert: boolean,
    schema: z.ZodType,
    handler: (params: Record<string, string>, data: Record<string, unknown>, caller: SimMerchant) => Prepared,
  ) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const returnFail = (message: string) => {
        core.calls.record(endpoint, 200, 'RETURN_FAIL');
        sendXml(reply, { return_code: 'FAIL', return_msg: message });
      };
      const cert = tls ? peerCertificate(req) : undefined;
      if (tls && needsCert && !cert) return returnFail('CERT_ERROR: 证书错误 (no client certificate was presented)');
      let params: Record<string, string>;
      try {
        params = parseV2Xml(rawBody(req));
      } catch (e) {
        return returnFail(`XML_FORMAT_ERROR: ${(e as Error).message}`);
      }
      const caller = params.mch_id ? core.store.merchant(params.mch_id) : undefined;
      if (!caller) return returnFail(`MCHID_NOT_EXIST: mch_id ${params.mch_id ?? '(missing)'} is not a merchant`);
      if (tls && needsCert && cert && !certBelongsTo(cert, caller)) {
        return returnFail(`CERT_ERROR: 证书错误 (the client certificate is not an API certificate of ${caller.mchid})`);
      }
      const signType = parseV2SignType(params.sign_type);
      if (!signType) return returnFail('sign_type must be MD5 or HMAC-SHA256');
      if (!verifyV2Sign(params, caller.apiV2Key, signType)) return returnFail('SIGNERROR: 签名错误');

      const reply2 = (outcome: Outcome) => sendSigned(reply, endpoint, caller, params, signType, outcome);
      if (params.appid !== caller.appid) {
        core.limiter.record(caller.mchid, group, false);
        return reply2(resultFail('APPID_NOT_EXIST', `appid ${params.appid} is not bound to ${caller.mchid}`));
      }
      const budget = core.limiter.check(caller.mchid, group, 'v2');
      if (!budget.ok) {
        const code = budget.reason === 'V2_BLOCKED' ? 'INVALID_REQ_TOO_MUCH' : 'FREQUENCY_LIMITED';
        return reply2(resultFail(code, budget.message));
      }
      const checked = schema.safeParse(params);
      if (!checked.success) {
        core.limiter.record(caller.mchid, group, false);
        return reply2(resultFail('PARAM_ERROR', formatZodError(checked.error)));
      }
      let prepared: Prepared;
      try {
        prepared = handler(params, checked.data as Record<string, unknown>, caller);
      } catch (e) {
        return reply2(bizOutcome(e));
      }
      const faultCtx = {
        mchid: caller.mchid,
        outRefundNo: prepared.outRefundNo,
        outTradeNo: prepared.outTradeNo,
        arrival: core.faults.arrival(),
      };
      const before = core.faults.strike(endpoint, 'before', faultCtx);
      switch (before?.kind) {
        case 'SYSTEM_ERROR':
          return reply2(resultFail('SYSTEMERROR', '系统超时 (simulated fault, nothing was stored)'));
        case 'FREQUENCY_LIMITED':
          return reply2(resultFail('FREQUENCY_LIMITED', '频率限制 (simulated fault)'));
      }
      if (answerTransportFault(reply, core.calls, endpoint, before)) return;
      let outcome: Outcome;
      try {
        outcome = prepared.run();
      } catch (e) {
        outcome = bizOutcome(e);
      }
      // Stored before any reply about it goes out (stateFile).
      core.persist();
      if (outcome.kind !== 'ok') {
        core.limiter.record(caller.mchid, group, false);
        return reply2(outcome);
      }
      try {
        core.limiter.record(caller.mchid, group, true);
        if (outcome.holdMs) await sleep(outcome.holdMs);
        const after = core.faults.strike(endpoint, 'after', faultCtx);
        if (after?.kind === 'SYSTEM_ERROR_AFTER_COMMIT') {
          return reply2(resultFail('SYSTEMERROR', '系统超时 (simulated fault after the refund was stored)'));
        }
        if (after?.kind === 'FREQUENCY_LIMITED_AFTER_COMMIT') {
          return reply2(resultFail('FREQUENCY_LIMITED', '频率限制 (simulated fault after the refund was stored)'));
        }
        if (after?.kind === 'LOST_REPLY') {
          core.calls.record(endpoint, 'RESET', 'LOST_REPLY');
          return resetConnection(reply);
        }
        if (after?.kind === 'SLOW') await sleep(after.delayMs);
        const badSign = core.faults.strike(endpoint, 'reply', faultCtx)?.kind === 'BAD_SIGNATURE';
        sendSigned(reply, endpoint, caller, params, signType, outcome, badSign);
      } finally {
        outcome.release?.();
      }
    };
  }

  function sendSigned(
    reply: FastifyReply,
    endpoint: EndpointId,
    caller: SimMerchant,
    params: Record<string, string>,
    signType: V2SignType,
    outcome: Outcome,
    badSign = false,
  ): void {
    if (outcome.kind === 'return-fail') {
      core.calls.record(endpoint, 200, 'RETURN_FAIL');
      return sendXml(reply, { return_code: 'FAIL', return_msg: outcome.message });
    }
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

  function createHandler(endpoint: 'v2.refund' | 'v2.refundv2') {
    return (_params: Record<string, string>, data: Record<string, unknown>, caller: SimMerchant) => {
      const d = data as z.output<typeof v2RefundV2RequestSchema>;
      const goods = d.detail
        ? v2RefundDetailSchema.parse(JSON.parse(d.detail)).goods_detail.map((g) => ({
            goodsId: g.goods_id,
            refundAmount: g.refund_amount,
            refundQuantity: g.refund_quantity,
            price: g.price,
          }))
        : undefined;
      return {
        outRefundNo: d.out_refund_no,
        outTradeNo: d.transaction_id !== undefined ? outTradeNoOf(core, d.transaction_id) : d.out_trade_no,
        run: (): Outcome => {
          const owner = core.service.resolveOwner(caller, d.sub_mch_id);
          const order = core.service.findOrder('v2', owner, d.transaction_id, d.out_trade_no);
          if (core.service.isOldOrder(order)) {
            const old = core.limiter.checkOldOrder(caller.mchid);
            if (!old.ok) return resultFail('FREQUENCY_LIMITED', old.message);
          }
          const result = core.service.create({
            api: 'v2',
            endpoint,
            caller,
            subMchid: d.sub_mch_id,
            transactionId: d.transaction_id,
            outTradeNo: d.out_trade_no,
            outRefundNo: d.out_refund_no,
            refundFen: d.refund_fee,
            totalFen: d.total_fee,
            reason: d.refund_desc,
            notifyUrl: d.notify_url,
            fundsAccount: d.refund_account,
            goods,
          });
          const fields: Fields = v2CreateFields(result.refund);
          if (endpoint === 'v2.refundv2') fields.promotion_detail = v2PromotionDetail(result.refund);
          return {
            kind: 'ok',
            fields,
            release: result.release,
            holdMs: result.created ? core.config.rules.createProcessingMs : 0,
          };
        },
      };
    };
  }

  app.post('/secapi/pay/refund', route('v2.refund', 'create', true, v2RefundRequestSchema, createHandler('v2.refund')));
  app.post(
    '/secapi/pay/refundv2',
    route('v2.refundv2', 'create', true, v2RefundV2RequestSchema, createHandler('v2.refundv2')),
  );

  // /pay/refundquery (§5.6): a certificate is accepted but not required.
  app.post(
    '/pay/refundquery',
    route('v2.refundquery', 'query', false, v2RefundQueryRequestSchema, (_params, data, caller) => {
      const d = data as z.output<typeof v2RefundQueryRequestSchema>;
      return {
        outRefundNo: d.out_refund_no,
        run: (): Outcome => {
          const owner = core.service.resolveOwner(caller, d.sub_mch_id);
          const notFound = () => resultFail('REFUNDNOTEXIST', '退款订单查询失败 (no refund under these ids)');
          let order: SimOrder | undefined;
          let refunds: SimRefund[];
          let byOrder = false;
          // Precedence refund_id > out_refund_no > transaction_id > out_trade_no (§5.6).
          if (d.refund_id !== undefined || d.out_refund_no !== undefined) {
            const refund =
              d.refund_id !== undefined
                ? core.store.refundById(d.refund_id)
                : core.service.find(owner, d.out_refund_no as string);
            if (!refund || refund.owner !== owner || hiddenByLag(core, 'v2.refundquery', caller, refund))
              return notFound();
            order = core.store.orderByTransactionId(refund.transactionId);
            refunds = [refund];
          } else {
            byOrder = true;
            order =
              d.transaction_id !== undefined
                ? core.store.orderByTransactionId(d.transaction_id)
                : core.store.orderByOutTradeNo(owner, d.out_trade_no as string);
            if (!order || order.owner !== owner) return notFound();
            refunds = core.store.refundsOfOrder(order).filter((r) => !hiddenByLag(core, 'v2.refundquery', caller, r));
            if (refunds.length === 0) return notFound();
          }
          if (!order) return notFound();
          const offset = d.offset ?? 0;
          if (offset > refunds.length) {
            return resultFail('PARAM_ERROR', `offset ${offset} is beyond total_refund_count ${refunds.length}`);
          }
          const page = byOrder ? refunds.slice(offset, offset + PAGE_SIZE) : refunds;
          return {
            kind: 'ok',
            fields: v2QueryFields(order, page, byOrder && refunds.length > PAGE_SIZE ? refunds.length : undefined),
          };
        },
      };
    }),
  );

  // /pay/orderquery (§11.2): the payment's own record; like the refund query, no client certificate needed.
  app.post(
    '/pay/orderquery',
    route('v2.orderquery', 'query', false, v2OrderQueryRequestSchema, (_params, data, caller) => {
      const d = data as V2OrderQueryRequest;
      return {
        outTradeNo: d.transaction_id !== undefined ? outTradeNoOf(core, d.transaction_id) : d.out_trade_no,
        run: (): Outcome => {
          const owner = core.service.resolveQueryOwner(caller, d.sub_mch_id);
          // transaction_id wins when both are sent (§11.2, as on every v2 call).
          const order = core.service.findTrade(
            owner,
            d.transaction_id !== undefined ? { transactionId: d.transaction_id } : { outTradeNo: d.out_trade_no },
          );
          return { kind: 'ok', fields: v2OrderQueryFields(order, core.service.tradeState(order)) };
        },
      };
    }),
  );
}
