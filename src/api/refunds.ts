/**
 * What the routes do, over the refund core: ask for and cancel refunds through the order-service library
 * (src/starter.ts), and read refunds, orders and event deliveries through their workflows' queries. Resources are
 * built by refund-resource.ts (shared with the events).
 *
 * New or repeat: every request carries its own token as `requestedBy` (`api:<key name>:<request id>`). The ledger
 * decides requests one at a time and keeps the token of the request that created the entry; a repeat gets the same
 * receipt, which names that token. So the answer is 201 exactly when the receipt carries this request's token,
 * whichever replica asked and however many copies raced: the ledger decides, not the API. New or repeat, an answer
 * costs one round trip: the receipt carries the ledger's entry as it answered (`current`), so a repeat's state needs no
 * second read.
 */
import type { Client } from '@temporalio/client';
import { orderWorkflowId, refundWorkflowId } from '../domain/ids';
import { isTerminal } from '../domain/status';
import { cancelRefund as cancelQueuedRefund, RefundNotCancellable, requestRefund } from '../starter';
import { deliveryNotOnRecord } from '../ops/refund-ops';
import { eventDeliveryQuery, ledgerQuery, statusQuery } from '../workflows/definitions';
import type { EventDeliveryView, LedgerEntry, LedgerView, RefundReceipt, RefundStatusView } from '../workflows/types';
import { ApiError, notCancellable, notFound, unavailable } from './errors';
import { chooseMerchant, type MerchantChoice, type MerchantRoster } from './merchant-choice';
import { refundResourceOf } from './refund-resource';
import type { CreateRefundBody, OrderRefundSummary, OrderResource, RefundResource, RefundStateName } from './schemas';

export interface RefundApiContext {
  client: Client;
  taskQueue: string;
  decisionTimeoutMs: number;
  queryTimeoutMs: number;
  /** The deployment's merchants now (a reloaded registry takes effect on the next request). */
  merchants: () => MerchantRoster;
}

/** What a request says of its merchant, as sent (the API's field names). */
export interface NamedMerchant {
  mchid?: string;
  sub_mchid?: string;
}

/** The merchant a request names, or 422 unknown_merchant naming the field (errors.ts). */
function merchantOf(ctx: RefundApiContext, named: NamedMerchant): MerchantChoice {
  return chooseMerchant(ctx.merchants(), { mchid: named.mchid, subMchid: named.sub_mchid });
}

/** " of merchant 1900000110, sub-merchant 1900000201" for 404 texts: only what the request named. */
function ofMerchant(named: NamedMerchant): string {
  const parts = [
    ...(named.mchid !== undefined ? [`merchant ${named.mchid}`] : []),
    ...(named.sub_mchid !== undefined ? [`sub-merchant ${named.sub_mchid}`] : []),
  ];
  return parts.length > 0 ? ` of ${parts.join(', ')}` : '';
}

/** The resource's merchant fields. */
function merchantFields(merchant: Pick<MerchantChoice, 'mchid' | 'subMchid'>) {
  return {
    ...(merchant.mchid !== undefined ? { mchid: merchant.mchid } : {}),
    ...(merchant.subMchid !== undefined ? { sub_mchid: merchant.subMchid } : {}),
  };
}

const stateOf = (status: LedgerEntry['status']): RefundStateName => (status === 'QUEUED' ? 'PENDING' : status);

export async function createRefund(
  ctx: RefundApiContext,
  body: CreateRefundBody,
  token: string,
): Promise<{ created: boolean; refund: RefundResource }> {
  const outTradeNo = body.out_trade_no!; // required by the schema (transaction_id alone is refused there)
  const merchant = merchantOf(ctx, body);
  const receipt = await requestRefund(
    {
      client: ctx.client,
      taskQueue: ctx.taskQueue,
      decisionTimeoutMs: ctx.decisionTimeoutMs,
      defaultMchid: merchant.defaultMchid,
    },
    {
      order: {
        outTradeNo,
        ...(body.transaction_id !== undefined ? { transactionId: body.transaction_id } : {}),
        ...(merchant.mchid !== undefined ? { mchid: merchant.mchid } : {}),
        ...(merchant.subMchid !== undefined ? { subMchid: merchant.subMchid } : {}),
      },
      refund: {
        outRefundNo: body.out_refund_no,
        amountFen: body.amount_fen,
        ...(body.reason !== undefined ? { reason: body.reason } : {}),
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        requestedBy: token,
      },
    },
  );
  // Accepted (new or repeat): which one is the ledger's to say, and its receipt says who made the refund.
  if (receipt.requestedBy === token) {
    return { created: true, refund: resourceFromReceipt(receipt, merchant) };
  }
  // A repeat: the ledger's answer says where the refund stands; ledgers older than that are read once more (should
  // that read fail, the same request is safe to repeat).
  const entry = receipt.current ?? (await readEntry(ctx, receipt, merchant));
  const differs = differingParameter(entry, body);
  if (differs) {
    throw new ApiError(
      409,
      'idempotency_conflict',
      `out_refund_no ${entry.outRefundNo} was already requested with another ${differs}; ` +
        'a refund number is bound to one order, amount, reason and metadata: use a new out_refund_no',
    );
  }
  return {
    // Receipts of ledgers older than the receipt's `requestedBy` are told apart by the entry.
    created: entry.requestedBy === token,
    refund: resourceFromEntry(entry, receipt.outTradeNo, merchant),
  };
}

/** The ledger's entry of a refund it just answered for (ledgers whose receipts do not carry it). */
async function readEntry(ctx: RefundApiContext, receipt: RefundReceipt, merchant: MerchantChoice) {
  const ledger = await queryLedger(ctx, orderWorkflowId(receipt.outTradeNo, merchant.scope), 'the order ledger').catch(
    (err: unknown) => {
      throw err instanceof ApiError && err.status === 404
        ? unavailable(
            `refund ${receipt.outRefundNo} is accepted but its order ledger is not readable yet: repeat the request`,
          )
        : err;
    },
  );
  const entry = ledger.refunds.find((e) => e.outRefundNo === receipt.outRefundNo);
  // The ledger answered with this receipt, so it holds the entry; a missing one means a reader raced a restart.
  if (!entry) throw unavailable(`refund ${receipt.outRefundNo} is accepted but not readable yet: repeat the request`);
  return entry;
}

/** A refund this very request created: just accepted, so PENDING (its create may be on its way to WeChat). */
function resourceFromReceipt(receipt: RefundReceipt, merchant: MerchantChoice): RefundResource {
  return {
    object: 'refund',
    out_refund_no: receipt.outRefundNo,
    out_trade_no: receipt.outTradeNo,
    ...merchantFields(merchant),
    amount_fen: receipt.amountFen,
    ...(receipt.reason !== undefined ? { reason: receipt.reason } : {}),
    ...(receipt.metadata !== undefined ? { metadata: receipt.metadata } : {}),
    state: 'PENDING',
    created_at: receipt.requestedAt,
    updated_at: receipt.requestedAt,
  };
}

/**
 * The ledger judges order and amount (M7/M8); reason and metadata are the request's too, so a repeat that changes
 * them is not the same request: answered 409 rather than silently keeping the first one's.
 */
function differingParameter(entry: LedgerEntry, body: CreateRefundBody): string | undefined {
  if ((entry.reason ?? undefined) !== (body.reason ?? undefined)) return 'reason';
  if (!sameMetadata(entry.metadata, body.metadata)) return 'metadata';
  return undefined;
}

function sameMetadata(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  return ka.length === kb.length && ka.every((k) => b?.[k] === a?.[k]);
}

/** The POST's answer, from the ledger's entry alone (no second query): what was accepted and where it stands. */
function resourceFromEntry(entry: LedgerEntry, outTradeNo: string, merchant: MerchantChoice): RefundResource {
  const state = stateOf(entry.status);
  return {
    object: 'refund',
    out_refund_no: entry.outRefundNo,
    out_trade_no: outTradeNo,
    ...merchantFields(merchant),
    amount_fen: entry.amountFen,
    ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
    ...(entry.metadata !== undefined ? { metadata: entry.metadata } : {}),
    state,
    ...(entry.channel !== undefined ? { channel: entry.channel } : {}),
    ...(entry.refundId !== undefined ? { refund_id: entry.refundId } : {}),
    created_at: entry.requestedAt,
    updated_at: entry.lastChangeAt,
    ...(isTerminal(state) ? { settled_at: entry.lastChangeAt } : {}),
  };
}

export async function getRefund(
  ctx: RefundApiContext,
  outRefundNo: string,
  named: NamedMerchant = {},
): Promise<RefundResource> {
  const merchant = merchantOf(ctx, named);
  const view = await readRefund(ctx, outRefundNo, merchant, named);
  const [entry, deliveries] = await Promise.all([ledgerEntryOf(ctx, view, merchant), eventDeliveries(ctx, view)]);
  return refundResourceOf(view, entry ?? {}, deliveries);
}

/**
 * Withdraws a refund still queued in its ledger: 200 with state CANCELLED (also for a repeated cancel), 409 when it
 * may already have been sent to WeChat or has ended, 404 when unknown. The ledger decides, as for creation.
 */
export async function cancelRefund(
  ctx: RefundApiContext,
  outRefundNo: string,
  named: NamedMerchant,
  token: string,
): Promise<RefundResource> {
  const merchant = merchantOf(ctx, named);
  const view = await readRefund(ctx, outRefundNo, merchant, named);
  if (!view.outTradeNo) throw notCancellable(`refund ${outRefundNo} was started outside an order ledger`);
  let entry: LedgerEntry;
  try {
    entry = await ctx.client.withDeadline(Date.now() + ctx.decisionTimeoutMs, () =>
      cancelQueuedRefund(
        { client: ctx.client, defaultMchid: merchant.defaultMchid },
        {
          outTradeNo: view.outTradeNo!,
          mchid: merchant.mchid,
          subMchid: merchant.subMchid,
          outRefundNo,
          requestedBy: token,
        },
      ),
    );
  } catch (err) {
    if (err instanceof RefundNotCancellable) {
      throw err.reason === 'UNKNOWN_REFUND' ? notFound(err.message) : notCancellable(err.message);
    }
    throw err;
  }
  return refundResourceOf(view, entry);
}

/**
 * The refund's status query; 404 when no refund has this number. The view names its merchant: refunds that predate
 * merchants in their views are the merchant the request named.
 */
async function readRefund(
  ctx: RefundApiContext,
  outRefundNo: string,
  merchant: MerchantChoice,
  named: NamedMerchant,
): Promise<RefundStatusView> {
  const handle = ctx.client.workflow.getHandle(refundWorkflowId(outRefundNo, merchant.scope));
  const view = await withDeadline(ctx, () => handle.query(statusQuery), {
    missing: `no refund with out_refund_no ${outRefundNo}${ofMerchant(named)}`,
  });
  return view.mchid === undefined && merchant.mchid !== undefined ? { ...view, mchid: merchant.mchid } : view;
}

/** The request's own record (when it was accepted, reason, metadata) is the ledger's; refunds started outside one have none. */
async function ledgerEntryOf(
  ctx: RefundApiContext,
  view: RefundStatusView,
  merchant: MerchantChoice,
): Promise<LedgerEntry | undefined> {
  if (!view.outTradeNo) return undefined;
  // The refund's ledger is of the same merchant and sub-merchant: its ID found the refund.
  return queryLedger(ctx, orderWorkflowId(view.outTradeNo, merchant.scope), 'no ledger').then(
    (ledger) => ledger.refunds.find((e) => e.outRefundNo === view.outRefundNo),
    (err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    },
  );
}

/** Every delivery attempt of the refund's events, from their delivery workflows (closed ones answer queries too). */
async function eventDeliveries(ctx: RefundApiContext, view: RefundStatusView): Promise<EventDeliveryView[]> {
  const events = view.events ?? [];
  return Promise.all(
    events.map((e) =>
      withDeadline(ctx, () => ctx.client.workflow.getHandle(e.id).query(eventDeliveryQuery), {
        missing: `event ${e.id}`,
      }).catch((err: unknown): EventDeliveryView => {
        // Its record is gone (retention) or unreadable now: the event is still listed, without attempts.
        if (err instanceof ApiError && err.status === 404) return deliveryNotOnRecord(view, e);
        throw err;
      }),
    ),
  );
}

export async function getOrder(
  ctx: RefundApiContext,
  outTradeNo: string,
  named: NamedMerchant = {},
): Promise<OrderResource> {
  const merchant = merchantOf(ctx, named);
  const missing = `no refundable order ${outTradeNo}${ofMerchant(named)} is known (an order is known once a refund of it was requested)`;
  const view = await queryLedger(ctx, orderWorkflowId(outTradeNo, merchant.scope), missing);
  const facts = view.facts;
  if (!facts) {
    if (view.problem) throw notFound(`${missing}: ${view.problem.message}`);
    throw unavailable(`order ${outTradeNo}: WeChat's record of the order is not read yet; try again`);
  }
  return {
    object: 'order',
    out_trade_no: view.outTradeNo,
    ...(facts.transactionId !== undefined ? { transaction_id: facts.transactionId } : {}),
    ...merchantFields({ mchid: facts.mchid ?? merchant.mchid, subMchid: merchant.subMchid }),
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
