/**
 * API v3 endpoints (reference §3, §8.3): create refund, query refund, apply-abnormal-refund, platform certificates.
 *
 * Pipeline of every call: Request-ID → Accept / User-Agent (400 INVALID_REQUEST) → Authorization: scheme and five
 * fields, timestamp within ±5 min of the REAL clock, signature by the merchant certificate named in serial_no
 * (401 SIGN_ERROR) → per-merchant budgets (429 FREQUENCY_LIMITED) → JSON and schema (400 PARAM_ERROR with detail)
 * → faults "before" → business (refund-service.ts) → faults "after" / on the signature → signed 2xx reply.
 * Error replies are unsigned unless rules.signErrorReplies (§3.3, observed behaviour).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { MalformedAuthorization, parseV3Authorization, verifyV3RequestSignature } from '../wechatpay/v3/sign';
import {
  v3ApplyAbnormalRefundPathSchema,
  v3ApplyAbnormalRefundRequestSchema,
  v3CreateRefundRequestSchema,
  v3QueryRefundRequestSchema,
} from '../wechatpay/v3/schemas';
import { BizError, v3ErrorFor } from './biz-errors';
import type { SimulatorCore } from './core';
import type { EndpointId } from './fault-schemas';
import { answerTransportFault, rawBody, resetConnection, sleep, zodDetail } from './http-common';
import type { SimMerchant, SimRefund } from './model';
import type { BudgetGroup } from './rate-limiter';
import type { SignatureFault } from './wechat-signer';
import { v3OrderQueryDirectSchema, v3OrderQueryPartnerSchema, v3OrderQueryPathSchemas } from './order-query-schemas';
import { v3OrderObject, v3RefundObject } from './wire-views';
import { SECOND_MS } from './time-format';

type Detail = { field: string; value?: unknown; issue: string; location: string };

type Outcome =
  | { ok: true; body: Record<string, unknown>; signWithCertificate?: boolean; release?: () => void; holdMs?: number }
  | { ok: false; status: number; code: string; message: string; detail?: Detail };

interface Parsed {
  /** For fault selection. */
  outRefundNo?: string;
  outTradeNo?: string;
  run: () => Outcome;
}

type Handler = (req: FastifyRequest, caller: SimMerchant, body: Buffer) => Parsed | Outcome;

const REFUNDS = '/v3/refund/domestic/refunds';

/** Paths the v3 server knows, for 405 (known path, wrong method) vs 404. */
export const V3_PATHS: RegExp[] = [
  /^\/v3\/refund\/domestic\/refunds$/,
  /^\/v3\/refund\/domestic\/refunds\/[^/]+$/,
  /^\/v3\/refund\/domestic\/refunds\/[^/]+\/apply-abnormal-refund$/,
  /^\/v3\/certificates$/,
  /^\/v3\/pay\/transactions\/(out-trade-no|id)\/[^/]+$/,
  /^\/v3\/pay\/partner\/transactions\/(out-trade-no|id)\/[^/]+$/,
];

type Failure = Extract<Outcome, { ok: false }>;

function error(status: number, code: string, message: string, detail?: Detail): Failure {
  return { ok: false, status, code, message, detail };
}

function isOutcome(x: Parsed | Outcome): x is Outcome {
  return 'ok' in x;
}

export function registerV3Routes(app: FastifyInstance, core: SimulatorCore): void {
  const rules = core.config.rules;

  function bizOutcome(e: unknown): Outcome {
    if (!(e instanceof BizError)) throw e;
    const shape = v3ErrorFor(e.kind, rules);
    const detail = e.detail
      ? { field: e.detail.field, value: e.detail.value, issue: e.message, location: e.detail.location }
      : undefined;
    return error(shape.status, shape.code, e.message, detail);
  }

  function parseJson<S extends z.ZodType>(schema: S, body: Buffer): { data: z.output<S> } | Outcome {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return error(400, 'PARAM_ERROR', 'request body is not valid JSON', {
        field: '/',
        issue: 'must be a JSON object',
        location: 'body',
      });
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      const detail = zodDetail(r.error, json, 'body');
      return error(400, 'PARAM_ERROR', `${detail.field}: ${detail.issue}`, detail);
    }
    return { data: r.data };
  }

  function sendError(reply: FastifyReply, o: Failure): void {
    const text = JSON.stringify({ code: o.code, message: o.message, ...(o.detail ? { detail: o.detail } : {}) });
    if (rules.signErrorReplies) reply.headers(core.signer.signHeaders(text));
    reply.code(o.status).type('application/json; charset=utf-8').send(text);
  }

  function route(endpoint: EndpointId, group: BudgetGroup, handler: Handler) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      reply.header('Request-ID', core.requestIds.requestId());
      const body = rawBody(req);
      // Known once authenticated; failing calls of a known merchant count against its error budget.
      const who: { caller?: SimMerchant } = {};
      let countAsError = true;
      const finish = (o: Failure) => {
        sendError(reply, o);
        core.calls.record(endpoint, o.status, o.code);
        if (who.caller && countAsError && o.status < 500 && o.status !== 429)
          core.limiter.record(who.caller.mchid, group, false);
      };

      // §8.3 step 2
      if (rules.requireAccept && !req.headers.accept)
        return finish(error(400, 'INVALID_REQUEST', 'the Accept header is required'));
      if (rules.requireUserAgent && !req.headers['user-agent']) {
        return finish(error(400, 'INVALID_REQUEST', 'the User-Agent header is required'));
      }
      // §8.3 step 3 (§3.2)
      const auth = authenticate(req, body);
      if ('status' in auth) return finish(auth);
      const caller = auth.caller;
      who.caller = caller;
      // §8.3 step 4
      const budget = core.limiter.check(caller.mchid, group, 'v3');
      if (!budget.ok) {
        countAsError = false;
        return finish(error(429, 'FREQUENCY_LIMITED', budget.message));
      }
      // §8.3 step 5 and the endpoint's own parsing
      let parsed: Parsed | Outcome;
      try {
        parsed = handler(req, caller, body);
      } catch (e) {
        parsed = bizOutcome(e);
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
        switch (before.kind) {
          case 'SYSTEM_ERROR':
            return finish(error(500, 'SYSTEM_ERROR', '系统错误 (simulated fault, nothing was stored)'));
          case 'FREQUENCY_LIMITED':
            return finish(error(429, 'FREQUENCY_LIMITED', '请求频率超过限制 (simulated fault)'));
        }
        if (answerTransportFault(reply, core.calls, endpoint, before)) return;
      }
      let outcome: Outcome;
      try {
        outcome = parsed.run();
      } catch (e) {
        outcome = bizOutcome(e);
      }
      // Stored before any reply about it goes out (stateFile).
      core.persist();
      if (!outcome.ok) return finish(outcome);
      try {
        core.limiter.record(caller.mchid, group, true);
        if (outcome.holdMs) await sleep(outcome.holdMs);
        const after = core.faults.strike(endpoint, 'after', faultCtx);
        if (after?.kind === 'SYSTEM_ERROR_AFTER_COMMIT') {
          countAsError = false;
          return finish(error(500, 'SYSTEM_ERROR', '系统错误 (simulated fault after the refund was stored)'));
        }
        if (after?.kind === 'FREQUENCY_LIMITED_AFTER_COMMIT') {
          countAsError = false;
          return finish(
            error(429, 'FREQUENCY_LIMITED', '请求频率超过限制 (simulated fault after the refund was stored)'),
          );
        }
        if (after?.kind === 'LOST_REPLY') {
          core.calls.record(endpoint, 'RESET', 'LOST_REPLY');
          return resetConnection(reply);
        }
        if (after?.kind === 'SLOW') await sleep(after.delayMs);
        const onReply = core.faults.strike(endpoint, 'reply', faultCtx);
        const text = JSON.stringify(outcome.body);
        const key = outcome.signWithCertificate ? core.signer.certificateKey() : undefined;
        reply.headers(core.signer.signHeaders(text, onReply?.kind as SignatureFault | undefined, key));
        reply.code(200).type('application/json; charset=utf-8').send(text);
        core.calls.record(endpoint, 200);
      } finally {
        outcome.release?.();
      }
    };
  }

  function authenticate(req: FastifyRequest, body: Buffer): { caller: SimMerchant } | Failure {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || header.length === 0)
      return error(401, 'SIGN_ERROR', 'the Authorization header is missing');
    let auth;
    try {
      auth = parseV3Authorization(header);
    } catch (e) {
      if (e instanceof MalformedAuthorization) return error(401, 'SIGN_ERROR', e.message);
      throw e;
    }
    const caller = core.store.merchant(auth.mchid);
    if (!caller) return error(401, 'SIGN_ERROR', `mchid ${auth.mchid} is not a known merchant`);
    const ts = /^\d{1,12}$/.test(auth.timestamp) ? Number(auth.timestamp) : NaN;
    const skew = Math.abs(Math.floor(Date.now() / 1000) - ts);
    if (!(skew <= rules.authTimestampToleranceSeconds)) {
      return error(
        401,
        'SIGN_ERROR',
        `timestamp ${auth.timestamp} is more than ${rules.authTimestampToleranceSeconds} s from now`,
      );
    }
    const serial = auth.serialNo.toUpperCase().replace(/^0+(?=.)/, '');
    const cert = caller.certificates.find((c) => c.serialNo === serial);
    if (!cert) {
      return error(
        401,
        'SIGN_ERROR',
        `serial_no ${auth.serialNo} is not an API certificate of merchant ${caller.mchid}`,
      );
    }
    const valid = verifyV3RequestSignature({
      method: req.method,
      // The request-target exactly as sent: the signature covers the encoded path and query (§3.2).
      url: req.raw.url ?? req.url,
      body,
      timestamp: auth.timestamp,
      nonce: auth.nonceStr,
      signature: auth.signature,
      publicKey: cert.publicKeyPem,
    });
    if (!valid) return error(401, 'SIGN_ERROR', 'signature verification failed');
    return { caller };
  }

  // POST /v3/refund/domestic/refunds (§3.6)
  app.post(
    REFUNDS,
    route('v3.create', 'create', (_req, caller, body) => {
      const p = parseJson(v3CreateRefundRequestSchema, body);
      if (!('data' in p)) return p;
      const r = p.data;
      return {
        outRefundNo: r.out_refund_no,
        outTradeNo: r.out_trade_no ?? outTradeNoOf(core, r.transaction_id),
        run: () => {
          const owner = core.service.resolveOwner(caller, r.sub_mchid);
          const order = core.service.findOrder('v3', owner, r.transaction_id, r.out_trade_no);
          if (core.service.isOldOrder(order)) {
            const old = core.limiter.checkOldOrder(caller.mchid);
            if (!old.ok) return error(429, 'FREQUENCY_LIMITED', old.message);
          }
          if (r.amount.from) {
            const sum = r.amount.from.reduce((s, f) => s + f.amount, 0);
            const accounts = new Set(r.amount.from.map((f) => f.account));
            if (sum !== r.amount.refund || accounts.size !== r.amount.from.length) {
              return error(400, 'PARAM_ERROR', 'amount.from must add up to amount.refund, each account once', {
                field: '/amount/from',
                issue: 'parts must add up to amount.refund and accounts must not repeat',
                location: 'body',
              });
            }
          }
          const result = core.service.create({
            api: 'v3',
            endpoint: 'v3.create',
            caller,
            subMchid: r.sub_mchid,
            transactionId: r.transaction_id,
            outTradeNo: r.out_trade_no,
            outRefundNo: r.out_refund_no,
            refundFen: r.amount.refund,
            totalFen: r.amount.total,
            reason: r.reason,
            notifyUrl: r.notify_url,
            fundsAccount: r.funds_account,
            from: r.amount.from,
            goods: r.goods_detail?.map((g) => ({
              goodsId: g.merchant_goods_id,
              refundAmount: g.refund_amount,
              refundQuantity: g.refund_quantity,
              price: g.unit_price,
            })),
          });
          return {
            ok: true,
            body: v3RefundObject(result.refund),
            release: result.release,
            holdMs: result.created ? rules.createProcessingMs : 0,
          };
        },
      };
    }),
  );

  // GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=] (§3.7)
  app.get(
    `${REFUNDS}/:outRefundNo`,
    route('v3.query', 'query', (req, caller) => {
      const params = req.params as { outRefundNo: string };
      const query = req.query as Record<string, unknown>;
      const input = { out_refund_no: params.outRefundNo, sub_mchid: query.sub_mchid };
      const r = v3QueryRefundRequestSchema.safeParse(input);
      if (!r.success) {
        const location = r.error.issues[0].path[0] === 'sub_mchid' ? 'query' : 'url';
        const detail = zodDetail(r.error, input, location);
        return error(400, 'PARAM_ERROR', `${detail.field}: ${detail.issue}`, detail);
      }
      return {
        outRefundNo: r.data.out_refund_no,
        run: () => {
          const owner = core.service.resolveOwner(caller, r.data.sub_mchid, 'query');
          const refund = core.service.find(owner, r.data.out_refund_no);
          if (!refund || hiddenByLag(core, 'v3.query', caller, refund)) {
            return error(404, 'RESOURCE_NOT_EXISTS', `no refund with out_refund_no ${r.data.out_refund_no}`);
          }
          return { ok: true, body: v3RefundObject(refund) };
        },
      };
    }),
  );

  // POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund (§3.8)
  app.post(
    `${REFUNDS}/:refundId/apply-abnormal-refund`,
    route('v3.abnormal', 'abnormal', (req, caller, body) => {
      const params = req.params as { refundId: string };
      const path = v3ApplyAbnormalRefundPathSchema.safeParse({ refund_id: params.refundId });
      if (!path.success) {
        const detail = zodDetail(path.error, { refund_id: params.refundId }, 'url');
        return error(400, 'PARAM_ERROR', `${detail.field}: ${detail.issue}`, detail);
      }
      const p = parseJson(v3ApplyAbnormalRefundRequestSchema, body);
      if (!('data' in p)) return p;
      const r = p.data;
      let bankAccount: string | undefined;
      if (r.type === 'USER_BANK_CARD') {
        const serialHeader = req.headers['wechatpay-serial'];
        const serial = typeof serialHeader === 'string' ? serialHeader : undefined;
        const key = core.signer.decryptionKey(serial);
        if (!key) {
          return error(
            400,
            'PARAM_ERROR',
            'Wechatpay-Serial must name the WeChat key the bank fields were encrypted with',
            {
              field: 'Wechatpay-Serial',
              ...(serial ? { value: serial } : {}),
              issue: serial ? 'unknown WeChat key id' : 'is required with encrypted fields',
              location: 'header',
            },
          );
        }
        for (const field of ['bank_account', 'real_name'] as const) {
          try {
            const plain = core.signer.decryptField(r[field] as string, key);
            if (field === 'bank_account') bankAccount = plain;
          } catch {
            return error(400, 'PARAM_ERROR', `${field} cannot be decrypted with key ${serial}`, {
              field: `/${field}`,
              issue: `must be RSA-OAEP ciphertext for key ${serial}`,
              location: 'body',
            });
          }
        }
      }
      return {
        outRefundNo: r.out_refund_no,
        run: () => {
          const refund = core.service.applyAbnormal(caller, r.sub_mchid, path.data.refund_id, r.out_refund_no, {
            type: r.type,
            bankType: r.bank_type,
            accountLast4: bankAccount?.slice(-4),
            at: core.clock.now(),
          });
          return { ok: true, body: v3RefundObject(refund) };
        },
      };
    }),
  );

  /**
   * Order query (§11.1). The merchant named in the query string (mchid, or sp_mchid for a service provider) must be
   * the one that signed the request; a provider sees only its bound sub-merchants' orders. Validated with the
   * simulator's own schemas (order-query-schemas.ts).
   */
  function orderQuery(mode: 'direct' | 'partner', by: 'out_trade_no' | 'transaction_id'): Handler {
    return (req, caller) => {
      const params = req.params as { id: string };
      const pathInput = { [by]: params.id };
      const path = v3OrderQueryPathSchemas[by].safeParse(pathInput);
      if (!path.success) {
        const detail = zodDetail(path.error, pathInput, 'url');
        return error(400, 'PARAM_ERROR', `${detail.field}: ${detail.issue}`, detail);
      }
      const query = req.query as Record<string, unknown>;
      const queryInput =
        mode === 'direct' ? { mchid: query.mchid } : { sp_mchid: query.sp_mchid, sub_mchid: query.sub_mchid };
      const q =
        mode === 'direct'
          ? v3OrderQueryDirectSchema.safeParse(queryInput)
          : v3OrderQueryPartnerSchema.safeParse(queryInput);
      if (!q.success) {
        const detail = zodDetail(q.error, queryInput, 'query');
        return error(400, 'PARAM_ERROR', `${detail.field}: ${detail.issue}`, detail);
      }
      const [field, named] = 'mchid' in q.data ? ['mchid', q.data.mchid] : ['sp_mchid', q.data.sp_mchid];
      const subMchid = 'sub_mchid' in q.data ? q.data.sub_mchid : undefined;
      const ids = by === 'out_trade_no' ? { outTradeNo: params.id } : { transactionId: params.id };
      return {
        // Faults select by out_trade_no also when the order is named by its transaction_id.
        outTradeNo: ids.outTradeNo ?? outTradeNoOf(core, params.id),
        run: () => {
          if (named !== caller.mchid) {
            throw new BizError(
              'NO_AUTH',
              `${field} ${named} is not the merchant that signed the request (${caller.mchid})`,
            );
          }
          const owner = core.service.resolveQueryOwner(caller, subMchid);
          const order = core.service.findTrade(owner, ids);
          return { ok: true, body: v3OrderObject(order, core.service.tradeState(order), mode === 'partner') };
        },
      };
    };
  }

  app.get(
    '/v3/pay/transactions/out-trade-no/:id',
    route('v3.orderquery', 'query', orderQuery('direct', 'out_trade_no')),
  );
  app.get('/v3/pay/transactions/id/:id', route('v3.orderquery', 'query', orderQuery('direct', 'transaction_id')));
  app.get(
    '/v3/pay/partner/transactions/out-trade-no/:id',
    route('v3.orderquery', 'query', orderQuery('partner', 'out_trade_no')),
  );
  app.get(
    '/v3/pay/partner/transactions/id/:id',
    route('v3.orderquery', 'query', orderQuery('partner', 'transaction_id')),
  );

  // GET /v3/certificates (§3.4)
  app.get(
    '/v3/certificates',
    route('v3.certificates', 'query', (_req, caller) => ({
      run: () => {
        const text = core.signer.certificatesBody(caller.apiV3Key);
        if (text === undefined) {
          return error(
            404,
            'RESOURCE_NOT_EXISTS',
            'this merchant uses WeChat Pay public keys; no platform certificates',
          );
        }
        return { ok: true, body: JSON.parse(text) as Record<string, unknown>, signWithCertificate: true };
      },
    })),
  );
}

/** The out_trade_no of the order with this transaction_id, for fault selection (undefined when unknown). */
export function outTradeNoOf(core: SimulatorCore, transactionId: string | undefined): string | undefined {
  return transactionId === undefined ? undefined : core.store.orderByTransactionId(transactionId)?.outTradeNo;
}

/** F6: a refund accepted less than `lagSeconds` ago is not yet visible to queries. */
export function hiddenByLag(
  core: SimulatorCore,
  endpoint: EndpointId,
  caller: SimMerchant,
  refund: SimRefund,
): boolean {
  const ageSeconds = (core.clock.now() - refund.createdAt) / SECOND_MS;
  return (
    core.faults.hidesRefund(endpoint, { mchid: caller.mchid, outRefundNo: refund.outRefundNo }, ageSeconds) !==
    undefined
  );
}
