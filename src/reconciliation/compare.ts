/**
 * One day's refund bill against the engine's own records (docs/reconciliation.md, docs §12.4), keyed by
 * out_refund_no. Pure and streaming: the engine's refunds of the day are a map, the bill's rows arrive one at a time,
 * each produces one finding, and what is left of the map at the end is what the bill lacks. What a query to WeChat
 * could settle (the bill's status is a snapshot; a refund near midnight may be in the next day's bill) is marked
 * `needsQuery`: the caller asks WeChat and calls `settle`.
 */
import type { BillRefundStatus, BillRow, BillSummary } from './types';

/** A refund as the engine knows it (from visibility: its workflow and search attributes). */
export interface EngineRefund {
  outRefundNo: string;
  outTradeNo?: string;
  subMchid?: string;
  refundFen: number;
  /** The refund workflow's state (RefundStatus). */
  state: string;
  workflowId: string;
  /** When the refund was requested (its workflow's start), ISO. */
  requestedAt: string;
}

export type FindingKind =
  | 'MATCHED'
  | 'AMOUNT_MISMATCH'
  | 'IDENTITY_MISMATCH'
  | 'STATUS_DIFFERENCE'
  | 'MISSING_LOCALLY'
  | 'MISSING_IN_BILL'
  | 'TOTAL_MISMATCH';

export interface Finding {
  kind: FindingKind;
  outRefundNo: string;
  /** What the bill says (line, amounts in fen, status), when the bill has the refund. */
  bill?: Pick<BillRow, 'line' | 'outTradeNo' | 'refundFen' | 'requestedRefundFen' | 'refundStatus' | 'refundId'> & {
    subMchid?: string;
  };
  engine?: Pick<EngineRefund, 'workflowId' | 'state' | 'refundFen' | 'outTradeNo' | 'requestedAt'>;
  detail: string;
  /** A query to WeChat may settle it (status snapshot, day boundary). */
  needsQuery?: boolean;
  /** Settled by evidence: no longer a discrepancy. */
  resolved?: { by: 'query'; evidence: string };
}

/** Engine states whose refunds WeChat has (or had) accepted, and the bill status each corresponds to. */
const BILL_STATUS_OF_STATE: Record<string, BillRefundStatus | undefined> = {
  PROCESSING: 'PROCESSING',
  SUCCESS: 'SUCCESS',
  CLOSED: 'CLOSED',
  ABNORMAL: 'ABNORMAL',
};

/** States in which WeChat may never have seen the refund: not expected in any bill. */
const NEVER_SENT_STATES = new Set(['PENDING', 'REJECTED', 'CANCELLED']);

/** Whether a refund in this engine state reached WeChat (so belongs in the bill of the day it was accepted). */
export function reachedWechat(state: string): boolean {
  return !NEVER_SENT_STATES.has(state);
}

/** Minutes either side of Beijing midnight within which a refund may belong to the neighbouring day's bill. */
export const DAY_BOUNDARY_MINUTES = 30;

const key = (outRefundNo: string, subMchid?: string) => (subMchid ? `${subMchid}/${outRefundNo}` : outRefundNo);

export class BillComparison {
  private readonly pending: Map<string, EngineRefund>;
  private billRows = 0;
  private billSumFen = 0;
  private engineSumFen = 0;

  /**
   * `engine`: the engine's refunds of the day; `nearby`: those requested just outside it (DAY_BOUNDARY_MINUTES), which
   * match a bill row without being expected in it; `partner`: the bill names sub-merchants (key by sub_mchid too).
   */
  constructor(
    engine: Iterable<EngineRefund>,
    private readonly options: { partner?: boolean; nearby?: ReadonlyMap<string, EngineRefund> } = {},
  ) {
    const partner = options.partner ?? false;
    this.pending = new Map();
    for (const r of engine) {
      this.pending.set(key(r.outRefundNo, partner ? r.subMchid : undefined), r);
      if (reachedWechat(r.state)) this.engineSumFen += r.refundFen;
    }
  }

  /** The finding for one bill row. */
  row(row: BillRow): Finding {
    this.billRows += 1;
    this.billSumFen += row.refundFen;
    const k = key(row.outRefundNo, this.options.partner ? row.subMchid : undefined);
    let engine = this.pending.get(k);
    const neighbour = engine ? undefined : this.options.nearby?.get(row.outRefundNo);
    if (neighbour && reachedWechat(neighbour.state)) {
      // Requested just across midnight, accepted on this day: the bill is right to have it, and it counts here.
      engine = neighbour;
      this.pending.set(k, neighbour);
      this.engineSumFen += neighbour.refundFen;
    }
    const bill = {
      line: row.line,
      outTradeNo: row.outTradeNo,
      refundFen: row.refundFen,
      requestedRefundFen: row.requestedRefundFen,
      refundStatus: row.refundStatus,
      refundId: row.refundId,
      ...(row.subMchid ? { subMchid: row.subMchid } : {}),
    };
    if (!engine) {
      return {
        kind: 'MISSING_LOCALLY',
        outRefundNo: row.outRefundNo,
        bill,
        detail: `WeChat refunded ${row.refundFen} fen of order ${row.outTradeNo} (${row.refundStatus}); the engine has no such refund (made in the merchant portal, or by another system?)`,
      };
    }
    this.pending.delete(k);
    const seen = {
      workflowId: engine.workflowId,
      state: engine.state,
      refundFen: engine.refundFen,
      outTradeNo: engine.outTradeNo,
      requestedAt: engine.requestedAt,
    };
    if (engine.outTradeNo !== undefined && engine.outTradeNo !== row.outTradeNo) {
      return {
        kind: 'IDENTITY_MISMATCH',
        outRefundNo: row.outRefundNo,
        bill,
        engine: seen,
        detail: `the bill names order ${row.outTradeNo}, the engine ${engine.outTradeNo}`,
      };
    }
    // 申请退款金额 (what was asked) when the file has it; 退款金额 is after coupons.
    const billAmount = row.requestedRefundFen ?? row.refundFen;
    if (billAmount !== engine.refundFen) {
      return {
        kind: 'AMOUNT_MISMATCH',
        outRefundNo: row.outRefundNo,
        bill,
        engine: seen,
        detail: `the bill says ${billAmount} fen, the engine ${engine.refundFen} fen`,
      };
    }
    const expected = BILL_STATUS_OF_STATE[engine.state];
    if (expected !== row.refundStatus) {
      return {
        kind: 'STATUS_DIFFERENCE',
        outRefundNo: row.outRefundNo,
        bill,
        engine: seen,
        // The bill's status is a snapshot of when it was made (§12.3): WeChat's record now decides.
        needsQuery: true,
        detail: `the bill says ${row.refundStatus}, the engine ${engine.state}`,
      };
    }
    return { kind: 'MATCHED', outRefundNo: row.outRefundNo, bill, engine: seen, detail: 'matched' };
  }

  /**
   * The engine's refunds of the day the bill did not have, and the totals. Refunds WeChat never saw (PENDING,
   * REJECTED, CANCELLED) are not expected in a bill.
   */
  finish(summary: BillSummary | undefined, billDate: string): Finding[] {
    const findings: Finding[] = [];
    for (const engine of this.pending.values()) {
      if (!reachedWechat(engine.state)) continue;
      const nearMidnight = minutesFromBeijingMidnight(engine.requestedAt) <= DAY_BOUNDARY_MINUTES;
      findings.push({
        kind: 'MISSING_IN_BILL',
        outRefundNo: engine.outRefundNo,
        engine: {
          workflowId: engine.workflowId,
          state: engine.state,
          refundFen: engine.refundFen,
          outTradeNo: engine.outTradeNo,
          requestedAt: engine.requestedAt,
        },
        needsQuery: true,
        detail:
          `the engine has a ${engine.state} refund of ${engine.refundFen} fen requested ${engine.requestedAt}; ` +
          `the bill of ${billDate} lacks it` +
          (nearMidnight ? ' (requested near Beijing midnight: it may be in the neighbouring day’s bill)' : ''),
      });
    }
    const billTotal = summary?.refundTotalFen ?? this.billSumFen;
    if (billTotal !== this.engineSumFen) {
      findings.push({
        kind: 'TOTAL_MISMATCH',
        outRefundNo: '*',
        detail: `the bill's refund total is ${billTotal} fen over ${summary?.rows ?? this.billRows} rows; the engine's refunds of the day sum to ${this.engineSumFen} fen`,
      });
    }
    return findings;
  }

  /** The bill's and the engine's totals of the day, fen. */
  totals(): { billRows: number; billSumFen: number; engineSumFen: number } {
    return { billRows: this.billRows, billSumFen: this.billSumFen, engineSumFen: this.engineSumFen };
  }
}

/** The Beijing-time day (YYYY-MM-DD) of an instant. */
export function beijingDate(iso: string | number): string {
  return new Date(new Date(iso).getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** The instants [start, end) of a Beijing-time day. */
export function beijingDayBounds(billDate: string): { startMs: number; endMs: number } {
  const startMs = Date.parse(`${billDate}T00:00:00+08:00`);
  return { startMs, endMs: startMs + 86_400_000 };
}

/** How far (minutes) an instant is from the nearest Beijing midnight. */
export function minutesFromBeijingMidnight(iso: string): number {
  const ms = (Date.parse(iso) + 8 * 3_600_000) % 86_400_000;
  return Math.min(ms, 86_400_000 - ms) / 60_000;
}
