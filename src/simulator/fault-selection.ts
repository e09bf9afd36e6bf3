/**
 * Fault lookups shared by the v3 and v2 routes: the order a request is about (faults are configured by out_trade_no
 * even when the request names the order by transaction_id), and F6, query lag.
 */
import type { SimulatorCore } from './core';
import type { EndpointId } from './fault-schemas';
import type { SimMerchant, SimRefund } from './model';
import { SECOND_MS } from './time-format';

/** The out_trade_no of the order with this transaction_id, for fault selection (undefined when unknown). */
export function outTradeNoOf(core: SimulatorCore, transactionId: string | undefined): string | undefined {
  return transactionId === undefined ? undefined : core.store.orderByTransactionId(transactionId)?.outTradeNo;
}

/** F6: a refund accepted less than `lagSeconds` ago is not yet visible to queries. */
export function hiddenByLag(
  core: SimulatorCore,
  endpoint: EndpointId,
  caller: SimMerchant,
  refund: SimRefund,
): boolean {
  const ageSeconds = (core.clock.now() - refund.createdAt) / SECOND_MS;
  return (
    core.faults.hidesRefund(endpoint, { mchid: caller.mchid, outRefundNo: refund.outRefundNo }, ageSeconds) !==
    undefined
  );
}
