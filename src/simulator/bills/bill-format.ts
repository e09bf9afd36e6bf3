/**
 * WeChat's refund bill file (docs/wechatpay-protocol.md §12.3), written by the simulator's own code: it never imports
 * src/reconciliation, so a mistake in the parser cannot be mirrored here and pass unnoticed.
 *
 * UTF-8, CRLF line ends: a header row (plain names, no backticks), one detail row per refund, a summary header row
 * and one summary row. Every detail and summary field begins with a backtick; amounts are yuan with two decimals.
 * The two API generations spell a few columns differently (v2 子商户号 / 总金额 / 代金券或立减优惠金额, v3 特约商户号
 * / 应结订单金额 / 代金券金额 …) and v3 files carry the newer columns 订单金额, 申请退款金额, 费率备注.
 */
import type { BillLine } from './bill-lines';

export type BillVersion = 'v2' | 'v3';

/** Integer fen as yuan with exactly two decimals, by string arithmetic (1 → 0.01, 123450 → 1234.50). */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`not an integer number of fen: ${fen}`);
  const sign = fen < 0 ? '-' : '';
  const digits = String(Math.abs(fen)).padStart(3, '0');
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** Basis points as WeChat writes a fee rate: 60 → 0.60%. */
export function feeRateText(bps: number): string {
  return `${Math.floor(bps / 100)}.${String(bps % 100).padStart(2, '0')}%`;
}

type Column = { name: string; value: (line: BillLine, version: BillVersion) => string };

const yuan = (pick: (l: BillLine) => number) => (l: BillLine) => fenToYuan(pick(l));

/** 退款状态 as each generation writes it (§12.3): v2 REFUNDCLOSE, v3 CLOSED; abnormal is CHANGE in both. */
function statusText(line: BillLine, version: BillVersion): string {
  switch (line.status) {
    case 'CLOSED':
      return version === 'v2' ? 'REFUNDCLOSE' : 'CLOSED';
    case 'ABNORMAL':
      return 'CHANGE';
    default:
      return line.status;
  }
}

function columns(version: BillVersion): Column[] {
  const v3 = version === 'v3';
  const common: Column[] = [
    { name: '交易时间', value: (l) => l.tradeTime },
    { name: '公众账号ID', value: (l) => l.appid },
    { name: '商户号', value: (l) => l.mchid },
    // Direct merchants' rows carry 0 here.
    { name: v3 ? '特约商户号' : '子商户号', value: (l) => l.subMchid ?? '0' },
    { name: '设备号', value: () => '' },
    { name: '微信订单号', value: (l) => l.transactionId },
    { name: '商户订单号', value: (l) => l.outTradeNo },
    { name: '用户标识', value: (l) => l.openid },
    { name: '交易类型', value: () => 'JSAPI' },
    { name: '交易状态', value: () => 'REFUND' },
    { name: '付款银行', value: (l) => l.bankType },
    { name: '货币种类', value: () => 'CNY' },
    v3
      ? { name: '应结订单金额', value: yuan((l) => l.settlementTotalFen) }
      : { name: '总金额', value: yuan((l) => l.orderTotalFen) },
    v3
      ? { name: '代金券金额', value: yuan((l) => l.orderCouponFen) }
      : { name: '代金券或立减优惠金额', value: yuan((l) => l.orderCouponFen) },
    { name: '退款申请时间', value: (l) => l.requestedAt },
    { name: '退款成功时间', value: (l) => l.succeededAt ?? '' },
    { name: '微信退款单号', value: (l) => l.refundId },
    { name: '商户退款单号', value: (l) => l.outRefundNo },
    { name: '退款金额', value: yuan((l) => l.refundFen) },
    v3
      ? { name: '充值券退款金额', value: yuan((l) => l.rechargeCouponRefundFen) }
      : { name: '代金券或立减优惠退款金额', value: yuan((l) => l.couponRefundFen) },
    { name: '退款类型', value: (l) => l.refundType },
    { name: '退款状态', value: statusText },
    { name: '商品名称', value: (l) => l.goodsName },
    { name: '商户数据包', value: () => '' },
    { name: '手续费', value: yuan((l) => l.feeFen) },
    { name: '费率', value: (l) => feeRateText(l.feeRateBps) },
  ];
  if (!v3) return common;
  return [
    ...common,
    { name: '订单金额', value: yuan((l) => l.orderTotalFen) },
    { name: '申请退款金额', value: yuan((l) => l.requestedRefundFen) },
    { name: '费率备注', value: () => '' },
  ];
}

type SummaryColumn = { name: string; total: (l: BillLine) => number };

/** The summary row: the row count, then the sum of each amount column over the detail rows. */
function summaryColumns(version: BillVersion): SummaryColumn[] {
  const common: SummaryColumn[] = [
    { name: '应结订单总金额', total: (l) => l.settlementTotalFen },
    { name: '退款总金额', total: (l) => l.refundFen },
    {
      name: version === 'v3' ? '充值券退款总金额' : '代金券或立减优惠退款总金额',
      total: (l) => (version === 'v3' ? l.rechargeCouponRefundFen : l.couponRefundFen),
    },
    { name: '手续费总金额', total: (l) => l.feeFen },
  ];
  if (version === 'v2') return common;
  return [
    ...common,
    { name: '订单总金额', total: (l) => l.orderTotalFen },
    { name: '申请退款总金额', total: (l) => l.requestedRefundFen },
  ];
}

const EOL = '\r\n';
const ticked = (fields: string[]) => fields.map((f) => `\`${f}`).join(',');

/** The whole bill text of `lines` in `version`'s spelling. */
export function renderBill(lines: readonly BillLine[], version: BillVersion): string {
  const cols = columns(version);
  const sums = summaryColumns(version);
  const out: string[] = [cols.map((c) => c.name).join(',')];
  for (const line of lines) out.push(ticked(cols.map((c) => c.value(line, version))));
  out.push(['总交易单数', ...sums.map((s) => s.name)].join(','));
  out.push(
    ticked([String(lines.length), ...sums.map((s) => fenToYuan(lines.reduce((sum, l) => sum + s.total(l), 0)))]),
  );
  return out.join(EOL) + EOL;
}
