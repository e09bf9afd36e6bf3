/**
 * The one interface the rest of the product uses to talk to WeChat Pay, whichever API generation
 * (v3 JSON/RSA or v2 XML/MD5/HMAC) the merchant runs. Workflows and activities never see the difference.
 *
 * All amounts are integer fen. Timestamps are ISO-8601 strings (as WeChat sends them, with offset).
 * Every method either resolves with the internal model or throws a `WechatPayError` subclass
 * (RetrySame | UnknownOutcome | Throttled | Final | NeedsOperator) or `InvalidRequest` (nothing sent).
 */
import type { DownloadBillInput, DownloadedBill } from '../reconciliation/types';

export type { DownloadBillInput, DownloadedBill } from '../reconciliation/types';

/** WeChat-side refund status, normalised across v3 and v2 (reference §6.2). */
export type GatewayRefundStatus =
  | 'PROCESSING'
  | 'SUCCESS'
  | 'CLOSED' // v3 CLOSED / notify alias CLOSE / v2 REFUNDCLOSE / legacy FAIL
  | 'ABNORMAL' // v3 ABNORMAL / v2 CHANGE
  | 'NOTSURE'; // legacy v2 NOTSURE: resend the identical create with the same out_refund_no

/** Where the money goes back to (v3 `channel`; v2 `refund_channel`/`refund_recv_accout` inferred). */
export type RefundChannel = 'ORIGINAL' | 'BALANCE' | 'OTHER_BALANCE' | 'OTHER_BANKCARD' | 'UNKNOWN';

export interface RefundAmounts {
  /** Order total (amount.total / total_fee). */
  totalFen: number;
  /** This refund (amount.refund / refund_fee). */
  refundFen: number;
  /** Cash the payer receives (payer_refund / cash_refund_fee), when known. */
  payerRefundFen?: number;
  /** payer_total / cash_fee, when known. */
  payerTotalFen?: number;
  settlementRefundFen?: number;
  settlementTotalFen?: number;
  discountRefundFen?: number;
  /**
   * As WeChat wrote it. Always `CNY` for a refund this engine asked for (M2); kept as text so that a reply naming
   * another currency is compared with the request by the workflow (domain/evidence.ts) instead of failing to parse.
   */
  currency: string;
}

/** The internal model every gateway call returns. */
export interface RefundRecord {
  outRefundNo: string;
  /** The merchant (direct) or service provider (partner) the reply names, when it names one (v2 replies, v3 partner). */
  mchid?: string;
  /** The sub-merchant the reply names (partner mode), when it names one. */
  subMchid?: string;
  outTradeNo?: string;
  transactionId?: string;
  /** WeChat's refund id (needed by apply-abnormal-refund). */
  refundId?: string;
  status: GatewayRefundStatus;
  channel: RefundChannel;
  /** user_received_account, e.g. "招商银行信用卡0403" or "支付用户零钱". */
  userReceivedAccount?: string;
  amounts: RefundAmounts;
  createTime?: string;
  successTime?: string;
  /** Which API generation produced this record. */
  apiVersion: 'v3' | 'v2';
}

export interface CreateRefundInput {
  outRefundNo: string;
  /** One of outTradeNo / transactionId is required. */
  outTradeNo?: string;
  transactionId?: string;
  /** Refund amount in fen. */
  refundFen: number;
  /** Original order total in fen (NOT the remaining amount). */
  totalFen: number;
  /** ≤ 80 characters, shown to the payer. */
  reason?: string;
  /** Where WeChat sends the refund notification. */
  notifyUrl?: string;
  /** Service-provider (partner) mode: the sub-merchant that owns the order. */
  subMchid?: string;
  /** v3 funds_account (AVAILABLE) / v2 refund_account (REFUND_SOURCE_RECHARGE_FUNDS). */
  fundsAccount?: 'AVAILABLE';
  /** v2 single-item refund (/secapi/pay/refundv2). */
  goodsDetail?: ReadonlyArray<{
    merchantGoodsId: string;
    wechatpayGoodsId?: string;
    goodsName?: string;
    unitPriceFen: number;
    refundAmountFen: number;
    refundQuantity: number;
  }>;
}

export interface QueryRefundInput {
  outRefundNo: string;
  subMchid?: string;
}

export interface ApplyAbnormalRefundInput {
  /** WeChat refund id from the refund record. */
  refundId: string;
  outRefundNo: string;
  subMchid?: string;
  /** USER_BANK_CARD: refund to a card the user names; MERCHANT_BANK_CARD: to the merchant's card, refund offline. */
  type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
  /** Bank type code, e.g. ICBC_DEBIT (required for USER_BANK_CARD). */
  bankType?: string;
  /** Plaintext; the gateway encrypts with WeChat's key. Never logged. */
  bankAccount?: string;
  /** Plaintext; the gateway encrypts with WeChat's key. Never logged. */
  realName?: string;
}

export interface QueryOrderInput {
  /** One of outTradeNo / transactionId is required; outTradeNo is used when both are given. */
  outTradeNo?: string;
  transactionId?: string;
  /** Service-provider (partner) mode: the sub-merchant that owns the order. */
  subMchid?: string;
}

/**
 * WeChat's trade_state (v3 and v2 use the same words). Only SUCCESS and REFUND (paid, refunds exist) can be
 * refunded; unknown words are passed through as they are.
 */
export type TradeState = 'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR' | string;

/** The payment's own record, as WeChat's order query returns it: the facts an order's refunds are judged against. */
export interface OrderRecord {
  /** The direct merchant, or the service provider (sp_mchid) in partner mode. */
  mchid: string;
  subMchid?: string;
  outTradeNo: string;
  /** Absent while the order is not paid. */
  transactionId?: string;
  tradeState: TradeState;
  /** The payer's bank_type: OTHERS for the WeChat balance, else e.g. CMB_DEBIT, ICBC_CREDIT. */
  bankType?: string;
  /** Payment success time, ISO-8601 with offset (v3 success_time; v2 time_end, Beijing time). Absent if unpaid. */
  successTime?: string;
  /** Order total in fen (v3 amount.total / v2 total_fee). */
  totalFen: number;
  /** What the payer paid, fen (v3 amount.payer_total / v2 cash_fee), when known. */
  payerTotalFen?: number;
  /** v3 amount.currency / v2 fee_type (CNY when absent). */
  currency: string;
  apiVersion: 'v3' | 'v2';
}

export interface RefundGateway {
  readonly apiVersion: 'v3' | 'v2';
  createRefund(input: CreateRefundInput): Promise<RefundRecord>;
  /** Resolves `null` when WeChat has no refund with that number (v3 404 RESOURCE_NOT_EXISTS / v2 REFUNDNOTEXIST). */
  queryRefund(input: QueryRefundInput): Promise<RefundRecord | null>;
  /**
   * The payment's own record (v3 query order by out_trade_no or transaction_id, direct and partner paths; v2
   * /pay/orderquery). Resolves `null` when WeChat does not know the order (v3 404 ORDER_NOT_EXIST or
   * RESOURCE_NOT_EXISTS / v2 ORDERNOTEXIST).
   */
  queryOrder(input: QueryOrderInput): Promise<OrderRecord | null>;
  /** v2 has no such API: the v2 gateway throws NeedsOperator (handle in the merchant portal). */
  applyAbnormalRefund(input: ApplyAbnormalRefundInput): Promise<RefundRecord>;
  /**
   * The refund bill of a Beijing-time day (§12: v3 tradebill + signed file download; v2 /pay/downloadbill), streamed
   * to `input.destFile` decompressed, never held in memory; the file is replaced only by a complete, accepted bill.
   * Throws RetrySame with code `BILL_NOT_READY` while the bill does not exist yet (before 10:00 Beijing time of the
   * next day, or being generated) and `BILL_HASH_MISMATCH` when the file's SHA1 differs from WeChat's hash_value
   * (v3; refused, a retry fetches a fresh URL). Network failures are RetrySame too: a download changes nothing.
   * Codes: BILL_ERROR_CODES in bill-file.ts.
   */
  downloadRefundBill(input: DownloadBillInput): Promise<DownloadedBill>;
  close?(): Promise<void>;
}

/** A verified, decrypted refund notification, normalised across v3 and v2. */
export interface RefundNotification {
  /** v3 notification id (EV-...); v2 has none, a stable digest of req_info is used instead. */
  notificationId: string;
  apiVersion: 'v3' | 'v2';
  mchid: string;
  subMchid?: string;
  outTradeNo: string;
  transactionId: string;
  outRefundNo: string;
  refundId: string;
  status: 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
  userReceivedAccount?: string;
  successTime?: string;
  amounts: RefundAmounts;
  /** The envelope's create_time (v3) or receipt time (v2). */
  receivedAt: string;
}
