/**
 * Paid orders, seeded through the admin API (or config): WeChat refunds only orders it knows were paid (M10).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PatchOrderInput, SeedOrderInput } from './admin-schemas';
import { patchOrderSchema, seedOrderSchema } from './admin-schemas';
import type { IdFactory } from './ids';
import type { SimOrder } from './model';
import type { SimulatorStore } from './store';

export class OrderSeedError extends Error {
  override readonly name = 'OrderSeedError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
  }
}

export function seedOrder(
  store: SimulatorStore,
  ids: IdFactory,
  now: number,
  input: SeedOrderInput | z.output<typeof seedOrderSchema>,
): SimOrder {
  const o = seedOrderSchema.parse(input);
  const merchant = store.merchant(o.mchid);
  if (!merchant) throw new OrderSeedError(`mchid ${o.mchid}: no such merchant is configured`, 404);
  let subAppid: string | undefined;
  if (o.subMchid !== undefined) {
    const sub = merchant.subMerchants.find((s) => s.subMchid === o.subMchid);
    if (!sub) throw new OrderSeedError(`subMchid ${o.subMchid} is not a sub-merchant of ${o.mchid}`, 400);
    subAppid = sub.subAppid;
  } else if (merchant.mode === 'partner') {
    throw new OrderSeedError(`mchid ${o.mchid} is a service provider: give the subMchid that owns the order`, 400);
  }
  const owner = o.subMchid ?? o.mchid;
  if (store.orderByOutTradeNo(owner, o.outTradeNo)) {
    throw new OrderSeedError(`order ${o.outTradeNo} already exists for ${owner}`, 409);
  }
  if (o.transactionId !== undefined && store.hasTransaction(o.transactionId)) {
    throw new OrderSeedError(`transactionId ${o.transactionId} already exists`, 409);
  }
  const paidAt = o.paidAt ? Date.parse(o.paidAt) : now;
  const order: SimOrder = {
    mchid: o.mchid,
    subMchid: o.subMchid,
    owner,
    appid: merchant.appid,
    subAppid,
    outTradeNo: o.outTradeNo,
    transactionId: o.transactionId ?? ids.transactionId(paidAt),
    totalFen: o.totalFen,
    state: o.state,
    paidAt,
    payer: {
      ...o.payer,
      cardLast4: o.payer.cardLast4 ?? ids.cardLast4(),
      openid: o.payer.openid ?? derivedOpenid(merchant.appid, owner, o.outTradeNo),
    },
    coupons: o.coupons.map((c, i) => ({
      couponId: c.couponId ?? `${o.outTradeNo.slice(0, 20)}C${i}`,
      type: c.type,
      scope: c.scope,
      amountFen: c.amountFen,
    })),
    goods: o.goods,
  };
  store.addOrder(order);
  return order;
}

export function patchOrder(store: SimulatorStore, outTradeNo: string, input: PatchOrderInput): SimOrder {
  const p = patchOrderSchema.parse(input);
  const matches = store.ordersWithOutTradeNo(outTradeNo).filter((o) => p.owner === undefined || o.owner === p.owner);
  if (matches.length === 0) throw new OrderSeedError(`no order ${outTradeNo}`, 404);
  if (matches.length > 1) throw new OrderSeedError(`several owners have order ${outTradeNo}: give owner`, 400);
  const order = matches[0];
  if (p.payer)
    Object.assign(order.payer, Object.fromEntries(Object.entries(p.payer).filter(([, v]) => v !== undefined)));
  if (p.state) order.state = p.state;
  store.touchOrder(order);
  return order;
}

/** A stable, openid-shaped (28 characters, `o…`) payer id for an order seeded without one. */
export function derivedOpenid(appid: string, owner: string, outTradeNo: string): string {
  const digest = createHash('sha256').update(`${appid}\u0000${owner}\u0000${outTradeNo}`).digest('base64url');
  return `o${digest.slice(0, 27)}`;
}
