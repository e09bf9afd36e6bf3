/**
 * Evidence is checked before it moves state. Every create reply, query reply and notification names the refund it is
 * about (out_refund_no, the order, the merchant) and its money (amount.refund, amount.total, currency); all of it must
 * agree with what this refund asked for. A signature proves WeChat wrote a message, not that it is about this
 * refund: a reply for another order, or for 1499 fen when 1500 were asked, must never become this refund's SUCCESS.
 *
 * Pure: used by the refund workflow (bundled into the sandbox) and by its tests.
 */

/** What one refund asked WeChat for: the standard every piece of evidence is held against. */
export interface RequestedRefund {
  outRefundNo: string;
  outTradeNo?: string;
  transactionId?: string;
  mchid?: string;
  subMchid?: string;
  refundFen: number;
  /** The order's total (amount.total is the ORIGINAL order total, M3). */
  totalFen: number;
}

/** The parts of a reply or notification that identify a refund and its money (fields absent in it are skipped). */
export interface RefundEvidence {
  outRefundNo: string;
  outTradeNo?: string;
  transactionId?: string;
  mchid?: string;
  subMchid?: string;
  amounts: { refundFen: number; totalFen: number; currency: string };
}

export type EvidenceField =
  | 'out_refund_no'
  | 'out_trade_no'
  | 'transaction_id'
  | 'mchid'
  | 'sub_mchid'
  | 'amount.refund'
  | 'amount.total'
  | 'amount.currency';

export interface EvidenceMismatch {
  field: EvidenceField;
  requested: string;
  reported: string;
}

/** The only currency a refund of this engine is ever asked in (M2). */
export const REFUND_CURRENCY = 'CNY';

/**
 * Every field where the evidence disagrees with the request. An identifier the evidence does not carry is not
 * compared (a v3 direct refund reply names no merchant), nor one this refund does not know (a refund started by a
 * ledger created before order facts were verified has no mchid).
 */
export function compareEvidence(requested: RequestedRefund, evidence: RefundEvidence): EvidenceMismatch[] {
  const out: EvidenceMismatch[] = [];
  const same = (field: EvidenceField, want: string | number | undefined, got: string | number | undefined) => {
    if (want === undefined || got === undefined || got === '') return;
    if (String(want) !== String(got)) out.push({ field, requested: String(want), reported: String(got) });
  };
  same('out_refund_no', requested.outRefundNo, evidence.outRefundNo);
  same('out_trade_no', requested.outTradeNo, evidence.outTradeNo);
  same('transaction_id', requested.transactionId, evidence.transactionId);
  same('mchid', requested.mchid, evidence.mchid);
  same('sub_mchid', requested.subMchid, evidence.subMchid);
  same('amount.refund', requested.refundFen, evidence.amounts.refundFen);
  same('amount.total', requested.totalFen, evidence.amounts.totalFen);
  same('amount.currency', REFUND_CURRENCY, evidence.amounts.currency);
  return out;
}

/** "amount.refund 1499 ≠ requested 1500; out_trade_no T2 ≠ requested T1" */
export function describeMismatches(mismatches: readonly EvidenceMismatch[]): string {
  return mismatches.map((m) => `${m.field} ${m.reported} ≠ requested ${m.requested}`).join('; ');
}
