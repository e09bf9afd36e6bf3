/**
 * Daily reconciliation against WeChat Pay's refund bills (docs/reconciliation.md, docs §12): the shapes the bill
 * parser, the gateway's bill download, the comparison and the reconciliation workflow agree on. Money is integer fen.
 */

/** 退款状态 as the bill writes it, normalised: REFUNDCLOSE and CLOSED are both CLOSED, CHANGE is ABNORMAL. */
export type BillRefundStatus = 'SUCCESS' | 'PROCESSING' | 'CLOSED' | 'ABNORMAL';

/** One detail row of a refund bill, found by header name (v2 and v3 spell a few columns differently). */
export interface BillRow {
  /** 1-based line number in the (decompressed) file, for reports. */
  line: number;
  /** 交易时间, as written (Beijing time, `YYYY-MM-DD HH:mm:ss`). */
  tradeTime?: string;
  /** 商户号. */
  mchid: string;
  /** 子商户号 / 特约商户号 (partner bills); absent when empty or `0`. */
  subMchid?: string;
  /** 微信订单号. */
  transactionId?: string;
  /** 商户订单号. */
  outTradeNo: string;
  /** 微信退款单号. */
  refundId?: string;
  /** 商户退款单号: the key of the comparison. */
  outRefundNo: string;
  /** 退款金额 in fen (what is refunded after coupons). */
  refundFen: number;
  /** 申请退款金额 in fen, in files that have the column. */
  requestedRefundFen?: number;
  /** 总金额 / 应结订单金额 in fen. */
  orderFen?: number;
  /** 退款申请时间 (Beijing time, as written): the day the row belongs to. */
  refundRequestedAt?: string;
  /** 退款成功时间, when it has one. */
  refundSucceededAt?: string;
  /** 退款类型 (ORIGINAL, BALANCE), as written. */
  refundType?: string;
  refundStatus: BillRefundStatus;
}

/** The summary row, checked against the detail rows by the parser. */
export interface BillSummary {
  /** 总交易单数. */
  rows: number;
  /** 退款总金额 in fen. */
  refundTotalFen: number;
  /** 申请退款总金额 in fen, in files that have it. */
  requestedRefundTotalFen?: number;
}

/** Where a downloaded, verified bill is (a local file, decompressed), and its digest. */
export interface DownloadedBill {
  /** Absolute path of the decompressed bill text. */
  path: string;
  /** SHA1 (hex) of the decompressed file, equal to WeChat's hash_value (v3). */
  sha1: string;
  bytes: number;
  apiVersion: 'v3' | 'v2';
}

export interface DownloadBillInput {
  /** YYYY-MM-DD, a Beijing-time day. */
  billDate: string;
  /** Partner mode: the sub-merchant's bill. */
  subMchid?: string;
  /** Where to write the decompressed bill (the caller's reports directory); created or replaced. */
  destFile: string;
}
