/**
 * Request bodies of the admin API (/__admin/…), validated with zod on the server and typed for the admin client.
 * The admin API is the simulator's own: WeChat has nothing like it, and no product code outside tests and the demo
 * may depend on it.
 */
import { z } from 'zod';
import { outTradeNoSchema, transactionIdSchema } from '../wechatpay/schema-rules';
import {
  endpointFaultSchema,
  forcedOutcomeSchema,
  notificationFaultSchema,
  type EndpointFault,
  type NotificationFault,
} from './fault-schemas';
import type { SimMerchant, SimNotification, SimOrder, SimRefund } from './model';

const fenPositive = z.int({ error: 'must be an integer number of fen' }).positive({ error: 'must be > 0 fen' });
const mchid = z.string().regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' });

export const payerProfileSchema = z.strictObject({
  /** `OTHERS` = paid from the WeChat balance; a bank card otherwise, e.g. CMB_DEBIT, ICBC_CREDIT. */
  bankType: z
    .string()
    .regex(/^[A-Z0-9_]{2,32}$/, { error: 'must be a WeChat bank_type such as OTHERS or CMB_DEBIT' })
    .default('OTHERS'),
  cardLast4: z
    .string()
    .regex(/^\d{4}$/, { error: 'must be 4 digits' })
    .optional(),
  cardState: z.enum(['VALID', 'CANCELLED', 'FROZEN']).default('VALID'),
  balanceAccount: z.enum(['OPEN', 'CLOSED']).default('OPEN'),
  userAccount: z.enum(['NORMAL', 'CLOSED']).default('NORMAL'),
});
export type PayerProfileInput = z.input<typeof payerProfileSchema>;

export const seedOrderSchema = z
  .strictObject({
    /** The direct merchant, or the service provider in partner mode. */
    mchid,
    subMchid: mchid.optional(),
    outTradeNo: outTradeNoSchema,
    /** Generated (seeded, 4200…) when absent. */
    transactionId: transactionIdSchema.optional(),
    totalFen: fenPositive,
    /** RFC 3339; default: the simulated now. */
    paidAt: z.iso.datetime({ offset: true }).optional(),
    state: z.enum(['SUCCESS', 'NOTPAY']).default('SUCCESS'),
    payer: payerProfileSchema.prefault({}),
    coupons: z
      .array(
        z.strictObject({
          couponId: z.string().min(1).max(32).optional(),
          type: z.enum(['COUPON', 'DISCOUNT']).default('COUPON'),
          scope: z.enum(['GLOBAL', 'SINGLE']).default('GLOBAL'),
          amountFen: fenPositive,
        }),
      )
      .default([]),
    /** Items of the order (refundv2 checks goods_id against them). */
    goods: z
      .array(z.strictObject({ goodsId: z.string().min(1).max(32), priceFen: fenPositive, quantity: z.int().positive() }))
      .default([]),
  })
  .refine((o) => o.coupons.reduce((s, c) => s + c.amountFen, 0) < o.totalFen, {
    error: 'coupons must add up to less than totalFen (the payer pays the rest)',
    path: ['coupons'],
  });
export type SeedOrderInput = z.input<typeof seedOrderSchema>;

export const patchOrderSchema = z.strictObject({
  owner: mchid.optional(),
  payer: payerProfileSchema.partial().optional(),
  state: z.enum(['SUCCESS', 'NOTPAY']).optional(),
});
export type PatchOrderInput = z.input<typeof patchOrderSchema>;

export const patchMerchantSchema = z.strictObject({
  balanceFen: z.int().nonnegative().optional(),
  insufficientFunds: z.enum(['reject', 'accept']).optional(),
  refundPermission: z.boolean().optional(),
  portalNotifyUrl: z.url().nullable().optional(),
});
export type PatchMerchantInput = z.input<typeof patchMerchantSchema>;

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

export type MerchantView = Omit<SimMerchant, 'privateKeyPem'> & {
  balanceFen: number;
  subMerchantBalances: Record<string, number>;
};

export type { SimOrder, SimRefund, SimNotification, EndpointFault, NotificationFault };
