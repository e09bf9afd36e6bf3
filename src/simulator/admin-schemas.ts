/**
 * Request bodies of the admin API (/__admin/…), validated with zod on the server and typed for the admin client.
 * The admin API is the simulator's own: WeChat has nothing like it, and no product code outside tests and the demo
 * may depend on it.
 */
import { z } from 'zod';
import {
  lifecycleConfigSchema,
  notificationConfigSchema,
  rateLimitConfigSchema,
  rulesConfigSchema,
  signingModeSchema,
} from './config';
import {
  endpointFaultSchema,
  forcedOutcomeSchema,
  notificationFaultSchema,
  type EndpointFault,
  type NotificationFault,
} from './fault-schemas';
import type { SimMerchant, SimNotification, SimOrder, SimRefund } from './model';

export * from './order-schemas';
const mchid = z.string().regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' });

export const patchMerchantSchema = z.strictObject({
  balanceFen: z.int().nonnegative().optional(),
  insufficientFunds: z.enum(['reject', 'accept']).optional(),
  refundPermission: z.boolean().optional(),
  portalNotifyUrl: z.url().nullable().optional(),
  /** Sign this merchant's replies and notifications with a platform certificate, a public key, or both (§3.4). */
  signWith: signingModeSchema.optional(),
});
export type PatchMerchantInput = z.input<typeof patchMerchantSchema>;

/**
 * POST /__admin/wechat/platform-certificates/rotate: WeChat issues a new platform certificate, which signs from now
 * on; the old ones stay listed by GET /v3/certificates unless `retireOld`.
 */
export const rotatePlatformCertificateSchema = z.strictObject({
  retireOld: z.boolean({ error: 'must be true or false' }).optional(),
});
export type RotatePlatformCertificateInput = z.input<typeof rotatePlatformCertificateSchema>;

export const advanceClockSchema = z
  .strictObject({
    seconds: z.number().nonnegative().optional(),
    minutes: z.number().nonnegative().optional(),
    hours: z.number().nonnegative().optional(),
    days: z.number().nonnegative().optional(),
    /** Absolute simulated time (RFC 3339), must not be in the simulated past. */
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((a) => Object.values(a).filter((v) => v !== undefined).length >= 1, {
    error: 'give seconds, minutes, hours, days or to',
  })
  .refine((a) => a.to === undefined || Object.values(a).filter((v) => v !== undefined).length === 1, {
    error: '`to` cannot be combined with a duration',
  });
export type AdvanceClockInput = z.input<typeof advanceClockSchema>;

/**
 * PATCH /__admin/settings: change rules, budgets, lifecycle delays or notification settings at run time (validated
 * with the config's own schemas; omitted keys keep their value).
 */
export const patchSettingsSchema = z.strictObject({
  rules: rulesConfigSchema.partial().optional(),
  rateLimits: rateLimitConfigSchema.partial().optional(),
  lifecycle: lifecycleConfigSchema.partial().optional(),
  notifications: notificationConfigSchema.partial().optional(),
});
export type PatchSettingsInput = z.input<typeof patchSettingsSchema>;

export const setTimeScaleSchema = z.strictObject({ timeScale: z.number().nonnegative() });

export const replaceFaultsSchema = z.strictObject({
  faults: z.array(endpointFaultSchema).default([]),
  notificationFaults: z.array(notificationFaultSchema).default([]),
});
export type ReplaceFaultsInput = z.input<typeof replaceFaultsSchema>;

export { endpointFaultSchema, notificationFaultSchema, forcedOutcomeSchema };

/** POST /__admin/refunds/:outRefundNo/portal-resolve: an operator handles an ABNORMAL refund in the merchant portal. */
export const portalResolveSchema = z.strictObject({
  owner: mchid.optional(),
  type: z.enum(['USER_BANK_CARD', 'MERCHANT_BANK_CARD']).default('MERCHANT_BANK_CARD'),
});

/** POST /__admin/portal-refunds: a refund made in the merchant portal (portal-refunds.ts). */
export { portalRefundSchema, type PortalRefundInput } from './portal-refunds';
/** POST /__admin/bill-faults: a day's bill missing, or its v3 download corrupted (bills/bill-faults.ts). */
export { billFaultSchema, type BillFaultInput, type BillFault } from './bills/bill-faults';
export type { BillSnapshotView } from './bills/bill-book';

// ---------------------------------------------------------------------------------------------------------------
// Replies (typed for the admin client).
// ---------------------------------------------------------------------------------------------------------------

export interface ClockView {
  now: string;
  nowMs: number;
  timeScale: number;
  pendingTimers: number;
  nextTimerAt?: string;
}

export interface CallCounts {
  [endpoint: string]: { total: number; byStatus: Record<string, number>; byCode: Record<string, number> };
}

export interface OrderInvariant {
  owner: string;
  outTradeNo: string;
  totalFen: number;
  /** Sum of SUCCESS refunds. */
  refundedFen: number;
  /** Sum of non-closed refunds (what WeChat reserves). */
  reservedFen: number;
  refunds: number;
  ok: boolean;
  problems: string[];
}

export interface InvariantReport {
  ok: boolean;
  orders: OrderInvariant[];
  /** Refund numbers that moved money more than once (must be empty). */
  duplicatePayouts: Array<{ owner: string; outRefundNo: string; payouts: number }>;
  /** Accounts with a negative balance (must be empty). */
  negativeBalances: Array<{ owner: string; balanceFen: number }>;
}

export type { PlatformCertificateRotation } from './key-rotation';

export type MerchantView = Omit<SimMerchant, 'privateKeyPem'> & {
  balanceFen: number;
  subMerchantBalances: Record<string, number>;
};

export type { SimOrder, SimRefund, SimNotification, EndpointFault, NotificationFault };
