/**
 * Refunds made in the merchant portal (商户平台) instead of through the API (admin API, simulator-only): WeChat
 * accepts and processes them like any other refund (same rules, lifecycle, notification to the portal notify URL in
 * v2 XML when one is set), they appear in the bill of the day (§12.3), and the merchant's engine never heard of
 * them: exactly what a reconciliation must find (§12.4 "rows the engine does not know").
 */
import { z } from 'zod';
import { BizError } from './biz-errors';
import type { SimulatorCore } from './core';
import type { SimRefund } from './model';
import { outRefundNo, outTradeNo } from './wire/field-rules';

const digits = z.string().regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' });

export const portalRefundSchema = z.strictObject({
  /** The merchant that logs into the portal: a direct merchant, or the service provider of `subMchid`. */
  mchid: digits,
  subMchid: digits.optional(),
  outTradeNo,
  outRefundNo,
  refundFen: z.int({ error: 'must be a positive integer number of fen' }).positive({
    error: 'must be a positive integer number of fen',
  }),
  reason: z.string().max(80, { error: 'must be at most 80 characters' }).optional(),
});
export type PortalRefundInput = z.input<typeof portalRefundSchema>;

export class PortalRefundError extends Error {
  override readonly name = 'PortalRefundError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Business refusals as the admin API's statuses: unknown things 404, everything else a conflict with the state. */
const STATUS_OF: Partial<Record<BizError['kind'], number>> = {
  MCH_NOT_EXISTS: 404,
  ORDER_NOT_FOUND: 404,
  PARAM: 400,
  SUB_MCHID_REQUIRED: 400,
};

export function createPortalRefund(core: SimulatorCore, input: z.output<typeof portalRefundSchema>): SimRefund {
  const caller = core.store.merchant(input.mchid);
  if (!caller) throw new PortalRefundError(404, `mchid: no merchant ${input.mchid}`);
  const owner = input.subMchid ?? input.mchid;
  if (core.store.refund(owner, input.outRefundNo)) {
    throw new PortalRefundError(409, `outRefundNo: ${owner} already has a refund ${input.outRefundNo}`);
  }
  const order = core.store.orderByOutTradeNo(owner, input.outTradeNo);
  try {
    const { refund, release } = core.service.create({
      api: 'v3',
      endpoint: 'portal',
      caller,
      subMchid: input.subMchid,
      outTradeNo: input.outTradeNo,
      outRefundNo: input.outRefundNo,
      refundFen: input.refundFen,
      // The portal fills in the order's own total.
      totalFen: order?.totalFen ?? input.refundFen,
      reason: input.reason,
    });
    release();
    return refund;
  } catch (e) {
    if (e instanceof BizError) throw new PortalRefundError(STATUS_OF[e.kind] ?? 409, `${e.kind}: ${e.message}`);
    throw e;
  }
}
