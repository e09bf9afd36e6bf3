/**
 * The simulator's state model (reference §8.2). Times are simulated epoch milliseconds (the virtual clock).
 * These are plain data: the admin API returns them as JSON unchanged.
 */

export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
export type TerminalOutcome = 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
export type RefundChannel = 'ORIGINAL' | 'BALANCE' | 'OTHER_BALANCE' | 'OTHER_BANKCARD';
export type ApiVersion = 'v3' | 'v2';
/**
 * Which WeChat key signs replies and notifications (§3.4): platform certificate, WeChat Pay public key
 * (PUB_KEY_ID_…), or both alternating (a merchant in migration, F10).
 */
export type SigningMode = 'certificate' | 'publicKey' | 'both';

export interface SimMerchant {
  mchid: string;
  appid: string;
  mode: 'direct' | 'partner';
  apiV3Key: string;
  apiV2Key: string;
  /** Merchant API certificates by upper-case serial: what Authorization serial_no and v2 client certs are checked against. */
  certificates: Array<{ serialNo: string; publicKeyPem: string; certificatePem?: string }>;
  /** Known only when the simulator generated the key (written to the manifest for the worker). */
  privateKeyPem?: string;
  subMerchants: Array<{ subMchid: string; subAppid?: string }>;
  insufficientFunds: 'reject' | 'accept';
  refundPermission: boolean;
  feeRateBps: number;
  portalNotifyUrl?: string;
  /** This merchant's signing mode; absent: the simulator-wide `wechat.signWith`. */
  signWith?: SigningMode;
}

/** A sub-merchant (partner mode) or a direct merchant: whoever owns orders, refunds and the money. */
export interface Account {
  owner: string;
  balanceFen: number;
}

export interface PayerProfile {
  /** `OTHERS` = WeChat balance (零钱); otherwise a bank card such as `CMB_DEBIT`, `ICBC_CREDIT`. */
  bankType: string;
  cardLast4: string;
  cardState: 'VALID' | 'CANCELLED' | 'FROZEN';
  balanceAccount: 'OPEN' | 'CLOSED';
  userAccount: 'NORMAL' | 'CLOSED';
  /** openid under the order's appid (order query); set by seeding. */
  openid?: string;
}

export interface OrderCoupon {
  couponId: string;
  /** COUPON = recharge coupon settled with funds (v2 CASH); DISCOUNT = non-recharge (v2 NO_CASH). */
  type: 'COUPON' | 'DISCOUNT';
  scope: 'GLOBAL' | 'SINGLE';
  amountFen: number;
}

export interface SimOrder {
  /** Direct merchant, or the service provider in partner mode. */
  mchid: string;
  subMchid?: string;
  /** subMchid ?? mchid. */
  owner: string;
  appid: string;
  subAppid?: string;
  outTradeNo: string;
  transactionId: string;
  totalFen: number;
  state: 'SUCCESS' | 'NOTPAY';
  paidAt: number;
  payer: PayerProfile;
  coupons: OrderCoupon[];
  goods: Array<{ goodsId: string; priceFen: number; quantity: number }>;
}

export interface RefundAmounts {
  total: number;
  refund: number;
  payerTotal: number;
  payerRefund: number;
  settlementTotal: number;
  settlementRefund: number;
  discountRefund: number;
  /** Processing fee returned to the merchant, pro rata (§2.2). */
  refundFee: number;
  from?: Array<{ account: 'AVAILABLE' | 'UNAVAILABLE'; amount: number }>;
}

export interface CouponRefund {
  couponId: string;
  type: 'COUPON' | 'DISCOUNT';
  scope: 'GLOBAL' | 'SINGLE';
  amountFen: number;
  refundFen: number;
}

export interface StatusChange {
  status: RefundStatus;
  at: number;
  note: string;
}

export interface SimRefund {
  refundId: string;
  outRefundNo: string;
  mchid: string;
  subMchid?: string;
  owner: string;
  outTradeNo: string;
  transactionId: string;
  apiVersion: ApiVersion;
  /** How it was made: an API call, or an operator in the merchant portal (admin API, portal-refunds.ts). */
  endpoint: 'v3.create' | 'v2.refund' | 'v2.refundv2' | 'portal';
  status: RefundStatus;
  channel: RefundChannel;
  userReceivedAccount: string;
  /** Request funds_account / refund_account as sent. */
  fundsAccountRequested?: string;
  fundsAccount: string;
  amount: RefundAmounts;
  coupons: CouponRefund[];
  reason?: string;
  notifyUrl?: string;
  goodsDetail?: unknown;
  /** What identifies "the same request" for idempotency (M8). */
  fingerprint: string;
  createdAt: number;
  successAt?: number;
  history: StatusChange[];
  /** The merchant's account was debited (reserved) for this refund. */
  debitedFen: number;
  /** Accepted while the merchant's balance was short ("accept" mode): waiting for funds since. */
  awaitingFundsSince?: number;
  abnormalHandling?: {
    type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
    bankType?: string;
    accountLast4?: string;
    at: number;
  };
  /** Times this refund moved money to the payer (invariant: at most 1). */
  payouts: number;
}

export interface NotificationAttempt {
  attempt: number;
  /** Simulated time of the attempt. */
  at: number;
  /** Real time of the attempt. */
  realAt: number;
  statusCode?: number;
  latencyMs: number;
  ok: boolean;
  error?: string;
  /** Faults applied to this attempt (BAD_SIGNATURE, …). */
  faults: string[];
  signedWith?: string;
}

export interface SimNotification {
  /** WeChat notification id (EV-…); the same on every retry. */
  id: string;
  outRefundNo: string;
  refundId: string;
  owner: string;
  mchid: string;
  status: TerminalOutcome;
  format: ApiVersion;
  url: string;
  /** NO_URL: neither notify_url nor a portal URL, so nothing is sent. */
  state: 'SCHEDULED' | 'HELD' | 'IN_FLIGHT' | 'DELIVERED' | 'ABANDONED' | 'DROPPED' | 'NO_URL';
  createdAt: number;
  nextAttemptAt?: number;
  attempts: NotificationAttempt[];
  faults: string[];
}
