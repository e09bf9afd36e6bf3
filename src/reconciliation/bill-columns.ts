/**
 * The refund bill's columns by header name (docs/wechatpay-protocol.md §12.3). v2 and v3 spell a few columns
 * differently and newer files add columns, so the parser never trusts a position: it finds each field of {@link BillRow}
 * by the names listed here, in order of preference, and ignores every column it does not know.
 */
import type { BillRefundStatus, BillRow, BillSummary } from './types';

/** The fields of a detail row read from the file (everything but `line`). */
export type BillField = Exclude<keyof BillRow, 'line'>;

export interface BillColumn {
  /** Header names that carry this field, preferred first (v2 spelling, v3 spelling, newer files). */
  names: readonly string[];
  /** The row is refused when the header has none of `names`. */
  required: boolean;
}

export const BILL_COLUMNS: Readonly<Record<BillField, BillColumn>> = {
  tradeTime: { names: ['交易时间'], required: false },
  mchid: { names: ['商户号'], required: true },
  // v2 子商户号, v3 特约商户号 (§12.3).
  subMchid: { names: ['子商户号', '特约商户号'], required: false },
  transactionId: { names: ['微信订单号'], required: false },
  outTradeNo: { names: ['商户订单号'], required: true },
  refundId: { names: ['微信退款单号'], required: false },
  outRefundNo: { names: ['商户退款单号'], required: true },
  refundFen: { names: ['退款金额'], required: true },
  requestedRefundFen: { names: ['申请退款金额'], required: false },
  // v2 总金额, v3 应结订单金额; newer files also have 订单金额 (before non-settlement coupons), used only when neither
  // of the two is there.
  orderFen: { names: ['总金额', '应结订单金额', '订单金额'], required: false },
  refundRequestedAt: { names: ['退款申请时间'], required: false },
  refundSucceededAt: { names: ['退款成功时间'], required: false },
  refundType: { names: ['退款类型'], required: false },
  refundStatus: { names: ['退款状态'], required: true },
};

/** Fields converted from yuan to fen. */
export const AMOUNT_FIELDS: ReadonlySet<BillField> = new Set<BillField>([
  'refundFen',
  'requestedRefundFen',
  'orderFen',
]);

/** The summary header's first column: the row that starts with it ends the detail rows (§12.3). */
export const SUMMARY_FIRST_COLUMN = '总交易单数';

/**
 * Summary columns the parser reads, preferred name first; the others (手续费总金额, …) are ignored. Older v2 files
 * write 总退款金额 where current ones write 退款总金额.
 */
export const SUMMARY_COLUMNS = {
  rows: ['总交易单数'],
  refundTotalFen: ['退款总金额', '总退款金额'],
  requestedRefundTotalFen: ['申请退款总金额'],
} as const satisfies Record<keyof BillSummary, readonly string[]>;

/** 退款状态 as written → normalised (§12.3: v3 files may write CLOSED for REFUNDCLOSE; CHANGE is abnormal). */
export const BILL_REFUND_STATUS: Readonly<Record<string, BillRefundStatus>> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PROCESSING',
  REFUNDCLOSE: 'CLOSED',
  CLOSED: 'CLOSED',
  CHANGE: 'ABNORMAL',
};

/** Where each field is in one file: its column index and the header name actually found (for error messages). */
export type ColumnMap = Partial<Record<BillField, { index: number; name: string }>>;

/**
 * Locates every known field in a detail header (fields already stripped of their backtick). Returns the missing
 * required header names instead of throwing, so the caller can say which line it read them from.
 */
export function mapBillHeader(header: readonly string[]): {
  columns: ColumnMap;
  missing: string[];
  duplicated: string[];
} {
  const positions = new Map<string, number[]>();
  header.forEach((name, i) => positions.set(name, [...(positions.get(name) ?? []), i]));
  const columns: ColumnMap = {};
  const missing: string[] = [];
  const duplicated: string[] = [];
  for (const [field, column] of Object.entries(BILL_COLUMNS) as [BillField, BillColumn][]) {
    const name = column.names.find((n) => positions.has(n));
    if (name === undefined) {
      if (column.required) missing.push(column.names.join(' / '));
      continue;
    }
    const at = positions.get(name)!;
    // Two columns with the same name: which one is the amount? Refuse rather than guess.
    if (at.length > 1) duplicated.push(name);
    columns[field] = { index: at[0], name };
  }
  return { columns, missing, duplicated };
}
