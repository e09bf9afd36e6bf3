/**
 * The project's custom search attributes, defined once (they are registered on the server by temporal-dev.yml /
 * the deployment). Operators find refunds in the Web UI with e.g. `RefundStatus = "MANUAL_REVIEW"`.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const RefundStatusKey = defineSearchAttributeKey('RefundStatus', SearchAttributeType.KEYWORD);
export const OutTradeNoKey = defineSearchAttributeKey('OutTradeNo', SearchAttributeType.KEYWORD);
export const OutRefundNoKey = defineSearchAttributeKey('OutRefundNo', SearchAttributeType.KEYWORD);
export const RefundChannelKey = defineSearchAttributeKey('RefundChannel', SearchAttributeType.KEYWORD);
export const RefundAmountFenKey = defineSearchAttributeKey('RefundAmountFen', SearchAttributeType.INT);

export const SEARCH_ATTRIBUTE_KEYS = [
  RefundStatusKey,
  OutTradeNoKey,
  OutRefundNoKey,
  RefundChannelKey,
  RefundAmountFenKey,
] as const;
