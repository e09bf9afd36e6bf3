/**
 * The one interface the rest of the product uses to talk to WeChat Pay, whichever API generation
 * (v3 JSON/RSA or v2 XML/MD5/HMAC) the merchant runs. Workflows and activities never see the difference.
 *
 * All amounts are integer fen. Timestamps are ISO-8601 strings (as WeChat sends them, with offset).
 * Every method either resolves with the internal model or throws a `WechatPayError` subclass
 * (RetrySame | UnknownOutcome | Throttled | Final | NeedsOperator) or `InvalidRequest` (nothing sent).
 */

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
  currency: 'CNY';
}

/** The internal model every gateway call returns. */
export interface RefundRecord {
  outRefundNo: string;
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

export interface RefundGateway {
  readonly apiVersion: 'v3' | 'v2';
  createRefund(input: CreateRefundInput): Promise<RefundRecord>;
  /** Resolves `null` when WeChat has no refund with that number (v3 404 RESOURCE_NOT_EXISTS / v2 REFUNDNOTEXIST). */
  queryRefund(input: QueryRefundInput): Promise<RefundRecord | null>;
  /** v2 has no such API: the v2 gateway throws NeedsOperator (handle in the merchant portal). */
  applyAbnormalRefund(input: ApplyAbnormalRefundInput): Promise<RefundRecord>;
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
