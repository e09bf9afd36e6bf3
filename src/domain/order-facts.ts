/**
 * An order's facts (paid total, payment time, payer's bank, state) come from the one party that knows them: WeChat's
 * own record of the payment (order query, docs §11). The order ledger reads that record when it is created; whatever
 * a caller says about the order is a claim, checked against it (amounts exactly, the payment time within a tolerance)
 * and refused, naming the field, when it disagrees.
 *
 * Pure: used by the ledger workflow (bundled into the sandbox) and by its tests.
 */
import type { OrderRecord } from '../wechatpay/gateway';

/**
 * How far a caller's `paidAt` may be from WeChat's success_time. Order services often record their own time of the
 * payment (when the payment notification reached them, or when the order page refreshed), which trails WeChat's by
 * seconds to minutes; a day or more apart is a different payment. Ten minutes separates the two comfortably.
 */
export const PAID_AT_TOLERANCE_MS = 10 * 60_000;

/** The order's record as the ledger keeps it (carried across continue-as-new, shown by the `ledger` query). */
export interface OrderFacts {
  /** WECHAT: read from WeChat's order query. CALLER: a ledger created before facts were verified (older histories). */
  source: 'WECHAT' | 'CALLER';
  outTradeNo: string;
  transactionId?: string;
  /** The merchant (or service provider) WeChat names as the payee; refunds' evidence must name the same one. */
  mchid?: string;
  subMchid?: string;
  paidTotalFen: number;
  /** Payment success time, ISO-8601: refunds are possible until this + 365 days (M5). */
  paidAt: string;
  /** bank_type of the payment: OTHERS is the WeChat balance; it picks the refund's poll schedule (§7). */
  payerBankType?: string;
  /** WeChat's trade_state when the facts were read (SUCCESS or REFUND: only those can be refunded). */
  tradeState?: string;
  /** When the ledger read WeChat's record. */
  verifiedAt?: string;
}

/** What a caller may say about the order: each given fact must agree with WeChat's. */
export interface OrderClaims {
  paidTotalFen?: number;
  paidAt?: string;
  payerBankType?: string;
  transactionId?: string;
}

/** Why an order cannot have refunds at all (M10): nothing WeChat would accept, so nothing is kept. */
export interface OrderProblem {
  rule: 'M10';
  code: 'ORDER_NOT_FOUND' | 'ORDER_NOT_PAID';
  message: string;
}

const REFUNDABLE_TRADE_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'REFUND']);

/** Turns WeChat's answer into the ledger's facts, or the reason the order cannot be refunded. */
export function factsFromWechat(
  order: { outTradeNo?: string; transactionId?: string; subMchid?: string },
  record: OrderRecord | null,
  verifiedAt: string,
): { ok: true; facts: OrderFacts } | { ok: false; problem: OrderProblem } {
  const named = order.outTradeNo ? `order ${order.outTradeNo}` : `order with transaction_id ${order.transactionId}`;
  const owner = order.subMchid ? ` of sub-merchant ${order.subMchid}` : '';
  if (record === null) {
    return {
      ok: false,
      problem: {
        rule: 'M10',
        code: 'ORDER_NOT_FOUND',
        message: `ORDER_NOT_FOUND: WeChat Pay does not know ${named}${owner}; only a paid order can be refunded (M10)`,
      },
    };
  }
  if (!REFUNDABLE_TRADE_STATES.has(record.tradeState) || record.successTime === undefined) {
    return {
      ok: false,
      problem: {
        rule: 'M10',
        code: 'ORDER_NOT_PAID',
        message:
          `ORDER_NOT_PAID: WeChat Pay says ${named}${owner} is ${record.tradeState}; ` +
          `only a paid order (SUCCESS or REFUND) can be refunded (M10)`,
      },
    };
  }
  return {
    ok: true,
    facts: {
      source: 'WECHAT',
      outTradeNo: record.outTradeNo,
      transactionId: record.transactionId,
      mchid: record.mchid,
      subMchid: record.subMchid,
      paidTotalFen: record.totalFen,
      paidAt: record.successTime,
      payerBankType: record.bankType,
      tradeState: record.tradeState,
      verifiedAt,
    },
  };
}

export type ClaimCheck = { ok: true } | { ok: false; field: keyof OrderClaims; message: string };

/** The first claim that disagrees with WeChat's record, named with both values. */
export function checkOrderClaims(facts: OrderFacts, claims: OrderClaims | undefined): ClaimCheck {
  if (!claims) return { ok: true };
  const mismatch = (field: keyof OrderClaims, claimed: string | number, wechat: string | number, rule = '') => ({
    ok: false as const,
    field,
    message: `ORDER_FACTS_MISMATCH: ${field} ${claimed} ≠ WeChat's ${wechat}${rule}`,
  });
  if (claims.paidTotalFen !== undefined && claims.paidTotalFen !== facts.paidTotalFen) {
    return mismatch('paidTotalFen', claims.paidTotalFen, facts.paidTotalFen);
  }
  if (claims.transactionId !== undefined && facts.transactionId && claims.transactionId !== facts.transactionId) {
    return mismatch('transactionId', claims.transactionId, facts.transactionId);
  }
  if (claims.paidAt !== undefined) {
    const off = Math.abs(Date.parse(claims.paidAt) - Date.parse(facts.paidAt));
    if (!(off <= PAID_AT_TOLERANCE_MS)) {
      return mismatch(
        'paidAt',
        claims.paidAt,
        facts.paidAt,
        ` (more than ${PAID_AT_TOLERANCE_MS / 60_000} minutes apart)`,
      );
    }
  }
  if (claims.payerBankType !== undefined && facts.payerBankType && claims.payerBankType !== facts.payerBankType) {
    return mismatch('payerBankType', claims.payerBankType, facts.payerBankType);
  }
  return { ok: true };
}
