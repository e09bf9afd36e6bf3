/**
 * State of the simulated WeChat Pay: merchants, accounts (balances), paid orders, refunds, notifications.
 * Only lookups and bookkeeping live here; the rules that decide what may change are in refund-service.ts /
 * lifecycle.ts. The objects are mutated in place by those modules, which report every change with `touch…()`: with
 * `stateFile` configured, persistence.ts listens and writes the changed rows; otherwise the calls do nothing.
 */
import type { Account, SimMerchant, SimNotification, SimOrder, SimRefund } from './model';

const key = (owner: string, id: string) => `${owner}\u0000${id}`;

/** Told about every changed entity (persistence.ts). */
export interface StoreListener {
  order(order: SimOrder): void;
  refund(refund: SimRefund): void;
  notification(notification: SimNotification): void;
}

export class SimulatorStore {
  readonly merchants = new Map<string, SimMerchant>();
  /** Sub-merchant → its service provider. */
  readonly providerOf = new Map<string, string>();
  readonly accounts = new Map<string, Account>();
  /** (owner, out_trade_no) → order. */
  private readonly orders = new Map<string, SimOrder>();
  private readonly ordersByTransaction = new Map<string, SimOrder>();
  /** (owner, out_refund_no) → refund. */
  private readonly refunds = new Map<string, SimRefund>();
  private readonly refundsById = new Map<string, SimRefund>();
  /** In creation order; a notification's index is its stable key (DUPLICATE copies share the WeChat id). */
  readonly notifications: SimNotification[] = [];
  private readonly notificationIndex = new WeakMap<SimNotification, number>();
  private listener?: StoreListener;

  constructor(
    merchants: SimMerchant[],
    private readonly initialBalances: Record<string, number>,
  ) {
    for (const m of merchants) {
      this.merchants.set(m.mchid, m);
      for (const s of m.subMerchants) this.providerOf.set(s.subMchid, m.mchid);
    }
    this.resetBalances();
  }

  setListener(listener: StoreListener | undefined): void {
    this.listener = listener;
  }

  touchOrder(order: SimOrder): void {
    this.listener?.order(order);
  }

  touchRefund(refund: SimRefund): void {
    this.listener?.refund(refund);
  }

  touchNotification(notification: SimNotification): void {
    this.listener?.notification(notification);
  }

  addNotification(notification: SimNotification): void {
    this.notificationIndex.set(notification, this.notifications.push(notification) - 1);
    this.touchNotification(notification);
  }

  /** Position of a notification in `notifications` (its key in the state file). */
  indexOf(notification: SimNotification): number {
    const i = this.notificationIndex.get(notification);
    if (i === undefined) throw new Error(`notification ${notification.id} is not in the store`);
    return i;
  }

  /**
   * Replace orders, refunds, notifications and balances with stored ones (persistence.ts, at start). Nothing is
   * reported to the listener: the rows came from the file.
   */
  load(state: {
    accounts: Account[];
    orders: SimOrder[];
    refunds: SimRefund[];
    notifications: SimNotification[];
  }): void {
    const listener = this.listener;
    this.listener = undefined;
    try {
      this.reset();
      for (const a of state.accounts) this.accounts.set(a.owner, { owner: a.owner, balanceFen: a.balanceFen });
      for (const o of state.orders) this.addOrder(o);
      for (const r of state.refunds) this.addRefund(r);
      for (const n of state.notifications) this.addNotification(n);
    } finally {
      this.listener = listener;
    }
  }

  /** Forget orders, refunds and notifications; balances back to their configured values. */
  reset(): void {
    this.orders.clear();
    this.ordersByTransaction.clear();
    this.refunds.clear();
    this.refundsById.clear();
    this.notifications.length = 0;
    this.resetBalances();
  }

  private resetBalances(): void {
    this.accounts.clear();
    for (const [owner, balanceFen] of Object.entries(this.initialBalances))
      this.accounts.set(owner, { owner, balanceFen });
  }

  merchant(mchid: string): SimMerchant | undefined {
    return this.merchants.get(mchid);
  }

  /** The merchant whose keys sign for `owner` (itself, or its service provider). */
  merchantForOwner(owner: string): SimMerchant | undefined {
    return this.merchants.get(this.providerOf.get(owner) ?? owner);
  }

  account(owner: string): Account {
    let a = this.accounts.get(owner);
    if (!a) this.accounts.set(owner, (a = { owner, balanceFen: 0 }));
    return a;
  }

  addOrder(order: SimOrder): void {
    this.orders.set(key(order.owner, order.outTradeNo), order);
    this.ordersByTransaction.set(order.transactionId, order);
    this.touchOrder(order);
  }

  hasTransaction(transactionId: string): boolean {
    return this.ordersByTransaction.has(transactionId);
  }

  orderByOutTradeNo(owner: string, outTradeNo: string): SimOrder | undefined {
    return this.orders.get(key(owner, outTradeNo));
  }

  orderByTransactionId(transactionId: string): SimOrder | undefined {
    return this.ordersByTransaction.get(transactionId);
  }

  /** Any owner's order with this out_trade_no (to tell "not yours" from "does not exist", M11). */
  ordersWithOutTradeNo(outTradeNo: string): SimOrder[] {
    return [...this.orders.values()].filter((o) => o.outTradeNo === outTradeNo);
  }

  allOrders(): SimOrder[] {
    return [...this.orders.values()];
  }

  addRefund(refund: SimRefund): void {
    this.refunds.set(key(refund.owner, refund.outRefundNo), refund);
    this.refundsById.set(refund.refundId, refund);
    this.touchRefund(refund);
  }

  refund(owner: string, outRefundNo: string): SimRefund | undefined {
    return this.refunds.get(key(owner, outRefundNo));
  }

  refundById(refundId: string): SimRefund | undefined {
    return this.refundsById.get(refundId);
  }

  hasRefundId(refundId: string): boolean {
    return this.refundsById.has(refundId);
  }

  refundsOfOrder(order: SimOrder): SimRefund[] {
    return [...this.refunds.values()]
      .filter((r) => r.owner === order.owner && r.transactionId === order.transactionId)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  allRefunds(): SimRefund[] {
    return [...this.refunds.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Refunds with this number under any owner (admin lookups by number alone). */
  refundsWithOutRefundNo(outRefundNo: string): SimRefund[] {
    return [...this.refunds.values()].filter((r) => r.outRefundNo === outRefundNo);
  }
}
