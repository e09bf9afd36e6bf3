/** Paid orders and payer profiles, as seeded through the admin API or the configuration. */
import { z } from 'zod';
import { outTradeNo, transactionId } from './wire/field-rules';

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
  /** The payer's openid under the order's appid (order query `payer.openid`); derived from the order when absent. */
  openid: z
    .string()
    .regex(/^[0-9A-Za-z_-]{1,128}$/, { error: 'must be 1-128 characters of [0-9A-Za-z_-]' })
    .optional(),
});
export type PayerProfileInput = z.input<typeof payerProfileSchema>;

export const seedOrderSchema = z
  .strictObject({
    /** The direct merchant, or the service provider in partner mode. */
    mchid,
    subMchid: mchid.optional(),
    outTradeNo,
    /** Generated (seeded, 4200…) when absent. */
    transactionId: transactionId.optional(),
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
      .array(
        z.strictObject({ goodsId: z.string().min(1).max(32), priceFen: fenPositive, quantity: z.int().positive() }),
      )
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
