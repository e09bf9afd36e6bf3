/**
 * What the routes do, over the refund core: ask for a refund through the order-service library (src/starter.ts) and
 * read refunds and orders through their workflows' queries.
 *
 * New or repeat: every request carries its own token as `requestedBy` (`api:<key name>:<request id>`). The ledger
 * decides requests one at a time and keeps the token of the request that created the entry; a repeat gets the same
 * receipt and leaves the entry as it was. So the answer is 201 exactly when the ledger's entry carries this request's
 * token, whichever replica asked and however many copies raced: the ledger decides, not the API.
 */
import type { Client } from '@temporalio/client';
import { orderWorkflowId, refundWorkflowId } from '../domain/ids';
import { isTerminal } from '../domain/status';
import { requestRefund } from '../starter';
import { ledgerQuery, statusQuery } from '../workflows/definitions';
import type { LedgerEntry, LedgerView, RefundStatusView } from '../workflows/types';
import { ApiError, notFound, unavailable } from './errors';
import type { CreateRefundBody, OrderRefundSummary, OrderResource, RefundResource, RefundStateName } from './schemas';

export interface RefundApiContext {
  client: Client;
  taskQueue: string;
  decisionTimeoutMs: number;
  queryTimeoutMs: number;
}

const stateOf = (status: LedgerEntry['status']): RefundStateName => (status === 'QUEUED' ? 'PENDING' : status);

export async function createRefund(
  ctx: RefundApiContext,
  body: CreateRefundBody,
  token: string,
): Promise<{ created: boolean; refund: RefundResource }> {
  const outTradeNo = body.out_trade_no!; // required by the schema (transaction_id alone is refused there)
  const receipt = await requestRefund(
    { client: ctx.client, taskQueue: ctx.taskQueue, decisionTimeoutMs: ctx.decisionTimeoutMs },
    {
      order: {
        outTradeNo,
        ...(body.transaction_id !== undefined ? { transactionId: body.transaction_id } : {}),
        ...(body.sub_mchid !== undefined ? { subMchid: body.sub_mchid } : {}),
      },
      refund: {
        outRefundNo: body.out_refund_no,
        amountFen: body.amount_fen,
        ...(body.reason !== undefined ? { reason: body.reason } : {}),
        requestedBy: token,
      },
    },
  );
  // Accepted (new or repeat): which one is the ledger's to say. Should reading it fail, the same request is safe
  // to repeat and gets this refund (as a repeat, 200).
  const ledger = await queryLedger(ctx, orderWorkflowId(receipt.outTradeNo, body.sub_mchid), 'the order ledger').catch(
    (err: unknown) => {
      throw err instanceof ApiError && err.status === 404
        ? unavailable(
            `refund ${receipt.outRefundNo} is accepted but its order ledger is not readable yet: repeat the request`,
          )
        : err;
    },
  );
  const entry = ledger.refunds.find((e) => e.outRefundNo === receipt.outRefundNo);
  if (!entry) {
    // The ledger answered with this receipt, so it holds the entry; a missing one means a reader raced a restart.
    throw unavailable(`refund ${receipt.outRefundNo} is accepted but not readable yet: repeat the request`);
  }
  if ((entry.reason ?? undefined) !== (body.reason ?? undefined)) {
    throw new ApiError(
      409,
      'idempotency_conflict',
      `out_refund_no ${entry.outRefundNo} was already requested with another reason; ` +
        'a refund number is bound to one order, amount and reason: use a new out_refund_no',
    );
  }
  return {
    created: entry.requestedBy === token,
    refund: {
      object: 'refund',
      out_refund_no: entry.outRefundNo,
      out_trade_no: receipt.outTradeNo,
      ...(body.sub_mchid !== undefined ? { sub_mchid: body.sub_mchid } : {}),
      amount_fen: entry.amountFen,
      ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
      state: stateOf(entry.status),
      ...(entry.channel !== undefined ? { channel: entry.channel } : {}),
      ...(entry.refundId !== undefined ? { refund_id: entry.refundId } : {}),
      created_at: entry.requestedAt,
      ...(isTerminal(stateOf(entry.status)) ? { settled_at: entry.lastChangeAt } : {}),
    },
  };
}

export async function getRefund(
  ctx: RefundApiContext,
  outRefundNo: string,
  subMchid?: string,
): Promise<RefundResource> {
  const handle = ctx.client.workflow.getHandle(refundWorkflowId(outRefundNo, subMchid));
  const view = await withDeadline(ctx, () => handle.query(statusQuery), {
    missing: `no refund with out_refund_no ${outRefundNo}${subMchid ? ` of sub-merchant ${subMchid}` : ''}`,
  });
  // The request's own record (reason, when it was accepted) is the ledger's; refunds started outside a ledger have none.
  const entry = view.outTradeNo
    ? await queryLedger(ctx, orderWorkflowId(view.outTradeNo, view.subMchid), 'no ledger').then(
        (ledger) => ledger.refunds.find((e) => e.outRefundNo === outRefundNo),
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 404) return undefined;
          throw err;
        },
      )
    : undefined;
  const createdAt =
    entry?.requestedAt ??
    (await withDeadline(ctx, () => handle.describe(), { missing: 'no refund' })).startTime.toISOString();
  return refundFromStatus(view, entry, createdAt);
}

function refundFromStatus(view: RefundStatusView, entry: LedgerEntry | undefined, createdAt: string): RefundResource {
  const settledAt = isTerminal(view.state)
    ? (view.successTime ?? view.transitions.filter((t) => t.to === view.state).at(-1)?.at)
    : undefined;
  const a = view.amounts;
  return {
    object: 'refund',
    out_refund_no: view.outRefundNo,
    out_trade_no: view.outTradeNo ?? '',
    ...(view.subMchid !== undefined ? { sub_mchid: view.subMchid } : {}),
    amount_fen: view.requestedFen,
    ...(entry?.reason !== undefined ? { reason: entry.reason } : {}),
    state: view.state,
    channel: view.channel,
    ...(view.refundId !== undefined ? { refund_id: view.refundId } : {}),
    ...(a
      ? {
          amounts: {
            refund_fen: a.refundFen,
            total_fen: a.totalFen,
            ...(a.payerRefundFen !== undefined ? { payer_refund_fen: a.payerRefundFen } : {}),
            ...(a.payerTotalFen !== undefined ? { payer_total_fen: a.payerTotalFen } : {}),
            ...(a.settlementRefundFen !== undefined ? { settlement_refund_fen: a.settlementRefundFen } : {}),
            ...(a.discountRefundFen !== undefined ? { discount_refund_fen: a.discountRefundFen } : {}),
          },
        }
      : {}),
    ...(view.userReceivedAccount !== undefined ? { user_received_account: view.userReceivedAccount } : {}),
    ...(view.state === 'REJECTED' && view.rejection
      ? { failure: { code: view.rejection.code, message: view.rejection.message } }
      : {}),
    created_at: createdAt,
    ...(settledAt !== undefined ? { settled_at: settledAt } : {}),
  };
}

export async function getOrder(ctx: RefundApiContext, outTradeNo: string, subMchid?: string): Promise<OrderResource> {
  const missing = `no refundable order ${outTradeNo}${subMchid ? ` of sub-merchant ${subMchid}` : ''} is known (an order is known once a refund of it was requested)`;
  const view = await queryLedger(ctx, orderWorkflowId(outTradeNo, subMchid), missing);
  const facts = view.facts;
  if (!facts) {
    if (view.problem) throw notFound(`${missing}: ${view.problem.message}`);
    throw unavailable(`order ${outTradeNo}: WeChat's record of the order is not read yet; try again`);
  }
  return {
    object: 'order',
    out_trade_no: view.outTradeNo,
    ...(facts.transactionId !== undefined ? { transaction_id: facts.transactionId } : {}),
    ...(subMchid !== undefined ? { sub_mchid: subMchid } : {}),
    paid_fen: view.paidTotalFen,
    paid_at: view.paidAt,
    refund_deadline: view.refundDeadline,
    succeeded_fen: view.money.succeededFen,
    reserved_fen: view.money.reservedFen,
    refundable_fen: view.money.refundableFen,
    refund_count: view.money.refundCount,
    refunds: view.refunds.map((e): OrderRefundSummary => ({
      out_refund_no: e.outRefundNo,
      amount_fen: e.amountFen,
      state: stateOf(e.status),
      ...(e.channel !== undefined ? { channel: e.channel } : {}),
      ...(e.refundId !== undefined ? { refund_id: e.refundId } : {}),
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      created_at: e.requestedAt,
    })),
  };
}

async function queryLedger(ctx: RefundApiContext, ledgerId: string, missing: string): Promise<LedgerView> {
  return withDeadline(ctx, () => ctx.client.workflow.getHandle(ledgerId).query(ledgerQuery), { missing });
}

/** A read with the query deadline; a workflow that does not exist is 404 with `missing` as its text. */
async function withDeadline<T>(ctx: RefundApiContext, read: () => Promise<T>, { missing }: { missing: string }) {
  try {
    return await ctx.client.withDeadline(Date.now() + ctx.queryTimeoutMs, read);
  } catch (err) {
    if (err instanceof Error && err.name === 'WorkflowNotFoundError') throw notFound(missing);
    throw err;
  }
}
