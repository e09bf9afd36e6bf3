/**
 * WeChat's refund business pipeline (reference §8.3 steps 6–11), shared by the v3 and v2 routes: they parse and
 * authenticate, this decides. Refusals are BizErrors; the routes translate them into v3 or v2 wire errors.
 *
 * Order of checks: partner binding → order lookup (owned, paid) → idempotency on out_refund_no (BEFORE any business
 * rule: a resent identical request always gets the same refund back, whatever happened since) → M3–M6 → M9 →
 * account checks → accept.
 */
import { computeRefundAmounts } from './amounts';
import { BizError } from './biz-errors';
import type { VirtualClock } from './clock';
import type { RulesConfig } from './config';
import type { IdFactory } from './ids';
import type { LifecycleEngine } from './lifecycle';
import type { RefundAmounts, SimMerchant, SimOrder, SimRefund } from './model';
import { USER_BALANCE_ACCOUNT, cardAccountText, isBalancePayment } from './receiving-account';
import type { SimulatorStore } from './store';
import { DAY, SECOND_MS } from './time-format';

export interface CreateRefundCommand {
  api: 'v3' | 'v2';
  endpoint: SimRefund['endpoint'];
  caller: SimMerchant;
  subMchid?: string;
  transactionId?: string;
  outTradeNo?: string;
  outRefundNo: string;
  refundFen: number;
  totalFen: number;
  reason?: string;
  notifyUrl?: string;
  fundsAccount?: string;
  from?: RefundAmounts['from'];
  /** v3 goods_detail or v2 detail.goods_detail, as sent (ids are checked against the order's goods). */
  goods?: Array<{ goodsId: string; refundAmount: number; refundQuantity: number; price: number }>;
}

export interface CreateRefundResult {
  refund: SimRefund;
  /** False when an identical earlier request already created it (idempotent replay). */
  created: boolean;
  /**
   * Call once the reply is on its way: ends the "in flight" window of this order (M9 concurrency) and tells the
   * `onCreateAnswered` observers about a new refund.
   */
  release: () => void;
}

/** An in-process observer of new refunds (see `RefundService.onCreateAnswered`). */
export type CreateAnsweredListener = (refund: Readonly<SimRefund>) => void;

const ONE_MONTH_MS = 30 * DAY;

export class RefundService {
  /** Orders with a create being processed right now (M9: concurrent creates on one order are refused). */
  private readonly inFlightOrders = new Set<string>();
  /** Observers, not state: kept across reset(). */
  private readonly createAnsweredListeners = new Set<CreateAnsweredListener>();

  constructor(
    private readonly store: SimulatorStore,
    private readonly clock: VirtualClock,
    private readonly ids: IdFactory,
    private readonly lifecycle: LifecycleEngine,
    private readonly rules: RulesConfig,
  ) {}

  reset(): void {
    this.inFlightOrders.clear();
  }

  /**
   * Tells `listener` about every refund this simulator accepts, once the create that accepted it has been answered
   * (or its answer lost to a fault): an idempotent replay of the create is not a new refund. In process only
   * (benchmarks learn "WeChat has it" from here instead of asking the system they measure); nothing on the wire.
   * A listener that throws is ignored, so an observer never changes an answer. Returns the unsubscribe function.
   */
  onCreateAnswered(listener: CreateAnsweredListener): () => void {
    this.createAnsweredListeners.add(listener);
    return () => void this.createAnsweredListeners.delete(listener);
  }

  private announceCreateAnswered(refund: SimRefund): void {
    for (const listener of this.createAnsweredListeners) {
      try {
        listener(refund);
      } catch {
        // An observer's failure is its own business (see onCreateAnswered).
      }
    }
  }

  /** §8.3 step 6: who owns the order/refund, after checking the partner binding and refund permission. */
  resolveOwner(caller: SimMerchant, subMchid: string | undefined, location: 'body' | 'query' = 'body'): string {
    if (subMchid === undefined) {
      if (caller.mode === 'partner') {
        throw new BizError('SUB_MCHID_REQUIRED', 'sub_mchid is required for a service provider', {
          field: '/sub_mchid',
          location,
        });
      }
      if (!caller.refundPermission) throw new BizError('NO_AUTH', `merchant ${caller.mchid} has no refund permission`);
      return caller.mchid;
    }
    const provider = this.store.providerOf.get(subMchid);
    if (provider === undefined) throw new BizError('MCH_NOT_EXISTS', `sub_mchid ${subMchid} does not exist`);
    if (provider !== caller.mchid) {
      throw new BizError('NO_AUTH', `${caller.mchid} is not the service provider of sub-merchant ${subMchid}`);
    }
    if (!caller.refundPermission) throw new BizError('NO_AUTH', `merchant ${caller.mchid} has no refund permission`);
    return subMchid;
  }

  /** §8.3 step 7 (M10, M11, §8.7 both ids). v2: transaction_id wins when both are sent (§5.3). */
  findOrder(api: 'v3' | 'v2', owner: string, transactionId?: string, outTradeNo?: string): SimOrder {
    let order: SimOrder | undefined;
    if (transactionId !== undefined) {
      order = this.store.orderByTransactionId(transactionId);
      if (order && order.owner !== owner) {
        throw new BizError('MERCHANT_MISMATCH', 'the payment was made to another merchant number (M11)');
      }
      if (!order) throw new BizError('ORDER_NOT_FOUND', `no paid order with transaction_id ${transactionId}`);
      if (api === 'v3' && outTradeNo !== undefined && order.outTradeNo !== outTradeNo) {
        throw new BizError('IDS_DISAGREE', 'transaction_id and out_trade_no name different orders');
      }
    } else if (outTradeNo !== undefined) {
      order = this.store.orderByOutTradeNo(owner, outTradeNo);
      if (!order) {
        if (this.store.ordersWithOutTradeNo(outTradeNo).length > 0) {
          throw new BizError('MERCHANT_MISMATCH', 'the payment was made to another merchant number (M11)');
        }
        throw new BizError('ORDER_NOT_FOUND', `no paid order with out_trade_no ${outTradeNo}`);
      }
    } else {
      throw new BizError('PARAM', 'one of transaction_id or out_trade_no is required', {
        field: '/out_trade_no',
        location: 'body',
      });
    }
    if (order.state !== 'SUCCESS') throw new BizError('ORDER_NOT_PAID', `order ${order.outTradeNo} is not paid`);
    return order;
  }

  create(cmd: CreateRefundCommand): CreateRefundResult {
    const owner = this.resolveOwner(cmd.caller, cmd.subMchid);
    const order = this.findOrder(cmd.api, owner, cmd.transactionId, cmd.outTradeNo);
    const now = this.clock.now();
    const fingerprint = fingerprintOf(cmd);

    // Idempotency (M8) before any business rule.
    const existing = this.store.refund(owner, cmd.outRefundNo);
    if (existing) {
      if (existing.transactionId !== order.transactionId) {
        throw new BizError('OUT_REFUND_NO_OTHER_ORDER', `out_refund_no ${cmd.outRefundNo} belongs to another order`);
      }
      if (existing.fingerprint !== fingerprint) {
        throw new BizError(
          'FEE_MISMATCH',
          `out_refund_no ${cmd.outRefundNo} was requested with different amounts ` +
            `(first: refund ${existing.amount.refund} of ${existing.amount.total})`,
        );
      }
      return { refund: existing, created: false, release: () => undefined };
    }

    // M3
    if (cmd.totalFen !== order.totalFen) {
      throw new BizError('TOTAL_MISMATCH', `amount.total ${cmd.totalFen} is not the order total ${order.totalFen}`);
    }
    // M4 (single refund)
    if (cmd.refundFen > order.totalFen) {
      throw new BizError('REFUND_EXCEEDS_TOTAL', `refund ${cmd.refundFen} exceeds the order total ${order.totalFen}`);
    }
    // M5
    if (now > order.paidAt + this.rules.refundWindowDays * DAY) {
      throw new BizError('TRADE_OVERDUE', `paid more than ${this.rules.refundWindowDays} days ago`);
    }
    const ofOrder = this.store.refundsOfOrder(order);
    // M6: every accepted refund counts, closed ones included (assumption).
    if (ofOrder.length >= this.rules.maxRefundsPerOrder) {
      throw new BizError(
        'TOO_MANY_REFUNDS',
        `order already has ${ofOrder.length} refunds (at most ${this.rules.maxRefundsPerOrder})`,
      );
    }
    // M4 (sum of non-closed refunds)
    const counting = ofOrder.filter((r) => r.status !== 'CLOSED');
    const reserved = counting.reduce((s, r) => s + r.amount.refund, 0);
    if (reserved + cmd.refundFen > order.totalFen) {
      throw new BizError(
        'REFUND_EXCEEDS_REMAINING',
        reserved >= order.totalFen
          ? 'order is already fully refunded'
          : `refundable amount is ${order.totalFen - reserved}, requested ${cmd.refundFen}`,
      );
    }
    this.checkGoods(order, cmd);
    // M9: one create per order at a time, and at least sameOrderSpacingSeconds apart.
    const orderKey = `${order.owner}/${order.transactionId}`;
    if (this.inFlightOrders.has(orderKey)) {
      throw new BizError('CONCURRENT_REFUND', 'another refund of this order is being processed; retry later');
    }
    const last = ofOrder[ofOrder.length - 1];
    if (
      last &&
      this.rules.sameOrderSpacingSeconds > 0 &&
      now - last.createdAt < this.rules.sameOrderSpacingSeconds * SECOND_MS
    ) {
      throw new BizError(
        'TOO_SOON',
        `the previous refund of this order was ${Math.floor((now - last.createdAt) / SECOND_MS)} s ago ` +
          `(at least ${this.rules.sameOrderSpacingSeconds} s apart)`,
      );
    }
    // §8.3 step 10
    if (order.payer.userAccount === 'CLOSED') {
      throw new BizError('USER_ACCOUNT_ABNORMAL', "the payer's account is closed; refund offline");
    }
    const merchant = this.store.merchantForOwner(owner) as SimMerchant;
    const amounts = computeRefundAmounts(order, counting, cmd.refundFen, merchant.feeRateBps, cmd.from);
    const account = this.store.account(owner);
    const short = account.balanceFen < amounts.merchantDebitFen;
    if (short && merchant.insufficientFunds === 'reject') {
      throw new BizError('NOT_ENOUGH', `merchant balance ${account.balanceFen} is below ${amounts.merchantDebitFen}`);
    }

    // §8.3 step 11: accept.
    if (!short) account.balanceFen -= amounts.merchantDebitFen;
    const refund: SimRefund = {
      refundId: this.uniqueRefundId(now),
      outRefundNo: cmd.outRefundNo,
      mchid: cmd.caller.mchid,
      subMchid: cmd.subMchid,
      owner,
      outTradeNo: order.outTradeNo,
      transactionId: order.transactionId,
      apiVersion: cmd.api,
      endpoint: cmd.endpoint,
      status: 'PROCESSING',
      channel: 'ORIGINAL',
      userReceivedAccount: isBalancePayment(order.payer.bankType)
        ? USER_BALANCE_ACCOUNT
        : cardAccountText(order.payer.bankType, order.payer.cardLast4),
      fundsAccountRequested: cmd.fundsAccount,
      fundsAccount:
        cmd.api === 'v3' ? (cmd.fundsAccount ?? 'AVAILABLE') : (cmd.fundsAccount ?? 'REFUND_SOURCE_UNSETTLED_FUNDS'),
      amount: amounts.amount,
      coupons: amounts.coupons,
      reason: cmd.reason,
      notifyUrl: cmd.notifyUrl,
      goodsDetail: cmd.goods,
      fingerprint,
      createdAt: now,
      history: [
        {
          status: 'PROCESSING',
          at: now,
          note: short
            ? `accepted via ${cmd.endpoint}; merchant funds short, WeChat will retry`
            : `accepted via ${cmd.endpoint}`,
        },
      ],
      debitedFen: short ? 0 : amounts.merchantDebitFen,
      awaitingFundsSince: short ? now : undefined,
      payouts: 0,
    };
    this.store.addRefund(refund);
    this.inFlightOrders.add(orderKey);
    this.lifecycle.onAccepted(refund, order);
    let released = false;
    const release = () => {
      this.inFlightOrders.delete(orderKey);
      if (released) return;
      released = true;
      this.announceCreateAnswered(refund);
    };
    return { refund, created: true, release };
  }

  /** v3 query (and v2 query by out_refund_no). Undefined when no refund was accepted under this number. */
  find(owner: string, outRefundNo: string): SimRefund | undefined {
    return this.store.refund(owner, outRefundNo);
  }

  /**
   * Order query (§11): whose orders the caller may see. Direct: its own. Partner: the named sub-merchant's, once the
   * binding is checked (MCH_NOT_EXISTS / NO_AUTH like the refund routes). Refund permission plays no part here.
   */
  resolveQueryOwner(caller: SimMerchant, subMchid: string | undefined): string {
    if (subMchid === undefined) return caller.mchid;
    const provider = this.store.providerOf.get(subMchid);
    if (provider === undefined) throw new BizError('MCH_NOT_EXISTS', `sub_mchid ${subMchid} does not exist`);
    if (provider !== caller.mchid) {
      throw new BizError('NO_AUTH', `${caller.mchid} is not the service provider of sub-merchant ${subMchid}`);
    }
    return subMchid;
  }

  /**
   * Order query (§11): the order of `owner` named by transaction_id (wins when both are given, as in v2) or
   * out_trade_no, paid or not. An unpaid order has no transaction_id yet, so it is found only by out_trade_no. Another
   * merchant's order is as unknown as a missing one.
   */
  findTrade(owner: string, ids: { transactionId?: string; outTradeNo?: string }): SimOrder {
    const order =
      ids.transactionId !== undefined
        ? this.store.orderByTransactionId(ids.transactionId)
        : ids.outTradeNo !== undefined
          ? this.store.orderByOutTradeNo(owner, ids.outTradeNo)
          : undefined;
    const visible = order && order.owner === owner && (ids.transactionId === undefined || order.state !== 'NOTPAY');
    if (!order || !visible) {
      const name =
        ids.transactionId !== undefined ? `transaction_id ${ids.transactionId}` : `out_trade_no ${ids.outTradeNo}`;
      throw new BizError('TRADE_NOT_EXIST', `订单不存在: no order with ${name} for merchant ${owner}`);
    }
    return order;
  }

  /** trade_state of an order (§11.1): NOTPAY, SUCCESS, or REFUND once any refund was accepted for it. */
  tradeState(order: SimOrder): 'NOTPAY' | 'SUCCESS' | 'REFUND' {
    if (order.state === 'NOTPAY') return 'NOTPAY';
    return this.store.refundsOfOrder(order).length > 0 ? 'REFUND' : 'SUCCESS';
  }

  /** Orders older than a month have their own create budget (§3.10). */
  isOldOrder(order: SimOrder): boolean {
    return this.clock.now() - order.paidAt > ONE_MONTH_MS;
  }

  /** apply-abnormal-refund (§3.8). Re-sending an accepted application returns the refund unchanged (assumption). */
  applyAbnormal(
    caller: SimMerchant,
    subMchid: string | undefined,
    refundId: string,
    outRefundNo: string,
    handling: NonNullable<SimRefund['abnormalHandling']>,
  ): SimRefund {
    const owner = this.resolveOwner(caller, subMchid);
    const refund = this.store.refundById(refundId);
    if (!refund || refund.owner !== owner)
      throw new BizError('REFUND_NOT_FOUND', `no refund with refund_id ${refundId}`);
    if (refund.outRefundNo !== outRefundNo) {
      throw new BizError(
        'OUT_REFUND_NO_MISMATCH',
        `out_refund_no ${outRefundNo} does not belong to refund ${refundId}`,
      );
    }
    if (refund.status !== 'ABNORMAL') {
      if (refund.abnormalHandling && refund.abnormalHandling.type === handling.type) return refund;
      throw new BizError('NOT_ABNORMAL', `refund ${refundId} is ${refund.status}, not ABNORMAL`);
    }
    this.lifecycle.resolveAbnormal(refund, handling, 'apply-abnormal-refund');
    return refund;
  }

  private checkGoods(order: SimOrder, cmd: CreateRefundCommand): void {
    if (!cmd.goods) return;
    for (const g of cmd.goods) {
      if (!order.goods.some((o) => o.goodsId === g.goodsId)) {
        throw new BizError('GOODS_INVALID', `goods ${g.goodsId} is not an item of order ${order.outTradeNo}`);
      }
    }
    const sum = cmd.goods.reduce((s, g) => s + g.refundAmount, 0);
    if (sum > cmd.refundFen + order.coupons.reduce((s, c) => s + c.amountFen, 0)) {
      throw new BizError('GOODS_INVALID', `goods refund amounts (${sum}) exceed the refund`);
    }
  }

  private uniqueRefundId(now: number): string {
    let id = this.ids.refundId(now);
    while (this.store.hasRefundId(id)) id = this.ids.refundId(now);
    return id;
  }
}

function fingerprintOf(cmd: CreateRefundCommand): string {
  return JSON.stringify({
    total: cmd.totalFen,
    refund: cmd.refundFen,
    from: cmd.from ?? null,
    funds: cmd.fundsAccount ?? null,
    goods: cmd.goods ?? null,
  });
}
