/**
 * RefundGateway over API v3 (direct and service-provider modes). Validates input into the wire format before any
 * network call (InvalidRequest naming the field and rule), then maps WeChat's Refund object to RefundRecord and the
 * order query's reply (§11.1) to OrderRecord. Refund bills (§12.1) are downloaded by v3/bills.ts.
 */
import { z } from 'zod';
import { checkBillDownloadTarget } from '../bill-date';
import { InvalidRequest, NeedsOperator } from '../errors';
import {
  ApplyAbnormalRefundInput,
  CreateRefundInput,
  DownloadBillInput,
  DownloadedBill,
  OrderRecord,
  QueryOrderInput,
  QueryRefundInput,
  RefundGateway,
  RefundRecord,
} from '../gateway';
import { baseUrlSchema, httpTimeoutsSchema, pemSource } from '../config-rules';
import { orderReplyMismatch } from '../order-query';
import { formatZodError, zodIssues } from '../schema-rules';
import { createV3BillDownloader } from './bills';
import { DEFAULT_USER_AGENT, WechatPayV3Client } from './client';
import { PUBLIC_KEY_ID_PREFIX, WechatPayKeyring } from './keyring';
import { encryptSensitiveField } from './rsa-oaep';
import { buildV3Authorization, generateNonce } from './sign';
import {
  v3AbnormalBankTypeSchema,
  v3ApplyAbnormalRefundRequestSchema,
  v3CreateRefundRequestSchema,
  V3OrderResponse,
  v3QueryOrderRequestSchema,
  v3QueryRefundRequestSchema,
  V3RefundResponse,
} from './schemas';

export const v3GatewayConfigSchema = z
  .object({
    baseUrl: baseUrlSchema.default('https://api.mch.weixin.qq.com'),
    /** direct: `mchid` is the merchant. partner: `mchid` is the service provider (sp_mchid); sub_mchid per call. */
    mode: z.enum(['direct', 'partner']).default('direct'),
    mchid: z.string().regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' }),
    /** partner mode: sub-merchant used when a call does not name one. */
    defaultSubMchid: z
      .string()
      .regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' })
      .optional(),
    merchantSerialNo: z
      .string()
      .regex(/^[0-9A-Fa-f]{1,40}$/, { error: 'must be the hex serial of the merchant API certificate' }),
    merchantPrivateKey: pemSource('PRIVATE KEY'),
    apiV3Key: z.string().refine((k) => Buffer.byteLength(k, 'utf8') === 32, { error: 'must be exactly 32 bytes' }),
    /** Platform certificates known up front (PEM or paths); more are downloaded on demand. */
    platformCertificates: z.array(pemSource('CERTIFICATE')).default([]),
    /** WeChat Pay public keys (`PUB_KEY_ID_…`), for merchants that have them. */
    wechatpayPublicKeys: z
      .array(
        z.object({
          id: z.string().startsWith(PUBLIC_KEY_ID_PREFIX, { error: `must start with ${PUBLIC_KEY_ID_PREFIX}` }),
          publicKey: pemSource('PUBLIC KEY'),
        }),
      )
      .default([]),
    /** Download platform certificates when an unknown serial shows up. Off for public-key-only merchants. */
    autoRefreshCertificates: z.boolean().default(true),
    notifyUrl: z.string().optional(),
    userAgent: z.string().min(1).optional(),
    timeouts: httpTimeoutsSchema,
    /** Extra CA to trust (e.g. the local simulator over https). */
    caCertificate: pemSource('CERTIFICATE').optional(),
  })
  .refine((c) => c.mode === 'partner' || c.defaultSubMchid === undefined, {
    error: 'only allowed in partner mode',
    path: ['defaultSubMchid'],
  });

export type V3GatewayConfigInput = z.input<typeof v3GatewayConfigSchema>;
export type V3GatewayConfig = z.output<typeof v3GatewayConfigSchema>;

export interface V3GatewayDeps {
  /** Share one keyring with the webhook so both see the same certificates. */
  keyring?: WechatPayKeyring;
  now?: () => number;
  nonce?: () => string;
}

export interface V3Gateway extends RefundGateway {
  readonly apiVersion: 'v3';
  readonly client: WechatPayV3Client;
  readonly keyring: WechatPayKeyring;
  close(): Promise<void>;
}

function invalid(prefix: string, error: z.ZodError): InvalidRequest {
  return new InvalidRequest(`${prefix}: ${formatZodError(error)}`, zodIssues(error));
}

function invalidField(path: string, message: string): InvalidRequest {
  return new InvalidRequest(`${path}: ${message}`, [{ path, message }]);
}

/** Refund object → internal model (§6.2). */
export function v3RefundToRecord(r: V3RefundResponse): RefundRecord {
  return {
    outRefundNo: r.out_refund_no,
    // Direct replies name no merchant (both stay undefined); partner replies name the sub-merchant.
    mchid: r.sp_mchid ?? r.mchid,
    subMchid: r.sub_mchid,
    outTradeNo: r.out_trade_no,
    transactionId: r.transaction_id,
    refundId: r.refund_id,
    status: r.status,
    channel: r.channel,
    userReceivedAccount: r.user_received_account,
    amounts: {
      totalFen: r.amount.total,
      refundFen: r.amount.refund,
      payerRefundFen: r.amount.payer_refund,
      payerTotalFen: r.amount.payer_total,
      settlementRefundFen: r.amount.settlement_refund,
      settlementTotalFen: r.amount.settlement_total,
      discountRefundFen: r.amount.discount_refund,
      currency: r.amount.currency,
    },
    createTime: r.create_time,
    successTime: r.success_time,
    apiVersion: 'v3',
  };
}

/** Order-query reply (§11.1) → internal model; mchid is the direct merchant or the service provider (sp_mchid). */
export function v3OrderToRecord(o: V3OrderResponse): OrderRecord {
  return {
    mchid: (o.mchid ?? o.sp_mchid) as string,
    subMchid: o.sub_mchid,
    outTradeNo: o.out_trade_no,
    transactionId: o.transaction_id,
    tradeState: o.trade_state,
    bankType: o.bank_type || undefined,
    successTime: o.success_time,
    totalFen: o.amount.total,
    payerTotalFen: o.amount.payer_total,
    currency: o.amount.currency ?? 'CNY',
    apiVersion: 'v3',
  };
}

export function createV3Gateway(configInput: V3GatewayConfigInput, deps: V3GatewayDeps = {}): V3Gateway {
  const parsed = v3GatewayConfigSchema.safeParse(configInput);
  if (!parsed.success) throw invalid('invalid v3 gateway config', parsed.error);
  const config = parsed.data;

  const keyring =
    deps.keyring ??
    new WechatPayKeyring({
      platformCertificates: config.platformCertificates,
      publicKeys: config.wechatpayPublicKeys,
      now: deps.now,
    });
  if (deps.keyring) {
    for (const pem of config.platformCertificates) keyring.addPlatformCertificate(pem);
    for (const k of config.wechatpayPublicKeys) keyring.addPublicKey(k.id, k.publicKey);
  }
  const client = new WechatPayV3Client({
    baseUrl: config.baseUrl,
    mchid: config.mchid,
    merchantSerialNo: config.merchantSerialNo.toUpperCase(),
    merchantPrivateKey: config.merchantPrivateKey,
    apiV3Key: config.apiV3Key,
    keyring,
    userAgent: config.userAgent,
    timeouts: config.timeouts,
    tls: config.caCertificate ? { ca: config.caCertificate } : undefined,
    now: deps.now,
    nonce: deps.nonce,
    autoRefreshCertificates: config.autoRefreshCertificates,
  });

  const bills = createV3BillDownloader({
    client,
    baseUrl: config.baseUrl,
    authorize: (method, url) =>
      buildV3Authorization({
        method,
        url,
        mchid: config.mchid,
        serialNo: config.merchantSerialNo.toUpperCase(),
        privateKey: config.merchantPrivateKey,
        timestamp: Math.floor((deps.now ?? Date.now)() / 1000),
        nonce: (deps.nonce ?? generateNonce)(),
      }),
    userAgent: config.userAgent ?? DEFAULT_USER_AGENT,
    timeouts: config.timeouts,
    tls: config.caCertificate ? { ca: config.caCertificate } : undefined,
  });

  /** sub_mchid per mode: required in partner mode, refused in direct mode (WeChat would read it as a bug). */
  function subMchidFor(given: string | undefined): string | undefined {
    if (config.mode === 'direct') {
      if (given !== undefined) throw invalidField('sub_mchid', 'only allowed in partner mode');
      return undefined;
    }
    const sub = given ?? config.defaultSubMchid;
    if (sub === undefined) throw invalidField('sub_mchid', 'is required in partner mode');
    return sub;
  }

  /** Encryption key for sensitive fields; downloads platform certificates once if none is known yet. */
  async function encryptionKey() {
    let key = keyring.encryptionKey();
    let refreshError: unknown;
    if (!key && keyring.canRefresh) {
      // A failed download (e.g. 404 for a public-key-only merchant) must not surface as a verdict on the refund.
      await keyring.refresh().catch((e: unknown) => (refreshError = e));
      key = keyring.encryptionKey();
    }
    if (!key) {
      throw new NeedsOperator({
        code: 'NO_WECHATPAY_KEY',
        message: 'no WeChat Pay public key or valid platform certificate to encrypt bank details with',
        cause: refreshError,
      });
    }
    return key;
  }

  return {
    apiVersion: 'v3',
    client,
    keyring,

    async createRefund(input: CreateRefundInput): Promise<RefundRecord> {
      const body = {
        sub_mchid: subMchidFor(input.subMchid),
        // transaction_id is preferred; exactly one of the pair is sent (§3.6).
        transaction_id: input.transactionId,
        out_trade_no: input.transactionId === undefined ? input.outTradeNo : undefined,
        out_refund_no: input.outRefundNo,
        reason: input.reason,
        notify_url: input.notifyUrl ?? config.notifyUrl,
        funds_account: input.fundsAccount,
        amount: { refund: input.refundFen, total: input.totalFen, currency: 'CNY' as const },
        goods_detail: input.goodsDetail?.map((g) => ({
          merchant_goods_id: g.merchantGoodsId,
          wechatpay_goods_id: g.wechatpayGoodsId,
          goods_name: g.goodsName,
          unit_price: g.unitPriceFen,
          refund_amount: g.refundAmountFen,
          refund_quantity: g.refundQuantity,
        })),
      };
      const checked = v3CreateRefundRequestSchema.safeParse(body);
      if (!checked.success) throw invalid('invalid refund request', checked.error);
      // Business rule M4 checked locally too: WeChat would refuse it as INVALID_REQUEST (Final) after a round trip.
      if (checked.data.amount.refund > checked.data.amount.total) {
        throw invalidField('amount.refund', 'must not exceed amount.total');
      }
      const { data } = await client.createRefund(checked.data);
      if (data.out_refund_no !== input.outRefundNo) {
        throw new NeedsOperator({
          code: 'RESPONSE_MISMATCH',
          message: `reply is for ${data.out_refund_no}`,
          httpStatus: 200,
        });
      }
      return v3RefundToRecord(data);
    },

    async queryRefund(input: QueryRefundInput): Promise<RefundRecord | null> {
      const checked = v3QueryRefundRequestSchema.safeParse({
        out_refund_no: input.outRefundNo,
        sub_mchid: subMchidFor(input.subMchid),
      });
      if (!checked.success) throw invalid('invalid refund query', checked.error);
      const { data } = await client.queryRefund(checked.data.out_refund_no, checked.data.sub_mchid);
      return data === null ? null : v3RefundToRecord(data);
    },

    async queryOrder(input: QueryOrderInput): Promise<OrderRecord | null> {
      const subMchid = subMchidFor(input.subMchid);
      // One id goes on the path: out_trade_no when both are given (gateway.ts).
      const byOutTradeNo = input.outTradeNo !== undefined;
      const checked = v3QueryOrderRequestSchema.safeParse({
        out_trade_no: input.outTradeNo,
        transaction_id: byOutTradeNo ? undefined : input.transactionId,
        ...(subMchid === undefined ? { mchid: config.mchid } : { sp_mchid: config.mchid, sub_mchid: subMchid }),
      });
      if (!checked.success) throw invalid('invalid order query', checked.error);
      const { data, requestId } = await client.queryOrder(checked.data);
      if (data === null) return null;
      const record = v3OrderToRecord(data);
      // Verified means WeChat wrote it, not that it answers this question: never adopt another order's facts.
      const mismatch = orderReplyMismatch(
        {
          outTradeNo: checked.data.out_trade_no,
          transactionId: checked.data.transaction_id,
          mchid: config.mchid,
          subMchid,
        },
        record,
      );
      if (mismatch) {
        throw new NeedsOperator({
          code: 'RESPONSE_MISMATCH',
          message: `order query reply is for another order (${mismatch})`,
          httpStatus: 200,
          requestId,
        });
      }
      return record;
    },

    async applyAbnormalRefund(input: ApplyAbnormalRefundInput): Promise<RefundRecord> {
      const subMchid = subMchidFor(input.subMchid);
      if (!/^\d{1,32}$/.test(input.refundId ?? '')) throw invalidField('refund_id', 'must be 1-32 digits');
      if (input.type === 'USER_BANK_CARD') {
        // Plaintext checks before encrypting: afterwards the schema only sees ciphertext.
        if (!v3AbnormalBankTypeSchema.safeParse(input.bankType).success) {
          throw invalidField('bank_type', v3AbnormalBankTypeSchema.safeParse(input.bankType).error!.issues[0].message);
        }
        if (!input.bankAccount || !/^\d{8,32}$/.test(input.bankAccount)) {
          throw invalidField('bank_account', 'must be the 8-32 digit card number (plaintext; it is encrypted here)');
        }
        if (!input.realName || input.realName.trim().length === 0 || input.realName.length > 64) {
          throw invalidField('real_name', 'must be the 1-64 character account holder name');
        }
      }
      const key = input.type === 'USER_BANK_CARD' ? await encryptionKey() : undefined;
      const body = {
        sub_mchid: subMchid,
        out_refund_no: input.outRefundNo,
        type: input.type,
        bank_type: input.type === 'USER_BANK_CARD' ? input.bankType : undefined,
        bank_account: key && input.bankAccount ? encryptSensitiveField(input.bankAccount, key.key) : undefined,
        real_name: key && input.realName ? encryptSensitiveField(input.realName, key.key) : undefined,
      };
      const checked = v3ApplyAbnormalRefundRequestSchema.safeParse(body);
      if (!checked.success) throw invalid('invalid abnormal-refund request', checked.error);
      // The header names the key the fields were encrypted with; without encrypted fields it is not needed.
      const { data } = await client.applyAbnormalRefund(input.refundId, checked.data, key?.id);
      return v3RefundToRecord(data);
    },

    async downloadRefundBill(input: DownloadBillInput): Promise<DownloadedBill> {
      const target = checkBillDownloadTarget(input);
      const written = await bills.download({ ...target, subMchid: subMchidFor(input.subMchid) });
      return { path: written.path, sha1: written.sha1, bytes: written.bytes, apiVersion: 'v3' };
    },

    async close(): Promise<void> {
      await Promise.all([client.close(), bills.close()]);
    },
  };
}
