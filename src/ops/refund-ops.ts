/**
 * What operators do to refunds, as plain functions over a Temporal client: the operator CLI, the demo and tests call
 * these. Reads use queries and visibility (search attributes); writes use the refund workflow's updates, whose
 * validators reject bad input at once (e.g. a malformed card number) without touching the workflow.
 *
 * A refund or order is named by its number and its merchant's scope (domain/ids.ts: merchantScope): absent for the
 * default merchant, a bare string for a sub_mchid of the default merchant (as before merchants were named).
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { orderWorkflowId, refundWorkflowId, type MerchantScope } from '../domain/ids';
import { REFUND_STATES, type RefundState } from '../domain/status';
import type { ResolveAbnormalRequest, RetryNowRequest } from '../domain/schemas';
import {
  eventDeliveryQuery,
  ledgerQuery,
  resolveAbnormalUpdate,
  retryNowUpdate,
  statusQuery,
} from '../workflows/definitions';
import type { EventDeliveryView, LedgerView, RefundStatusView, RetryNowResult } from '../workflows/types';

export interface RefundListItem {
  workflowId: string;
  outRefundNo?: string;
  outTradeNo?: string;
  status?: string;
  channel?: string;
  amountFen?: number;
  startTime: Date;
  closeTime?: Date;
  workflowStatus: string;
}

export interface ListFilter {
  status?: RefundState;
  outTradeNo?: string;
  limit?: number;
}

/** Visibility query text; values are quoted so an out_trade_no cannot inject query syntax. */
export function listQuery(filter: ListFilter): string {
  const parts = [`WorkflowType = 'refundWorkflow'`];
  if (filter.status) {
    if (!REFUND_STATES.includes(filter.status)) throw new Error(`status must be one of ${REFUND_STATES.join(', ')}`);
    parts.push(`RefundStatus = '${filter.status}'`);
  }
  if (filter.outTradeNo !== undefined) {
    if (!/^[0-9A-Za-z_\-|*]{1,32}$/.test(filter.outTradeNo)) throw new Error('order must be a valid out_trade_no');
    parts.push(`OutTradeNo = '${filter.outTradeNo}'`);
  }
  return parts.join(' AND ');
}

function first(sa: WorkflowExecutionInfo['searchAttributes'], key: string): unknown {
  const v = sa?.[key];
  return Array.isArray(v) ? v[0] : undefined;
}

export async function listRefunds(client: Client, filter: ListFilter = {}): Promise<RefundListItem[]> {
  const items: RefundListItem[] = [];
  const limit = filter.limit ?? 50;
  for await (const wf of client.workflow.list({ query: listQuery(filter) })) {
    items.push({
      workflowId: wf.workflowId,
      outRefundNo: first(wf.searchAttributes, 'OutRefundNo') as string | undefined,
      outTradeNo: first(wf.searchAttributes, 'OutTradeNo') as string | undefined,
      status: first(wf.searchAttributes, 'RefundStatus') as string | undefined,
      channel: first(wf.searchAttributes, 'RefundChannel') as string | undefined,
      amountFen: first(wf.searchAttributes, 'RefundAmountFen') as number | undefined,
      startTime: wf.startTime,
      closeTime: wf.closeTime,
      workflowStatus: wf.status.name,
    });
    if (items.length >= limit) break;
  }
  return items;
}

/** A sub_mchid of the default merchant (the older signature), or a merchant's scope. */
export type RefundScope = string | MerchantScope;

export function refundStatus(client: Client, outRefundNo: string, scope?: RefundScope): Promise<RefundStatusView> {
  return client.workflow.getHandle(refundWorkflowId(outRefundNo, scope)).query(statusQuery);
}

export function resolveAbnormal(
  client: Client,
  outRefundNo: string,
  request: ResolveAbnormalRequest,
  scope?: RefundScope,
): Promise<RefundStatusView> {
  return client.workflow.getHandle(refundWorkflowId(outRefundNo, scope)).executeUpdate(resolveAbnormalUpdate, {
    args: [request],
  });
}

export function retryNow(
  client: Client,
  outRefundNo: string,
  request: RetryNowRequest,
  scope?: RefundScope,
): Promise<RetryNowResult> {
  return client.workflow.getHandle(refundWorkflowId(outRefundNo, scope)).executeUpdate(retryNowUpdate, {
    args: [request],
  });
}

export function orderLedger(client: Client, outTradeNo: string, scope?: RefundScope): Promise<LedgerView> {
  return client.workflow.getHandle(orderWorkflowId(outTradeNo, scope)).query(ledgerQuery);
}

/**
 * The deliveries of a refund's events to the order service, each from its delivery workflow (which answers queries
 * after it has closed, too). An event whose workflow cannot be read is listed without attempts.
 */
export async function eventDeliveries(client: Client, view: RefundStatusView): Promise<EventDeliveryView[]> {
  return Promise.all(
    (view.events ?? []).map((e) =>
      client.workflow
        .getHandle(e.id)
        .query(eventDeliveryQuery)
        .catch(() => deliveryNotOnRecord(view, e)),
    ),
  );
}

/** An event of the refund whose delivery workflow cannot be read (gone with retention): listed, without attempts. */
export function deliveryNotOnRecord(
  view: RefundStatusView,
  event: NonNullable<RefundStatusView['events']>[number],
): EventDeliveryView {
  return { ...event, outRefundNo: view.outRefundNo, state: 'PENDING', attempts: [] };
}

export interface TimelineEvent {
  at: string;
  kind: 'submit' | 'poll' | 'notification' | 'transition' | 'abnormal-resolution' | 'operator' | 'event';
  text: string;
}

/** One refund's history, oldest first, from its `status` query and its events' deliveries. */
export function timeline(view: RefundStatusView, deliveries: readonly EventDeliveryView[] = []): TimelineEvent[] {
  const events: TimelineEvent[] = [
    ...deliveries.flatMap((d) =>
      d.attempts.map((a, i) => ({
        at: a.at,
        kind: 'event' as const,
        text:
          `${d.type} delivery ${i + 1} → ${a.statusCode ?? 'no answer'}${a.error ? `: ${a.error}` : ''}` +
          (i === d.attempts.length - 1 ? ` [${d.state}${d.nextAttemptAt ? `, next ${d.nextAttemptAt}` : ''}]` : ''),
      })),
    ),
    ...view.submitAttempts.map((a) => ({
      at: a.at,
      kind: 'submit' as const,
      text: `create ${a.result}${a.wechatStatus ? ` (${a.wechatStatus})` : ''}${a.error ? `: ${a.error.errorClass} ${a.error.code}` : ''}`,
    })),
    ...view.polls.map((p) => ({
      at: p.at,
      kind: 'poll' as const,
      text: `query (${p.reason}) → ${p.result}${p.decision ? ` [${p.decision}]` : ''}${p.error ? `: ${p.error.code}` : ''}`,
    })),
    ...view.notifications.map((n) => ({
      at: n.firstReceivedAt,
      kind: 'notification' as const,
      text: `notification ${n.notificationId} ${n.status} ×${n.deliveries} [${n.decision}]${n.note ? ` ${n.note}` : ''}`,
    })),
    ...view.transitions.map((t) => ({
      at: t.at,
      kind: 'transition' as const,
      text: `${t.from} → ${t.to} (${t.evidence})${t.note ? ` ${t.note}` : ''}`,
    })),
    ...view.abnormalResolutions.map((r) => ({
      at: r.at,
      kind: 'abnormal-resolution' as const,
      text: `apply-abnormal-refund ${r.type}${r.bankType ? ` ${r.bankType}` : ''} ${r.result}${r.operator ? ` by ${r.operator}` : ''}`,
    })),
    ...view.operatorActions.map((o) => ({
      at: o.at,
      kind: 'operator' as const,
      text: `${o.action}${o.operator ? ` by ${o.operator}` : ''}${o.note ? `: ${o.note}` : ''}`,
    })),
  ];
  return events.sort((a, b) => a.at.localeCompare(b.at));
}
