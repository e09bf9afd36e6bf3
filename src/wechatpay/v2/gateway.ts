/**
 * RefundGateway over API v2 (XML, mTLS). Single-item refunds (goodsDetail) go to /secapi/pay/refundv2; the payment's
 * own record comes from /pay/orderquery (§11.2).
 * v2 has no abnormal-refund API: applyAbnormalRefund raises NeedsOperator (handle it in the merchant portal).
 * Refund bills (§12.2) are downloaded by v2/bills.ts.
 */
import { z } from 'zod';
import { checkBillDownloadTarget } from '../bill-date';
import { InvalidRequest, NeedsOperator } from '../errors';
import {
  ApplyAbnormalRefundInput,
  CreateRefundInput,
  DownloadBillInput,
  DownloadedBill,
  GatewayRefundStatus,
  OrderRecord,
  QueryOrderInput,
  QueryRefundInput,
  RefundGateway,
  RefundRecord,
} from '../gateway';
import { baseUrlSchema, httpTimeoutsSchema, pemSource } from '../config-rules';
import { formatZodError, zodIssues } from '../schema-rules';
import { orderReplyMismatch } from '../order-query';
import { v2CompactTimeToRfc3339, v2TimeToRfc3339 } from '../time';
import { createV2BillDownloader } from './bills';
import { V2_PATHS, WechatPayV2Client } from './client';
import {
  V2OrderQueryResponse,
  v2OrderQueryRequestSchema,
  v2OrderQueryResponseSchema,
  V2RefundQueryItem,
  v2RefundQueryRequestSchema,
  v2RefundQueryResponseSchema,
  v2RefundRequestSchema,
  v2RefundResponseSchema,
  v2RefundV2RequestSchema,
} from './schemas';

export const v2GatewayConfigSchema = z
  .object({
    baseUrl: baseUrlSchema.default('https://api.mch.weixin.qq.com'),
    mode: z.enum(['direct', 'partner']).default('direct'),
    appid: z.string().min(1).max(32),
    /** direct: the merchant; partner: the service provider (sub_mch_id per call). */
    mchid: z.string().regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' }),
    subAppid: z.string().min(1).max(32).optional(),
    defaultSubMchid: z
      .string()
      .regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' })
      .optional(),
    apiKey: z.string().length(32, { error: 'must be the 32-character API v2 key' }),
    signType: z.enum(['MD5', 'HMAC-SHA256']).default('MD5'),
    clientCertificate: pemSource('CERTIFICATE'),
    clientPrivateKey: pemSource('PRIVATE KEY'),
    caCertificate: pemSource('CERTIFICATE').optional(),
    notifyUrl: z.string().optional(),
    timeouts: httpTimeoutsSchema,
  })
  .refine((c) => c.mode === 'partner' || (c.defaultSubMchid === undefined && c.subAppid === undefined), {
    error: 'only allowed in partner mode',
    path: ['defaultSubMchid'],
  });

export type V2GatewayConfigInput = z.input<typeof v2GatewayConfigSchema>;

export interface V2Gateway extends RefundGateway {
  readonly apiVersion: 'v2';
  readonly client: WechatPayV2Client;
  close(): Promise<void>;
}

const V2_QUERY_STATUS: Record<V2RefundQueryItem['refund_status'], GatewayRefundStatus> = {
  SUCCESS: 'SUCCESS',
  REFUNDCLOSE: 'CLOSED',
  FAIL: 'CLOSED', // legacy (§6.2)
  PROCESSING: 'PROCESSING',
  CHANGE: 'ABNORMAL',
  NOTSURE: 'NOTSURE', // legacy: resend the identical create with the same number
};

function invalidField(path: string, message: string): InvalidRequest {
  return new InvalidRequest(`${path}: ${message}`, [{ path, message }]);
}

function parseReply<S extends z.ZodType>(schema: S, reply: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(reply);
  if (parsed.success) return parsed.data;
  const statusIssue = parsed.error.issues.some((i) => i.path.includes('refund_status'));
  throw new NeedsOperator({
    code: statusIssue ? 'UNRECOGNISED_STATUS' : 'UNEXPECTED_RESPONSE',
    message: formatZodError(parsed.error),
    httpStatus: 200,
  });
}

/** fee_type and friends are optional in v2 and mean CNY when absent. */
const DEFAULT_CURRENCY = 'CNY';

/** Accepted /pay/orderquery reply (§11.2) → internal model; time_end (Beijing time) becomes RFC 3339 with +08:00. */
export function v2OrderToRecord(o: V2OrderQueryResponse): OrderRecord {
  return {
    mchid: o.mch_id,
    subMchid: o.sub_mch_id,
    outTradeNo: o.out_trade_no,
    transactionId: o.transaction_id,
    tradeState: o.trade_state,
    bankType: o.bank_type,
    successTime: v2CompactTimeToRfc3339(o.time_end),
    // total_fee is required for a paid order (schema). An unpaid one may omit it (§11.2): 0 then, which means
    // "nothing paid" and is never used as a paid total (only SUCCESS / REFUND orders can be refunded).
    totalFen: o.total_fee ?? 0,
    payerTotalFen: o.cash_fee,
    currency: o.fee_type ?? DEFAULT_CURRENCY,
    apiVersion: 'v2',
  };
}

export function createV2Gateway(configInput: V2GatewayConfigInput, deps: { nonce?: () => string } = {}): V2Gateway {
  const parsed = v2GatewayConfigSchema.safeParse(configInput);
  if (!parsed.success) {
    throw new InvalidRequest(`invalid v2 gateway config: ${formatZodError(parsed.error)}`, zodIssues(parsed.error));
  }
  const config = parsed.data;
  // The API client and the bill downloader talk to WeChat as the same merchant, with the same certificate and key.
  const connection = {
    baseUrl: config.baseUrl,
    appid: config.appid,
    mchid: config.mchid,
    subAppid: config.subAppid,
    apiKey: config.apiKey,
    signType: config.signType,
    clientCertificate: config.clientCertificate,
    clientPrivateKey: config.clientPrivateKey,
    caCertificate: config.caCertificate,
    timeouts: config.timeouts,
    nonce: deps.nonce,
  };
  const client = new WechatPayV2Client(connection);
  const bills = createV2BillDownloader(connection);

  function subMchIdFor(given: string | undefined): string | undefined {
    if (config.mode === 'direct') {
      if (given !== undefined) throw invalidField('sub_mch_id', 'only allowed in partner mode');
      return undefined;
    }
    const sub = given ?? config.defaultSubMchid;
    if (sub === undefined) throw invalidField('sub_mch_id', 'is required in partner mode');
    return sub;
  }

  return {
    apiVersion: 'v2',
    client,

    async createRefund(input: CreateRefundInput): Promise<RefundRecord> {
      if (
        Number.isSafeInteger(input.refundFen) &&
        Number.isSafeInteger(input.totalFen) &&
        input.refundFen > input.totalFen
      ) {
        throw invalidField('refund_fee', 'must not exceed total_fee');
      }
      const singleItem = input.goodsDetail !== undefined && input.goodsDetail.length > 0;
      const params = {
        sub_mch_id: subMchIdFor(input.subMchid),
        // If both are sent WeChat uses transaction_id (§5.3); send only that one.
        transaction_id: input.transactionId,
        out_trade_no: input.transactionId === undefined ? input.outTradeNo : undefined,
        out_refund_no: input.outRefundNo,
        total_fee: input.totalFen,
        refund_fee: input.refundFen,
        refund_fee_type: 'CNY',
        refund_desc: input.reason,
        refund_account: input.fundsAccount === 'AVAILABLE' ? 'REFUND_SOURCE_RECHARGE_FUNDS' : undefined,
        notify_url: input.notifyUrl ?? config.notifyUrl,
        detail: singleItem
          ? JSON.stringify({
              goods_detail: input.goodsDetail!.map((g) => ({
                goods_id: g.merchantGoodsId,
                wxpay_goods_id: g.wechatpayGoodsId,
                goods_name: g.goodsName,
                refund_amount: g.refundAmountFen,
                refund_quantity: g.refundQuantity,
                price: g.unitPriceFen,
              })),
            })
          : undefined,
      };
      const reply = await client.call(
        singleItem ? V2_PATHS.refundV2 : V2_PATHS.refund,
        params,
        singleItem ? v2RefundV2RequestSchema : v2RefundRequestSchema,
      );
      const r = parseReply(v2RefundResponseSchema, reply as Record<string, string>);
      if (r.out_refund_no !== input.outRefundNo) {
        throw new NeedsOperator({
          code: 'RESPONSE_MISMATCH',
          message: `reply is for ${r.out_refund_no}`,
          httpStatus: 200,
        });
      }
      return {
        outRefundNo: r.out_refund_no,
        mchid: r.mch_id,
        subMchid: r.sub_mch_id || undefined,
        outTradeNo: r.out_trade_no,
        transactionId: r.transaction_id,
        refundId: r.refund_id,
        // v2 create replies carry no status: accepted means in flight (§6.2).
        status: 'PROCESSING',
        channel: 'UNKNOWN',
        amounts: {
          totalFen: r.total_fee,
          refundFen: r.refund_fee,
          payerTotalFen: r.cash_fee,
          payerRefundFen: r.cash_refund_fee,
          settlementRefundFen: r.settlement_refund_fee,
          settlementTotalFen: r.settlement_total_fee,
          discountRefundFen: r.coupon_refund_fee,
          currency: r.refund_fee_type ?? r.fee_type ?? DEFAULT_CURRENCY,
        },
        apiVersion: 'v2',
      };
    },

    async queryRefund(input: QueryRefundInput): Promise<RefundRecord | null> {
      const reply = await client.call(
        V2_PATHS.refundQuery,
        { sub_mch_id: subMchIdFor(input.subMchid), out_refund_no: input.outRefundNo },
        v2RefundQueryRequestSchema,
        { notFoundCode: 'REFUNDNOTEXIST' },
      );
      if (reply === null) return null;
      const q = parseReply(v2RefundQueryResponseSchema, reply);
      // Select by out_refund_no, never by position (§5.7).
      const item = q.refunds.find((r) => r.out_refund_no === input.outRefundNo);
      if (!item) {
        throw new NeedsOperator({
          code: 'RESPONSE_MISMATCH',
          message: `refund query reply does not list ${input.outRefundNo}`,
          httpStatus: 200,
        });
      }
      return {
        outRefundNo: item.out_refund_no,
        mchid: q.mch_id || undefined,
        subMchid: q.sub_mch_id || undefined,
        outTradeNo: q.out_trade_no,
        transactionId: q.transaction_id,
        refundId: item.refund_id,
        status: V2_QUERY_STATUS[item.refund_status],
        channel:
          item.refund_channel === 'ORIGINAL' || item.refund_channel === 'BALANCE' ? item.refund_channel : 'UNKNOWN',
        userReceivedAccount: item.refund_recv_accout,
        amounts: {
          totalFen: q.total_fee,
          refundFen: item.refund_fee,
          payerTotalFen: q.cash_fee,
          settlementRefundFen: item.settlement_refund_fee,
          settlementTotalFen: q.settlement_total_fee,
          discountRefundFen: item.coupon_refund_fee,
          // fee_type_$n is the refund's own currency; the order's fee_type otherwise.
          currency: item.fee_type ?? q.fee_type ?? DEFAULT_CURRENCY,
        },
        successTime: v2TimeToRfc3339(item.refund_success_time),
        apiVersion: 'v2',
      };
    },

    async queryOrder(input: QueryOrderInput): Promise<OrderRecord | null> {
      const subMchId = subMchIdFor(input.subMchid);
      // Send one id: out_trade_no when both are given (gateway.ts); WeChat would prefer transaction_id.
      const byOutTradeNo = input.outTradeNo !== undefined;
      const asked = {
        outTradeNo: input.outTradeNo,
        transactionId: byOutTradeNo ? undefined : input.transactionId,
      };
      const reply = await client.call(
        V2_PATHS.orderQuery,
        { sub_mch_id: subMchId, out_trade_no: asked.outTradeNo, transaction_id: asked.transactionId },
        v2OrderQueryRequestSchema,
        { notFoundCode: 'ORDERNOTEXIST' },
      );
      if (reply === null) return null;
      const record = v2OrderToRecord(parseReply(v2OrderQueryResponseSchema, reply));
      const mismatch = orderReplyMismatch({ ...asked, mchid: config.mchid, subMchid: subMchId }, record);
      if (mismatch) {
        throw new NeedsOperator({
          code: 'RESPONSE_MISMATCH',
          message: `order query reply is for another order (${mismatch})`,
          httpStatus: 200,
        });
      }
      return record;
    },

    async applyAbnormalRefund(_input: ApplyAbnormalRefundInput): Promise<RefundRecord> {
      throw new NeedsOperator({
        code: 'NOT_SUPPORTED_V2',
        message: 'API v2 has no abnormal-refund endpoint; resolve the CHANGE refund in the merchant portal',
      });
    },

    async downloadRefundBill(input: DownloadBillInput): Promise<DownloadedBill> {
      const target = checkBillDownloadTarget(input);
      const written = await bills.download({ ...target, subMchid: subMchIdFor(input.subMchid) });
      // v2 sends no digest: the SHA1 is computed for the record (§12.2).
      return { path: written.path, sha1: written.sha1, bytes: written.bytes, apiVersion: 'v2' };
    },

    async close(): Promise<void> {
      await Promise.all([client.close(), bills.close()]);
    },
  };
}
