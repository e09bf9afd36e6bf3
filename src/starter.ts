/**
 * What the merchant's order service uses to refund: a typed library. It loads no CLI code and no dev-stack
 * configuration (test/unit/cli/library-imports.test.ts checks its module graph); the command line over it is
 * src/cli/refund.ts (`npm run refund`).
 *
 * `requestRefund` sends the ledger's `requestRefund` update through update-with-start, so the first refund of an
 * order creates its ledger (`refund-order-<out_trade_no>`) in the same call; the ledger reads the order's facts
 * from WeChat. It returns the accepted refund, or throws a `RefundRejected` naming the rule it breaks (order unknown
 * or unpaid, facts that disagree with WeChat's, cap of 50, paid total, one year, amount, an out_refund_no already
 * used): at once, before anything reaches WeChat. The same request twice returns the same receipt. Without a
 * decision within `decisionTimeoutMs` it throws `RefundUndecided`: nothing was decided, and repeating is safe.
 *
 * The Client must encrypt payloads as the worker does (docs/encryption.md), or the worker cannot read the request and
 * the service cannot read the answer: build it with `payloadEncryption()` below, which reads WXREFUND_PAYLOAD_KEYS (and
 * WXREFUND_PAYLOAD_ENCRYPTION) from the environment, and nothing else:
 *
 *   const { dataConverter } = payloadEncryption();
 *   const client = new Client({ connection, namespace, dataConverter });
 */
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { merchantScope, orderWorkflowId } from './domain/ids';
import { ledgerWasBusy } from './ledger-busy';
import {
  describeZodError,
  orderLedgerInputSchema,
  requestRefundSchema,
  type OrderLedgerInput,
  type RefundRequest,
} from './domain/schemas';
import { OutTradeNoKey } from './domain/search-attributes';
import { cancelRefundUpdate, requestRefundUpdate, statusQuery } from './workflows/definitions';
import type { LedgerEntry, RefundOutcome, RefundReceipt } from './workflows/types';
import type { orderLedgerWorkflow, refundWorkflow } from './workflows';

export type { RefundReceipt, RefundOutcome, LedgerEntry };

// Payload encryption for the order service's Client: the same key ring and converter the worker uses. They read the
// environment only (no stack file, no YAML); loadPayloadKeys + payloadDataConverter for callers with their own keys.
export { payloadEncryption, type PayloadEncryption } from './codec/process-encryption';
export { loadPayloadKeys, PayloadKeyRing, parseKeyRing } from './codec/payload-keys';
export { payloadDataConverter, describePayloadEncryption } from './codec/data-converter';
export { PayloadDecryptionError } from './codec/encryption-codec';

/**
 * Why a refund request was refused. `rule` is the WeChat rule of docs §2.1 when one applies (M7: the out_refund_no
 * belongs to another refund; M10: the order is unknown to WeChat or not paid), ORDER_FACTS_MISMATCH when what the
 * caller said about the order disagrees with WeChat's record.
 */
export class RefundRejected extends Error {
  override readonly name = 'RefundRejected';
  constructor(
    message: string,
    readonly rule: 'INVALID_INPUT' | 'M1' | 'M4' | 'M5' | 'M6' | 'M7' | 'M8' | 'M10' | 'ORDER_FACTS_MISMATCH' | 'OTHER',
  ) {
    super(message);
  }
}

/**
 * No decision in time (Temporal unreachable, no worker, WeChat's order record not readable). The request carried its
 * deadline, and a ledger refuses a request it reaches after it: nothing was decided, and sending the same request
 * again (same out_refund_no and amount) is safe: it is decided then, or answered as before if it was.
 */
export class RefundUndecided extends Error {
  override readonly name = 'RefundUndecided';
  readonly code = 'REFUND_REQUEST_UNDECIDED';
}

/** A refund workflow's outcome that is not the receipt's refund (another order or amount): never returned. */
export class RefundIdentityMismatch extends Error {
  override readonly name = 'RefundIdentityMismatch';
}

export interface RefundStarterOptions {
  client: Client;
  taskQueue: string;
  /**
   * How long to keep repeating a request the server turned away because the order's ledger was busy (Temporal's
   * limit on updates in flight per workflow, or an update aborted by the ledger's continue-as-new). Safe: the same
   * out_refund_no and amount always get the same receipt. Default 60 s; 0 = do not repeat.
   */
  busyRetryMs?: number;
  /**
   * How long to wait for a decision before giving up with `RefundUndecided` (default 5 s). The ledger refuses the
   * request once this has passed (less a second for clocks and the reply's way back), so giving up decides nothing.
   */
  decisionTimeoutMs?: number;
  /**
   * The deployment's default merchant (the merchant registry's `default: true`; docs/merchants.md). Set it when the
   * deployment serves several merchants: an order naming this mchid is then the same order as one naming none (same
   * ledger, same refund IDs), and orders of the other merchants get IDs of their own. Unset: every order is the
   * default merchant's unless it names an mchid, which then names a merchant of its own.
   */
  defaultMchid?: string;
}

export const DEFAULT_DECISION_TIMEOUT_MS = 5_000;

/**
 * The order, as the order service knows it: out_trade_no (with mchid when the deployment serves several merchants, and
 * sub_mchid for partners) names it; the ledger reads its facts from WeChat. Any of paidTotalFen, paidAt,
 * payerBankType, transactionId given here must agree with WeChat's record (amounts exactly, paidAt within 10 minutes),
 * else ORDER_FACTS_MISMATCH names the field.
 */
export type OrderParams = OrderLedgerInput;

export interface RequestRefundParams {
  order: OrderParams;
  refund: RefundRequest;
}

/** Asks for a refund. Resolves with the accepted refund; rejects with `RefundRejected` when a rule forbids it. */
export async function requestRefund(opts: RefundStarterOptions, params: RequestRefundParams): Promise<RefundReceipt> {
  if (typeof params !== 'object' || params === null) {
    throw new RefundRejected('params: must be an object with `order` and `refund`', 'INVALID_INPUT');
  }
  // Strict at this boundary: a misspelt option (`minSpacingMS`) must be refused, not silently replaced by a default.
  const order = orderLedgerInputSchema.strict().safeParse(params.order);
  if (!order.success) throw new RefundRejected(`order: ${describeZodError(order.error)}`, 'INVALID_INPUT');
  const refund = requestRefundSchema.omit({ claims: true, decideBy: true }).strict().safeParse(params.refund);
  if (!refund.success) throw new RefundRejected(`refund: ${describeZodError(refund.error)}`, 'INVALID_INPUT');

  const { paidTotalFen, paidAt, payerBankType, ...identity } = order.data;
  const { workflowId: ledgerId, input: ledgerInput } = ledgerStartOf(identity, opts.defaultMchid);
  const claims = { paidTotalFen, paidAt, payerBankType, transactionId: order.data.transactionId };
  const timeoutMs = opts.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS;
  const startedAt = Date.now();
  // The ledger's deadline is a little earlier than ours: a decision it makes in time reaches us in time.
  const decideBy = new Date(startedAt + timeoutMs - Math.min(1_000, timeoutMs / 5)).toISOString();
  const request: RefundRequest = { ...refund.data, claims: dropUndefined(claims), decideBy };

  const busyDeadline = startedAt + Math.min(opts.busyRetryMs ?? 60_000, timeoutMs);
  const startOptions = {
    workflowId: ledgerId,
    taskQueue: opts.taskQueue,
    // Identity and settings only: the order's facts come from WeChat, what the caller says of them is a claim.
    args: [ledgerInput] as [OrderLedgerInput],
    // A ledger already running for this order takes the update.
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    typedSearchAttributes: [{ key: OutTradeNoKey, value: order.data.outTradeNo }],
    staticSummary: `Refund ledger of order ${order.data.outTradeNo}`,
  };
  const undecided = (why: string) =>
    new RefundUndecided(
      `REFUND_REQUEST_UNDECIDED: no decision on refund ${request.outRefundNo} of order ${order.data.outTradeNo} ` +
        `within ${timeoutMs} ms (${why}; Temporal at ${describeTarget(opts.client)}, task queue ${opts.taskQueue}). ` +
        `Nothing was decided: the ledger refuses this request after ${decideBy}. ` +
        'The same request (same out_refund_no and amount) is safe to repeat.',
    );
  const timer = new Timeout(startedAt + timeoutMs);
  try {
    return await timer.race(send(), () => undecided('no answer from the order ledger: is a worker running?'));
  } finally {
    timer.clear();
  }

  async function send(): Promise<RefundReceipt> {
    for (let attempt = 0; ; attempt++) {
      // A fresh operation per call: the SDK does not let a WithStartWorkflowOperation be sent twice.
      const startLedger = new WithStartWorkflowOperation<typeof orderLedgerWorkflow>(
        'orderLedgerWorkflow',
        startOptions,
      );
      try {
        return await oneLaneOfLedger(ledgerId, () =>
          opts.client.workflow.executeUpdateWithStart(requestRefundUpdate, {
            args: [request],
            startWorkflowOperation: startLedger,
          }),
        );
      } catch (err) {
        const expired = asUndecided(err);
        if (expired) throw undecided(expired);
        const rejection = asRejection(err);
        if (rejection) throw rejection;
        if (!ledgerWasBusy(err) || Date.now() >= busyDeadline) throw err;
        // Full jitter: requests that collided on one ledger must not collide again on the same schedule.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }
}

/**
 * The ledger an order's refunds go to, and what it starts with: the merchant's scope (domain/ids.ts) names the
 * merchant only when it is not the default, in the ID and in the input alike, so naming the default merchant and
 * naming none are the same ledger, started the same way (the ledger derives its refunds' IDs from the input's mchid).
 */
export function ledgerStartOf(
  order: Omit<OrderLedgerInput, 'paidTotalFen' | 'paidAt' | 'payerBankType'>,
  defaultMchid: string | undefined,
): { workflowId: string; input: OrderLedgerInput } {
  const { mchid, ...rest } = order;
  const scope = merchantScope(mchid, order.subMchid, defaultMchid);
  return {
    workflowId: orderWorkflowId(order.outTradeNo, scope),
    input: { ...rest, ...(scope.mchid !== undefined ? { mchid: scope.mchid } : {}) },
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> | undefined {
  const kept = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function describeTarget(client: Client): string {
  const options = (client.connection as { options?: { address?: string } }).options;
  return `${options?.address ?? 'unknown address'}, namespace ${client.options.namespace}`;
}

/** A deadline for one request; the call it races keeps going in the background and its answer is dropped. */
class Timeout {
  private handle?: NodeJS.Timeout;
  constructor(private readonly atMs: number) {}

  race<T>(work: Promise<T>, onTimeout: () => Error): Promise<T> {
    work.catch(() => undefined); // its failure after the deadline is nobody's business
    return Promise.race([
      work,
      new Promise<never>((_, reject) => {
        this.handle = setTimeout(() => reject(onTimeout()), Math.max(0, this.atMs - Date.now()));
      }),
    ]);
  }

  clear(): void {
    if (this.handle) clearTimeout(this.handle);
  }
}

/**
 * Requests of this process to one order's ledger, at most this many at once; the rest wait their turn here. Below
 * Temporal's default limit of 10 updates in flight per workflow, so one order service alone does not hit it, and a
 * burst on one order queues in memory instead of retrying against the server (the soak measured that storm: 3,000
 * requests on 20 orders took over 5 minutes when every refused request came back on its own).
 */
const LANES_PER_LEDGER = 8;
const ledgerLanes = new Map<string, { busy: number; waiting: Array<() => void> }>();

async function oneLaneOfLedger<T>(ledgerId: string, call: () => Promise<T>): Promise<T> {
  let lanes = ledgerLanes.get(ledgerId);
  if (!lanes) ledgerLanes.set(ledgerId, (lanes = { busy: 0, waiting: [] }));
  if (lanes.busy < LANES_PER_LEDGER) lanes.busy += 1;
  else await new Promise<void>((resolve) => lanes.waiting.push(resolve)); // handed a lane by a finishing call
  try {
    return await call();
  } finally {
    const next = lanes.waiting.shift();
    if (next) next();
    else if (--lanes.busy === 0) ledgerLanes.delete(ledgerId);
  }
}

const RULES = new Set(['M1', 'M4', 'M5', 'M6', 'M7', 'M8', 'M10']);

/** The ledger refused without deciding: the request expired, or WeChat's order record could not be read. */
function asUndecided(err: unknown): string | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  if (cause.type === 'RefundRequestExpired' || cause.type === 'OrderLookupFailed') return cause.message;
  return undefined;
}

/** The ledger's validator refuses with ApplicationFailure type `RefundRule<rule>` (or a plain error message). */
function asRejection(err: unknown): RefundRejected | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  const message = cause?.message ?? err.message;
  if (cause instanceof ApplicationFailure && cause.type === 'OrderFactsMismatch') {
    return new RefundRejected(message, 'ORDER_FACTS_MISMATCH');
  }
  if (cause instanceof ApplicationFailure && cause.type?.startsWith('RefundRule')) {
    const rule = cause.type.slice('RefundRule'.length);
    return new RefundRejected(message, RULES.has(rule) ? (rule as RefundRejected['rule']) : 'OTHER');
  }
  return new RefundRejected(message, 'OTHER');
}

/**
 * Why a cancel was refused: the order has no such refund (UNKNOWN_REFUND), or the refund may already have been sent
 * to WeChat, or has ended (NOT_CANCELLABLE; the message says which).
 */
export class RefundNotCancellable extends Error {
  override readonly name = 'RefundNotCancellable';
  constructor(
    message: string,
    readonly reason: 'UNKNOWN_REFUND' | 'NOT_CANCELLABLE',
  ) {
    super(message);
  }
}

export interface CancelRefundParams {
  outTradeNo: string;
  /** The order's merchant, as in `requestRefund` (absent: the default merchant). */
  mchid?: string;
  subMchid?: string;
  outRefundNo: string;
  /** Who asked: kept for the audit trail. */
  requestedBy?: string;
}

/**
 * Withdraws a refund still queued behind another refund of its order (nothing was sent to WeChat): its ledger
 * releases the amount and the refund ends CANCELLED. The ledger alone decides, so a cancel racing the refund's turn
 * either wins (CANCELLED, never sent) or is refused (`RefundNotCancellable`). Cancelling twice answers the same.
 */
export async function cancelRefund(
  opts: Pick<RefundStarterOptions, 'client' | 'defaultMchid'>,
  params: CancelRefundParams,
): Promise<LedgerEntry> {
  const ledgerId = orderWorkflowId(params.outTradeNo, merchantScope(params.mchid, params.subMchid, opts.defaultMchid));
  try {
    return await opts.client.workflow.getHandle(ledgerId).executeUpdate(cancelRefundUpdate, {
      args: [{ outRefundNo: params.outRefundNo, requestedBy: params.requestedBy }],
    });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new RefundNotCancellable(
        `order ${params.outTradeNo} has no running ledger, so none of its refunds is queued`,
        'NOT_CANCELLABLE',
      );
    }
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      if (err.cause.type === 'UnknownRefund') throw new RefundNotCancellable(err.cause.message, 'UNKNOWN_REFUND');
      if (err.cause.type === 'RefundNotCancellable') {
        throw new RefundNotCancellable(err.cause.message, 'NOT_CANCELLABLE');
      }
    }
    throw err;
  }
}

/**
 * The refund workflow of a receipt. It may not exist yet: the ledger starts it after answering, and a queued refund
 * waits for its turn (one submission per order per minute). Use `awaitRefundOutcome` to wait for the end.
 */
export function refundHandle(client: Client, receipt: RefundReceipt): WorkflowHandle<typeof refundWorkflow> {
  return client.workflow.getHandle<typeof refundWorkflow>(receipt.refundWorkflowId);
}

/**
 * Waits until the refund of a receipt is SUCCESS, CLOSED or REJECTED (ABNORMAL and MANUAL_REVIEW keep waiting for
 * an operator). Waits first for the ledger to start the refund workflow, at most `startTimeoutMs`.
 */
export async function awaitRefundOutcome(
  client: Client,
  receipt: RefundReceipt,
  { startTimeoutMs = 60 * 60_000, pollMs = 1_000 }: { startTimeoutMs?: number; pollMs?: number } = {},
): Promise<RefundOutcome> {
  const handle = refundHandle(client, receipt);
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    try {
      await handle.describe();
      break;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  const outcome = await handle.result();
  // Refunds started before outcomes named their order say it in their status query.
  const owner = outcome.outTradeNo
    ? { outTradeNo: outcome.outTradeNo, requestedFen: outcome.requestedFen }
    : await handle.query(statusQuery).then((v) => ({ outTradeNo: v.outTradeNo, requestedFen: v.requestedFen }));
  if (owner.outTradeNo !== receipt.outTradeNo || (owner.requestedFen ?? receipt.amountFen) !== receipt.amountFen) {
    throw new RefundIdentityMismatch(
      `refund workflow ${receipt.refundWorkflowId} is a refund of ${owner.requestedFen} fen on order ` +
        `${owner.outTradeNo}, not the receipt's ${receipt.amountFen} fen on order ${receipt.outTradeNo}: not returned`,
    );
  }
  return outcome;
}
