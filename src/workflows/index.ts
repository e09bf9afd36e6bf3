/** The workflow bundle's entry point: every workflow the worker hosts. */
export { refundWorkflow } from './refund';
export { orderLedgerWorkflow } from './order-ledger';
export { eventDeliveryWorkflow } from './event-delivery';
export { reconciliationWorkflow } from './reconciliation';
