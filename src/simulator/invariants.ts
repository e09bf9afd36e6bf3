/**
 * The money invariants a correct client (and simulator) must never break: per order, refunded ≤ paid and reserved
 * (non-closed) ≤ paid; each out_refund_no moved money at most once; no account below zero.
 */
import type { InvariantReport, OrderInvariant } from './admin-schemas';
import type { SimulatorStore } from './store';

export function invariantReport(store: SimulatorStore): InvariantReport {
  const orders: OrderInvariant[] = store.allOrders().map((order) => {
    const refunds = store.refundsOfOrder(order);
    const refundedFen = refunds.filter((r) => r.status === 'SUCCESS').reduce((s, r) => s + r.amount.refund, 0);
    const reservedFen = refunds.filter((r) => r.status !== 'CLOSED').reduce((s, r) => s + r.amount.refund, 0);
    const problems: string[] = [];
    if (refundedFen > order.totalFen) problems.push(`refunded ${refundedFen} exceeds paid ${order.totalFen}`);
    if (reservedFen > order.totalFen) problems.push(`reserved ${reservedFen} exceeds paid ${order.totalFen}`);
    return {
      owner: order.owner,
      outTradeNo: order.outTradeNo,
      totalFen: order.totalFen,
      refundedFen,
      reservedFen,
      refunds: refunds.length,
      ok: problems.length === 0,
      problems,
    };
  });
  const duplicatePayouts = store
    .allRefunds()
    .filter((r) => r.payouts > 1)
    .map((r) => ({ owner: r.owner, outRefundNo: r.outRefundNo, payouts: r.payouts }));
  const negativeBalances = [...store.accounts.values()]
    .filter((a) => a.balanceFen < 0)
    .map((a) => ({ owner: a.owner, balanceFen: a.balanceFen }));
  return {
    ok: orders.every((o) => o.ok) && duplicatePayouts.length === 0 && negativeBalances.length === 0,
    orders,
    duplicatePayouts,
    negativeBalances,
  };
}
