/**
 * In-memory state of the simulated WeChat Pay: merchants, accounts (balances), paid orders, refunds, notifications.
 * Only lookups and bookkeeping live here; the rules that decide what may change are in rules.ts / refund-service.ts.
 * State is not persisted: a restarted simulator starts empty (keys are kept, see keys.ts).
 */
import type { Account, SimMerchant, SimNotification, SimOrder, SimRefund } from './model';

const key = (owner: string, id: string) => `${owner}\u0000${id}`;

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
  readonly notifications: SimNotification[] = [];

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
