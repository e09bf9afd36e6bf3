/**
 * The admin API (/__admin/…, JSON): seed orders, balances and payer profiles, list refunds and notifications, force
 * outcomes, advance the clock, configure faults, call counts, reset, invariant report, WeChat key rotation and
 * per-merchant signing mode, refunds made in the merchant portal, refund bills made and bill faults. Simulator-only: WeChat has
 * nothing like it. Bodies are validated with the zod schemas of admin-schemas.ts; errors are `{ error }` with 400
 * (invalid input, naming the field and the rule), 404 or 409.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { describeZodError as formatZodError } from '../domain/zod-errors';
import {
  advanceClockSchema,
  billFaultSchema,
  endpointFaultSchema,
  forcedOutcomeSchema,
  notificationFaultSchema,
  patchMerchantSchema,
  patchOrderSchema,
  patchSettingsSchema,
  portalRefundSchema,
  portalResolveSchema,
  replaceFaultsSchema,
  rotatePlatformCertificateSchema,
  seedOrderSchema,
  setTimeScaleSchema,
  type ClockView,
  type MerchantView,
} from './admin-schemas';
import type { SimulatorCore } from './core';
import { rawBody } from './http-common';
import { invariantReport } from './invariants';
import { IllegalTransition } from './lifecycle';
import { OrderSeedError, patchOrder, seedOrder } from './orders';
import { createPortalRefund, PortalRefundError } from './portal-refunds';
import { rfc3339 } from './time-format';

export const ADMIN_PREFIX = '/__admin';

class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseBody<S extends z.ZodType>(schema: S, req: FastifyRequest): z.output<S> {
  const raw = rawBody(req);
  let json: unknown = {};
  if (raw.length > 0) {
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AdminError(400, 'body must be JSON');
    }
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new AdminError(400, formatZodError(r.error));
  return r.data;
}

export function clockView(core: SimulatorCore): ClockView {
  const next = core.clock.nextDueAt;
  return {
    now: rfc3339(core.clock.now()),
    nowMs: core.clock.now(),
    timeScale: core.clock.timeScale,
    pendingTimers: core.clock.pendingTimers,
    ...(next !== undefined ? { nextTimerAt: rfc3339(next) } : {}),
  };
}

export function registerAdminRoutes(app: FastifyInstance, core: SimulatorCore): void {
  const { store } = core;

  type Handler = (req: FastifyRequest) => unknown;
  const wrap =
    (handler: Handler, status = 200) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const result = await handler(req);
        core.persist(true);
        reply
          .code(status)
          .type('application/json')
          .send(JSON.stringify(result ?? { ok: true }));
      } catch (e) {
        const known =
          e instanceof AdminError
            ? e
            : e instanceof OrderSeedError || e instanceof PortalRefundError
              ? new AdminError(e.status, e.message)
              : e instanceof IllegalTransition
                ? new AdminError(409, e.message)
                : e instanceof z.ZodError
                  ? new AdminError(400, formatZodError(e))
                  : undefined;
        if (!known) throw e;
        reply
          .code(known.status)
          .type('application/json')
          .send(JSON.stringify({ error: known.message }));
      }
    };

  const p = (path: string) => `${ADMIN_PREFIX}${path}`;
  const query = (req: FastifyRequest) => req.query as Record<string, string | undefined>;

  function findRefund(outRefundNo: string, owner?: string) {
    const matches = store.refundsWithOutRefundNo(outRefundNo).filter((r) => owner === undefined || r.owner === owner);
    if (matches.length === 0) throw new AdminError(404, `no refund ${outRefundNo}`);
    if (matches.length > 1) throw new AdminError(400, `several owners have refund ${outRefundNo}: pass ?owner=`);
    return matches[0];
  }

  function refundView(r: ReturnType<typeof findRefund>) {
    const next = core.lifecycle.nextTransitionAt(r);
    return { ...r, ...(next !== undefined ? { nextTransitionAt: next } : {}) };
  }

  app.get(
    p('/health'),
    wrap(() => ({ ok: true })),
  );
  app.get(
    p('/clock'),
    wrap(() => clockView(core)),
  );
  app.post(
    p('/clock/advance'),
    wrap(async (req) => {
      const a = parseBody(advanceClockSchema, req);
      if (a.to !== undefined) {
        const target = Date.parse(a.to);
        if (target < core.clock.now()) throw new AdminError(400, 'to: must not be in the simulated past');
        await core.clock.advanceTo(target);
      } else {
        const seconds = (a.seconds ?? 0) + (a.minutes ?? 0) * 60 + (a.hours ?? 0) * 3600 + (a.days ?? 0) * 86_400;
        await core.clock.advance(Math.round(seconds * 1000));
      }
      return clockView(core);
    }),
  );
  app.put(
    p('/clock/scale'),
    wrap((req) => {
      core.clock.setTimeScale(parseBody(setTimeScaleSchema, req).timeScale);
      return clockView(core);
    }),
  );

  app.post(
    p('/orders'),
    wrap((req) => seedOrder(store, core.ids, core.clock.now(), parseBody(seedOrderSchema, req)), 201),
  );
  app.get(
    p('/orders'),
    wrap(() => store.allOrders()),
  );
  app.patch(
    p('/orders/:outTradeNo'),
    wrap((req) =>
      patchOrder(store, (req.params as { outTradeNo: string }).outTradeNo, parseBody(patchOrderSchema, req)),
    ),
  );

  const merchantViews = (): MerchantView[] =>
    [...store.merchants.values()].map(({ privateKeyPem: _secret, ...m }) => ({
      ...m,
      balanceFen: store.account(m.mchid).balanceFen,
      subMerchantBalances: Object.fromEntries(
        m.subMerchants.map((s) => [s.subMchid, store.account(s.subMchid).balanceFen]),
      ),
    }));
  app.get(p('/merchants'), wrap(merchantViews));
  app.patch(
    p('/merchants/:owner'),
    wrap((req) => {
      const { owner } = req.params as { owner: string };
      const patch = parseBody(patchMerchantSchema, req);
      const merchant = store.merchant(owner);
      const isSub = store.providerOf.has(owner);
      if (!merchant && !isSub) throw new AdminError(404, `no merchant or sub-merchant ${owner}`);
      if (!merchant && Object.keys(patch).some((k) => k !== 'balanceFen')) {
        throw new AdminError(400, 'a sub-merchant only has a balance; other settings belong to its service provider');
      }
      if (patch.balanceFen !== undefined) store.account(owner).balanceFen = patch.balanceFen;
      if (merchant) {
        if (patch.insufficientFunds !== undefined) merchant.insufficientFunds = patch.insufficientFunds;
        if (patch.refundPermission !== undefined) merchant.refundPermission = patch.refundPermission;
        if (patch.portalNotifyUrl !== undefined) merchant.portalNotifyUrl = patch.portalNotifyUrl ?? undefined;
        if (patch.signWith !== undefined) core.setMerchantSigning(merchant, patch.signWith);
      }
      return merchantViews().find((m) => m.mchid === (merchant ? owner : store.providerOf.get(owner)));
    }),
  );

  app.post(
    p('/wechat/platform-certificates/rotate'),
    wrap((req) => core.keys.rotatePlatformCertificate(parseBody(rotatePlatformCertificateSchema, req))),
  );

  app.get(
    p('/refunds'),
    wrap((req) => {
      const q = query(req);
      return store
        .allRefunds()
        .filter((r) => q.owner === undefined || r.owner === q.owner)
        .filter((r) => q.outTradeNo === undefined || r.outTradeNo === q.outTradeNo)
        .filter((r) => q.status === undefined || r.status === q.status)
        .map(refundView);
    }),
  );
  app.get(
    p('/refunds/:outRefundNo'),
    wrap((req) => refundView(findRefund((req.params as { outRefundNo: string }).outRefundNo, query(req).owner))),
  );
  app.post(
    p('/refunds/:outRefundNo/force'),
    wrap((req) => {
      const { outRefundNo } = req.params as { outRefundNo: string };
      const body = parseBody(forcedOutcomeSchema.omit({ outRefundNo: true }), req);
      const result = core.lifecycle.force({ ...body, outRefundNo });
      return { applied: result.applied, ...(result.refund ? { refund: refundView(result.refund) } : {}) };
    }),
  );
  app.post(
    p('/refunds/:outRefundNo/portal-resolve'),
    wrap((req) => {
      const { outRefundNo } = req.params as { outRefundNo: string };
      const body = parseBody(portalResolveSchema, req);
      const refund = findRefund(outRefundNo, body.owner);
      if (refund.status !== 'ABNORMAL')
        throw new AdminError(409, `refund ${outRefundNo} is ${refund.status}, not ABNORMAL`);
      core.lifecycle.resolveAbnormal(refund, { type: body.type, at: core.clock.now() }, 'merchant portal');
      return refundView(refund);
    }),
  );

  // Refunds made in the merchant portal: processed like any refund, in the bill, unknown to the merchant's engine.
  app.post(
    p('/portal-refunds'),
    wrap((req) => refundView(createPortalRefund(core, parseBody(portalRefundSchema, req))), 201),
  );

  // Refund bills (§12): the ones made so far (snapshots), and faults that make one missing or its download corrupt.
  app.get(
    p('/bills'),
    wrap((req) => {
      const q = query(req);
      return core.bills
        .list()
        .filter((b) => q.mchid === undefined || b.mchid === q.mchid)
        .filter((b) => q.billDate === undefined || b.billDate === q.billDate);
    }),
  );
  app.get(
    p('/bill-faults'),
    wrap(() => core.bills.listFaults()),
  );
  app.post(
    p('/bill-faults'),
    wrap((req) => core.bills.addFault(parseBody(billFaultSchema, req)), 201),
  );
  app.delete(
    p('/bill-faults'),
    wrap(() => {
      core.bills.clearFaults();
      return core.bills.listFaults();
    }),
  );
  app.delete(
    p('/bill-faults/:id'),
    wrap((req) => {
      const { id } = req.params as { id: string };
      if (!core.bills.removeFault(id)) throw new AdminError(404, `no bill fault ${id}`);
      return core.bills.listFaults();
    }),
  );

  app.get(
    p('/notifications'),
    wrap((req) => {
      const q = query(req);
      return store.notifications
        .filter((n) => q.outRefundNo === undefined || n.outRefundNo === q.outRefundNo)
        .filter((n) => q.owner === undefined || n.owner === q.owner)
        .filter((n) => q.state === undefined || n.state === q.state);
    }),
  );

  app.get(
    p('/faults'),
    wrap(() => core.faults.list()),
  );
  app.put(
    p('/faults'),
    wrap((req) => {
      const body = parseBody(replaceFaultsSchema, req);
      core.faults.replace(body.faults, body.notificationFaults);
      return core.faults.list();
    }),
  );
  app.post(
    p('/faults'),
    wrap((req) => core.faults.addEndpointFault(parseBody(endpointFaultSchema, req)), 201),
  );
  app.post(
    p('/notification-faults'),
    wrap((req) => core.faults.addNotificationFault(parseBody(notificationFaultSchema, req)), 201),
  );
  app.delete(
    p('/faults'),
    wrap(() => {
      core.faults.clear();
      return core.faults.list();
    }),
  );
  app.delete(
    p('/faults/:id'),
    wrap((req) => {
      const { id } = req.params as { id: string };
      if (!core.faults.remove(id)) throw new AdminError(404, `no fault ${id}`);
      return core.faults.list();
    }),
  );
  app.get(
    p('/fault-hits'),
    wrap(() => core.faults.hits),
  );

  app.get(
    p('/settings'),
    wrap(() => ({
      rules: core.config.rules,
      rateLimits: core.config.rateLimits,
      lifecycle: core.config.lifecycle,
      notifications: core.config.notifications,
    })),
  );
  app.patch(
    p('/settings'),
    wrap((req) => {
      core.patchSettings(parseBody(patchSettingsSchema, req));
      return {
        rules: core.config.rules,
        rateLimits: core.config.rateLimits,
        lifecycle: core.config.lifecycle,
        notifications: core.config.notifications,
      };
    }),
  );

  app.get(
    p('/calls'),
    wrap(() => core.calls.snapshot()),
  );
  app.post(
    p('/reset'),
    wrap(() => {
      core.reset();
      return { ok: true, clock: clockView(core) };
    }),
  );
  app.get(
    p('/invariants'),
    wrap(() => invariantReport(store)),
  );
}
