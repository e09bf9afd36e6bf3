/**
 * Signal, query and update definitions of the refund and order-ledger workflows. Shared by the workflows, the
 * webhook (refundNotified), the order service's starter (requestRefund) and the operator CLI (status, retryNow,
 * resolveAbnormal, ledger queries). Names are part of the wire contract: never rename. The data they carry is typed in
 * ./types.ts: import those types from there.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RefundNotification } from '../wechatpay/gateway';
import type { CancelRefundRequest, RefundRequest, ResolveAbnormalRequest, RetryNowRequest } from '../domain/schemas';
import type {
  CancelQueuedRefund,
  EventDeliveryView,
  LedgerEntry,
  LedgerView,
  RefundReceipt,
  RefundStatusChange,
  RefundStatusView,
  RetryNowResult,
} from './types';

// Refund workflow (`refund-<out_refund_no>`)

/** From the webhook, after verifying and decrypting WeChat's notification. */
export const refundNotifiedSignal = defineSignal<[RefundNotification]>('refundNotified');
export const statusQuery = defineQuery<RefundStatusView>('status');
/** Operator: pay an ABNORMAL refund to another card (or back to the merchant). Rejected at once when invalid. */
export const resolveAbnormalUpdate = defineUpdate<RefundStatusView, [ResolveAbnormalRequest]>('resolveAbnormal');
/** Operator: resend the create now (after a top-up, a fix) or query now. */
export const retryNowUpdate = defineUpdate<RetryNowResult, [RetryNowRequest]>('retryNow');
/** From its ledger: this held refund may send its create now (one submission per order at a time, M9). */
export const submissionSlotGrantedSignal = defineSignal('submissionSlotGranted');
/** From its ledger: this held refund is withdrawn before anything was sent to WeChat; it ends CANCELLED. */
export const cancelQueuedRefundSignal = defineSignal<[CancelQueuedRefund]>('cancelQueuedRefund');
/** From its ledger: another refund of the order waits for the submission slot; report when this create is settled. */
export const reportSubmissionSignal = defineSignal('reportSubmission');
/**
 * From its ledger, before it continues-as-new: the run that started this refund will not hear its completion, so
 * report the end by signal (to the ledger's workflow ID, i.e. its current run).
 */
export const ledgerContinuedSignal = defineSignal('ledgerContinued');

// Event delivery workflow (`<refund workflow ID>:event-<n>`)

export const eventDeliveryQuery = defineQuery<EventDeliveryView>('eventDelivery');

// Order ledger workflow (`refund-order-<out_trade_no>`)

/** From the order service, usually through update-with-start. Rejected at once when it breaks a WeChat rule. */
export const requestRefundUpdate = defineUpdate<RefundReceipt, [RefundRequest]>('requestRefund');
/** Child refund workflows report status changes to their ledger (every change before LEAN_REFUND, see patches.ts). */
export const refundStatusChangedSignal = defineSignal<[RefundStatusChange]>('refundStatusChanged');
export const ledgerQuery = defineQuery<LedgerView>('ledger');
export const refundableAmountQuery = defineQuery<number>('refundableAmount');
export const refundCountQuery = defineQuery<number>('refundCount');
export const refundListQuery = defineQuery<LedgerEntry[]>('refundList');
/**
 * From the order service: withdraw a refund still waiting for its turn in the queue (nothing sent to WeChat yet); its
 * amount is released at once. Rejected, saying why, once its create may have gone out. The same cancel twice is
 * answered the same.
 */
export const cancelRefundUpdate = defineUpdate<LedgerEntry, [CancelRefundRequest]>('cancelRefund');
