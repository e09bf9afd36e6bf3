/**
 * Shared by the v3 and v2 order queries (reference §11): a verified reply proves WeChat wrote it, not that it answers
 * the question asked, so its identifiers are compared with the question before its facts are adopted.
 */
import { OrderRecord } from './gateway';

export interface OrderQuestion {
  outTradeNo?: string;
  transactionId?: string;
  /** The merchant (direct) or service provider (partner) that asked. */
  mchid: string;
  subMchid?: string;
}

/**
 * The first identifier in which the reply disagrees with the question, as "field: reported ≠ asked asked-value".
 * Identifiers the question or the reply does not carry are not compared (an unpaid order has no transaction_id).
 */
export function orderReplyMismatch(
  asked: OrderQuestion,
  got: Pick<OrderRecord, 'outTradeNo' | 'transactionId' | 'mchid' | 'subMchid'>,
): string | undefined {
  const pairs: Array<[string, string | undefined, string | undefined]> = [
    ['out_trade_no', asked.outTradeNo, got.outTradeNo],
    ['transaction_id', asked.transactionId, got.transactionId],
    ['mchid', asked.mchid, got.mchid],
    ['sub_mchid', asked.subMchid, got.subMchid],
  ];
  for (const [field, want, have] of pairs) {
    if (want !== undefined && have !== undefined && want !== have) return `${field}: ${have} ≠ asked ${want}`;
  }
  return undefined;
}
