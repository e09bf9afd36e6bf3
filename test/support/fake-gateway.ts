/**
 * A scriptable in-memory WeChat Pay for workflow tests, injected through createActivities({ gateway }) — the designed
 * seam; Temporal itself is never mocked.
 *
 * - Behaves like WeChat where it matters: one refund per out_refund_no whatever the number of creates (idempotency
 *   key), REFUND_FEE_MISMATCH for the same number with another amount (M8), query 404 → null.
 * - Scripted failures per method, consumed one per call (`failNext`), including "accepted, but the reply was lost".
 * - Time-based progress per refund (`progress`): PROCESSING → SUCCESS after N hours, measured on the activity's
 *   clock, which on the time-skipping server is the skipped (virtual) time.
 * - A call log with the time and input of every call.
 */
import { Context } from '@temporalio/activity';
import type {
  ApplyAbnormalRefundInput,
  CreateRefundInput,
  GatewayRefundStatus,
  OrderRecord,
  QueryOrderInput,
  QueryRefundInput,
  RefundChannel,
  RefundGateway,
  RefundNotification,
  RefundRecord,
} from '../../src/wechatpay/gateway';
import { Final, type WechatPayError, NeedsOperator, InvalidRequest } from '../../src/wechatpay/errors';

type Method = 'createRefund' | 'queryRefund' | 'applyAbnormalRefund' | 'queryOrder';

/** The merchant every fake record and notification names. */
export const FAKE_MCHID = '1900000001';

/**
 * WeChat's order records, shared by every FakeGateway of the process (workflow tests run their activities in the
 * test process): a test registers the paid orders its ledgers will look up.
 */
const orderBook = new Map<string, OrderRecord>();

export function registerFakeOrder(order: {
  outTradeNo: string;
  transactionId?: string;
  subMchid?: string;
  paidTotalFen: number;
  paidAt: string;
  payerBankType?: string;
  tradeState?: string;
}): OrderRecord {
  const record: OrderRecord = {
    mchid: FAKE_MCHID,
    subMchid: order.subMchid,
    outTradeNo: order.outTradeNo,
    transactionId: order.transactionId ?? '4200000000000000000000000000',
    tradeState: order.tradeState ?? 'SUCCESS',
    bankType: order.payerBankType ?? 'OTHERS',
    successTime: order.paidAt,
    totalFen: order.paidTotalFen,
    payerTotalFen: order.paidTotalFen,
    currency: 'CNY',
    apiVersion: 'v3',
  };
  orderBook.set(order.outTradeNo, record);
  return record;
}

/** A scripted outcome for one call: throw this error, or (create only) store the refund and then throw. */
export type FakeStep = WechatPayError | InvalidRequest | { acceptedButThrow: WechatPayError };

export interface ProgressStep {
  /** after this long since the refund was created (or abnormal handling applied) */
  afterMs: number;
  status: GatewayRefundStatus;
  channel?: RefundChannel;
  userReceivedAccount?: string;
}

export interface FakeCall {
  method: Method;
  at: number;
  input: CreateRefundInput | QueryRefundInput | ApplyAbnormalRefundInput | QueryOrderInput;
}

interface StoredRefund {
  record: RefundRecord;
  createdAtMs: number;
  progress: ProgressStep[];
  appliedAtMs?: number;
  afterApply: ProgressStep[];
}

export interface FakeGatewayOptions {
  /** Status of a newly accepted refund (default PROCESSING). */
  createStatus?: GatewayRefundStatus;
  /** Channel WeChat reports for new refunds (default ORIGINAL). */
  channel?: RefundChannel;
  /** Progress applied to every new refund unless `progress()` set one for it. */
  defaultProgress?: ProgressStep[];
  /** Progress after apply-abnormal-refund (default: PROCESSING now, SUCCESS after 1 day, on OTHER_BANKCARD). */
  afterApply?: ProgressStep[];
  /** Clock; default: the activity's scheduled time (virtual time under time skipping), else Date.now(). */
  now?: () => number;
}

/** Inside an activity, the server's idea of now: virtual on the time-skipping server. */
export function activityClock(): number {
  try {
    return Context.current().info.currentAttemptScheduledTimestampMs;
  } catch {
    return Date.now();
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

export class FakeGateway implements RefundGateway {
  readonly apiVersion = 'v3' as const;
  readonly calls: FakeCall[] = [];
  private readonly refunds = new Map<string, StoredRefund>();
  private readonly scripts: Record<Method, FakeStep[]> = {
    createRefund: [],
    queryRefund: [],
    applyAbnormalRefund: [],
    queryOrder: [],
  };
  private readonly plannedProgress = new Map<string, ProgressStep[]>();
  private readonly plannedAfterApply = new Map<string, ProgressStep[]>();
  private refundCounter = 0;
  private notificationCounter = 0;
  private readonly now: () => number;

  constructor(private readonly options: FakeGatewayOptions = {}) {
    this.now = options.now ?? activityClock;
  }

  // ----------------------------------------------------------------------------------------------- scripting

  /** The next calls of `method` fail with these steps, in order; later calls behave normally. */
  failNext(method: Method, ...steps: FakeStep[]): this {
    this.scripts[method].push(...steps);
    return this;
  }

  /** WeChat-side progress of one refund, relative to its creation. */
  progress(outRefundNo: string, steps: ProgressStep[]): this {
    this.plannedProgress.set(outRefundNo, steps);
    const stored = this.refunds.get(outRefundNo);
    if (stored) stored.progress = steps;
    return this;
  }

  /**
   * WeChat's stored record of a refund changes (for tests of evidence that disagrees with the request): every later
   * reply (create repeat, query) reports it.
   */
  tamper(outRefundNo: string, patch: (record: RefundRecord) => RefundRecord): this {
    const stored = this.mustGet(outRefundNo);
    stored.record = patch(stored.record);
    return this;
  }

  /** WeChat-side progress after apply-abnormal-refund, relative to the apply. */
  progressAfterApply(outRefundNo: string, steps: ProgressStep[]): this {
    this.plannedAfterApply.set(outRefundNo, steps);
    return this;
  }

  /** Moves a refund at WeChat right now (e.g. the portal handled it) and returns the matching notification. */
  settle(outRefundNo: string, status: 'SUCCESS' | 'CLOSED' | 'ABNORMAL', at = Date.now()): RefundNotification {
    const stored = this.mustGet(outRefundNo);
    stored.record = this.withStatus(stored.record, { afterMs: 0, status }, at);
    stored.progress = [];
    stored.afterApply = [];
    return this.notificationFor(outRefundNo);
  }

  /** The notification WeChat would send for the refund's current state (a fresh notification id each time). */
  notificationFor(outRefundNo: string, status?: 'SUCCESS' | 'CLOSED' | 'ABNORMAL', id?: string): RefundNotification {
    const { record } = this.mustGet(outRefundNo);
    const s = status ?? record.status;
    if (s !== 'SUCCESS' && s !== 'CLOSED' && s !== 'ABNORMAL') throw new Error(`no notification for status ${s}`);
    this.notificationCounter += 1;
    return {
      notificationId: id ?? `EV-fake-${this.notificationCounter}`,
      apiVersion: 'v3',
      mchid: FAKE_MCHID,
      outTradeNo: record.outTradeNo ?? 'unknown',
      transactionId: record.transactionId ?? '4200000000000000000000000000',
      outRefundNo: record.outRefundNo,
      refundId: record.refundId ?? '50000000000000000000000000',
      status: s,
      userReceivedAccount: record.userReceivedAccount,
      successTime: s === 'SUCCESS' ? (record.successTime ?? new Date().toISOString()) : undefined,
      amounts: record.amounts,
      receivedAt: new Date().toISOString(),
    };
  }

  // ----------------------------------------------------------------------------------------------- inspection

  /** The refund as the last gateway call saw it (inspection does not advance its progress). */
  refund(outRefundNo: string): RefundRecord | undefined {
    const stored = this.refunds.get(outRefundNo);
    return stored && { ...stored.record };
  }

  /** How many refunds exist at "WeChat": the number that matters for double refunds. */
  refundCount(): number {
    return this.refunds.size;
  }

  callsOf(method: Method): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  // ----------------------------------------------------------------------------------------------- RefundGateway

  async createRefund(input: CreateRefundInput): Promise<RefundRecord> {
    const at = this.now();
    this.calls.push({ method: 'createRefund', at, input: { ...input } });
    const step = this.scripts.createRefund.shift();
    if (step && !('acceptedButThrow' in step)) throw step;

    const existing = this.refunds.get(input.outRefundNo);
    if (existing) {
      if (
        existing.record.amounts.refundFen !== input.refundFen ||
        existing.record.amounts.totalFen !== input.totalFen
      ) {
        throw new NeedsOperator({
          code: 'REFUND_FEE_MISMATCH',
          message: 'same out_refund_no with different amounts',
          httpStatus: 403,
        });
      }
      if (step) throw step.acceptedButThrow;
      return this.current(existing, at);
    }
    this.refundCounter += 1;
    const record: RefundRecord = {
      outRefundNo: input.outRefundNo,
      outTradeNo: input.outTradeNo,
      transactionId: input.transactionId ?? '4200000000000000000000000000',
      refundId: `5030000000${String(this.refundCounter).padStart(16, '0')}`,
      status: this.options.createStatus ?? 'PROCESSING',
      channel: this.options.channel ?? 'ORIGINAL',
      userReceivedAccount: this.options.channel === 'BALANCE' ? '支付用户零钱' : '招商银行信用卡0403',
      amounts: {
        totalFen: input.totalFen,
        refundFen: input.refundFen,
        payerRefundFen: input.refundFen,
        payerTotalFen: input.totalFen,
        currency: 'CNY',
      },
      createTime: new Date(at).toISOString(),
      successTime: this.options.createStatus === 'SUCCESS' ? new Date(at).toISOString() : undefined,
      apiVersion: 'v3',
    };
    this.refunds.set(input.outRefundNo, {
      record,
      createdAtMs: at,
      progress: this.plannedProgress.get(input.outRefundNo) ?? this.options.defaultProgress ?? [],
      afterApply: [],
    });
    if (step) throw step.acceptedButThrow;
    return { ...record };
  }

  async queryRefund(input: QueryRefundInput): Promise<RefundRecord | null> {
    const at = this.now();
    this.calls.push({ method: 'queryRefund', at, input: { ...input } });
    const step = this.scripts.queryRefund.shift();
    if (step) throw 'acceptedButThrow' in step ? step.acceptedButThrow : step;
    const stored = this.refunds.get(input.outRefundNo);
    return stored ? this.current(stored, at) : null;
  }

  async queryOrder(input: QueryOrderInput): Promise<OrderRecord | null> {
    this.calls.push({ method: 'queryOrder', at: this.now(), input: { ...input } });
    const step = this.scripts.queryOrder.shift();
    if (step) throw 'acceptedButThrow' in step ? step.acceptedButThrow : step;
    const record = input.outTradeNo ? orderBook.get(input.outTradeNo) : undefined;
    return record ? { ...record } : null;
  }

  /** Bills are the simulator's (test/simulator, test/integration): the fake has none. */
  async downloadRefundBill(): Promise<never> {
    throw new Final({ code: 'NO_STATEMENT_EXIST', message: 'the fake gateway has no bills', httpStatus: 400 });
  }

  async applyAbnormalRefund(input: ApplyAbnormalRefundInput): Promise<RefundRecord> {
    const at = this.now();
    // Bank details are sensitive: the log keeps only that they were present.
    this.calls.push({
      method: 'applyAbnormalRefund',
      at,
      input: { ...input, bankAccount: input.bankAccount && '***', realName: input.realName && '***' },
    });
    const step = this.scripts.applyAbnormalRefund.shift();
    if (step) throw 'acceptedButThrow' in step ? step.acceptedButThrow : step;
    const stored = this.mustGet(input.outRefundNo);
    const current = this.current(stored, at);
    if (current.status !== 'ABNORMAL' || current.refundId !== input.refundId) {
      throw new Final({ code: 'INVALID_REQUEST', message: 'refund is not ABNORMAL', httpStatus: 400 });
    }
    stored.appliedAtMs = at;
    stored.progress = [];
    stored.afterApply = this.plannedAfterApply.get(input.outRefundNo) ??
      this.options.afterApply ?? [{ afterMs: DAY_MS, status: 'SUCCESS', channel: 'OTHER_BANKCARD' }];
    stored.record = this.withStatus(current, { afterMs: 0, status: 'PROCESSING', channel: 'OTHER_BANKCARD' }, at);
    return { ...stored.record };
  }

  // ----------------------------------------------------------------------------------------------- internals

  private mustGet(outRefundNo: string): StoredRefund {
    const stored = this.refunds.get(outRefundNo);
    if (!stored) throw new Error(`fake gateway: no refund ${outRefundNo}`);
    return stored;
  }

  /** Applies the time-based progress that is due by `at` and returns a copy. */
  private current(stored: StoredRefund, at: number): RefundRecord {
    for (const step of stored.progress) {
      if (at >= stored.createdAtMs + step.afterMs)
        stored.record = this.withStatus(stored.record, step, stored.createdAtMs + step.afterMs);
    }
    stored.progress = stored.progress.filter((step) => at < stored.createdAtMs + step.afterMs);
    if (stored.appliedAtMs !== undefined) {
      const base = stored.appliedAtMs;
      for (const step of stored.afterApply) {
        if (at >= base + step.afterMs) stored.record = this.withStatus(stored.record, step, base + step.afterMs);
      }
      stored.afterApply = stored.afterApply.filter((step) => at < base + step.afterMs);
    }
    return { ...stored.record };
  }

  private withStatus(record: RefundRecord, step: ProgressStep, atMs: number): RefundRecord {
    return {
      ...record,
      status: step.status,
      channel: step.channel ?? record.channel,
      userReceivedAccount: step.userReceivedAccount ?? record.userReceivedAccount,
      successTime: step.status === 'SUCCESS' ? new Date(atMs).toISOString() : record.successTime,
    };
  }
}
