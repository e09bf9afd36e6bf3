/**
 * The engine's refunds of one Beijing-time day for one merchant, read from Temporal's visibility (the refund
 * workflows and their search attributes: OutRefundNo, OutTradeNo, RefundAmountFen, RefundStatus), never from
 * histories, so a day of 100,000 refunds costs 100 list pages, not 100,000 queries.
 *
 * The window is the day plus DAY_BOUNDARY_MINUTES either side (a refund requested just before midnight may be accepted
 * by WeChat just after it); refunds outside the day proper are kept only if the bill names them. The merchant of a
 * refund is read from its workflow ID (domain/ids.ts): the default merchant's IDs name none, the others' start with
 * `refund-<mchid>.`.
 */
import type { Client } from '@temporalio/client';
import { OutRefundNoKey, OutTradeNoKey, RefundAmountFenKey, RefundStatusKey } from '../domain/search-attributes';
import { beijingDayBounds, DAY_BOUNDARY_MINUTES, type EngineRefund } from './compare';

export interface DayOfMerchant {
  mchid: string;
  /** The deployment's default merchant: its refunds' IDs name no merchant. */
  isDefault: boolean;
  billDate: string;
}

/** The refunds of the day proper (`inDay`) and those of the margins (`nearby`), by out_refund_no. */
export interface EngineDay {
  inDay: EngineRefund[];
  nearby: Map<string, EngineRefund>;
}

/** Whether a refund workflow ID belongs to this merchant (module header). */
export function belongsTo(workflowId: string, mchid: string, isDefault: boolean): boolean {
  const rest = workflowId.slice('refund-'.length);
  const named = /^([0-9]{1,32})\./.exec(rest);
  return named ? named[1] === mchid : isDefault;
}

/** `refund-<mchid>.<sub>.<no>` names its sub-merchant; the default merchant's partner IDs (`<sub>-<no>`) are ambiguous. */
function subMchidOf(workflowId: string): string | undefined {
  return /^refund-[0-9]{1,32}\.([0-9]{1,32})\./.exec(workflowId)?.[1];
}

export async function engineRefundsOfDay(client: Client, day: DayOfMerchant): Promise<EngineDay> {
  const { startMs, endMs } = beijingDayBounds(day.billDate);
  const margin = DAY_BOUNDARY_MINUTES * 60_000;
  const from = new Date(startMs - margin).toISOString();
  const to = new Date(endMs + margin).toISOString();
  const query = `WorkflowType = 'refundWorkflow' AND StartTime >= '${from}' AND StartTime < '${to}'`;
  const inDay: EngineRefund[] = [];
  const nearby = new Map<string, EngineRefund>();
  for await (const wf of client.workflow.list({ query, pageSize: 1_000 })) {
    if (!belongsTo(wf.workflowId, day.mchid, day.isDefault)) continue;
    const sa = wf.typedSearchAttributes;
    const outRefundNo = sa.get(OutRefundNoKey);
    const refundFen = sa.get(RefundAmountFenKey);
    const state = sa.get(RefundStatusKey);
    if (outRefundNo === undefined || refundFen === undefined || state === undefined) continue;
    const record: EngineRefund = {
      outRefundNo,
      outTradeNo: sa.get(OutTradeNoKey),
      subMchid: subMchidOf(wf.workflowId),
      refundFen,
      state,
      workflowId: wf.workflowId,
      requestedAt: wf.startTime.toISOString(),
    };
    const at = wf.startTime.getTime();
    if (at >= startMs && at < endMs) inDay.push(record);
    else nearby.set(outRefundNo, record);
  }
  return { inDay, nearby };
}
