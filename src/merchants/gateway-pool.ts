/**
 * Every merchant's WeChat Pay gateway, for one process (the worker's activities, the webhook's verifiers): built on a
 * merchant's first use from its registry entry and cached by the entry's fingerprint.
 *
 * - One merchant's unreadable credentials throw MerchantCredentialError for that merchant only; the failure is not
 *   cached, so the next call tries again and a fixed key file is picked up.
 * - A reload (replaceRegistry) keeps unchanged gateways; a removed or changed merchant's gateway is retired: new calls
 *   go to the merchant's new gateway, calls in flight finish on the old one, which is closed after a grace period
 *   once no call is in flight.
 * - v3 merchants that download platform certificates get them again on a schedule (`certificateRefreshHours`,
 *   default 12). A merchant in public-key mode may be refused (403/404): that is logged once, and the next attempt is
 *   the next scheduled one, never a loop; verification goes on with the configured WeChat Pay public keys.
 */
import type { RefundGateway } from '../wechatpay/gateway';
import { createV2Gateway } from '../wechatpay/v2/gateway';
import { createV3Gateway } from '../wechatpay/v3/gateway';
import type { WechatPayKeyring } from '../wechatpay/v3/keyring';
import { certificateRefreshHoursOf, diffRegistries } from './registry';
import {
  MerchantCredentialError,
  type MerchantEntry,
  type MerchantGateways,
  type MerchantRegistry,
  type RegistryChange,
} from './types';

/** The slice of a logger the pool needs (Temporal's Logger and console fit). */
export interface PoolLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** Timers, injectable so tests drive the schedule; each returns its cancel function. Real ones never hold the process. */
export interface PoolTimers {
  every(fn: () => void, ms: number): () => void;
  after(fn: () => void, ms: number): () => void;
}

export interface MerchantGatewaysOptions {
  log?: PoolLog;
  /** Milliseconds since the epoch, for the v3 gateways' request timestamps and keyrings. */
  now?: () => number;
  timers?: PoolTimers;
  /** How long a retired gateway stays open for calls already holding it. Default 30 s. */
  retireGraceMs?: number;
}

const HOUR_MS = 3_600_000;
/** setInterval's longest delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_RETIRE_GRACE_MS = 30_000;

export const realTimers: PoolTimers = {
  every(fn, ms) {
    const t = setInterval(fn, Math.min(ms, MAX_TIMER_MS));
    t.unref();
    return () => clearInterval(t);
  },
  after(fn, ms) {
    const t = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    t.unref();
    return () => clearTimeout(t);
  },
};

const consoleLog: PoolLog = {
  info: (message, meta) => console.info(message, meta ?? ''),
  warn: (message, meta) => console.warn(message, meta ?? ''),
};

type ClosableGateway = RefundGateway & { close(): Promise<void> };

interface Slot {
  readonly mchid: string;
  readonly fingerprint: string;
  readonly gateway: ClosableGateway;
  readonly keyring?: WechatPayKeyring;
  /** What callers hold: counts calls in flight, and follows the merchant's new gateway once this one is retired. */
  readonly facade: RefundGateway;
  inFlight: number;
  retired: boolean;
  closed: boolean;
  /** The grace period is over: close as soon as no call is in flight. */
  closeWhenIdle: boolean;
  /** A refused scheduled refresh (public-key mode) was logged; said once per gateway. */
  refusalLogged: boolean;
  cancelTimers: Array<() => void>;
}

/** 403/404 to GET /v3/certificates: the merchant has no platform certificates to download (public-key mode). */
function isRefusal(err: unknown): number | undefined {
  const status = (err as { httpStatus?: unknown } | null)?.httpStatus;
  return status === 403 || status === 404 ? status : undefined;
}

export function createMerchantGateways(
  initial: MerchantRegistry,
  opts: MerchantGatewaysOptions = {},
): MerchantGateways {
  const log = opts.log ?? consoleLog;
  const timers = opts.timers ?? realTimers;
  const graceMs = opts.retireGraceMs ?? DEFAULT_RETIRE_GRACE_MS;
  let current = initial;
  let poolClosed = false;
  const slots = new Map<string, Slot>();
  const retiring = new Set<Slot>();
  const listeners = new Set<(change: RegistryChange, registry: MerchantRegistry) => void>();

  function build(entry: MerchantEntry): Slot {
    const config = entry.gatewayConfig(); // MerchantCredentialError naming the setting
    let gateway: ClosableGateway;
    let keyring: WechatPayKeyring | undefined;
    try {
      if (config.apiVersion === 'v3') {
        const v3 = createV3Gateway(config.v3, opts.now ? { now: opts.now } : {});
        keyring = v3.keyring;
        gateway = v3;
      } else {
        gateway = createV2Gateway(config.v2);
      }
    } catch (e) {
      // The registry checked the configuration already; whatever the protocol layer still refuses is this merchant's.
      const setting = `merchants[${entry.mchid}]`;
      throw new MerchantCredentialError(entry.mchid, setting, `${setting}: ${(e as Error).message}`);
    }
    const slot: Slot = {
      mchid: entry.mchid,
      fingerprint: entry.fingerprint,
      gateway,
      keyring,
      facade: undefined as unknown as RefundGateway,
      inFlight: 0,
      retired: false,
      closed: false,
      closeWhenIdle: false,
      refusalLogged: false,
      cancelTimers: [],
    };
    (slot as { facade: RefundGateway }).facade = facadeOf(slot);
    scheduleRefresh(slot, entry);
    return slot;
  }

  function scheduleRefresh(slot: Slot, entry: MerchantEntry): void {
    const hours = certificateRefreshHoursOf(entry);
    if (!slot.keyring?.canRefresh || !(hours > 0)) return;
    slot.cancelTimers.push(timers.every(() => void refreshCertificates(slot, hours), hours * HOUR_MS));
  }

  async function refreshCertificates(slot: Slot, hours: number): Promise<void> {
    if (slot.retired || !slot.keyring) return;
    try {
      await slot.keyring.refresh();
      slot.refusalLogged = false;
    } catch (err) {
      const status = isRefusal(err);
      if (status !== undefined) {
        if (slot.refusalLogged) return;
        slot.refusalLogged = true;
        log.warn(
          `merchants[${slot.mchid}]: GET /v3/certificates answered ${status} (public-key mode?): verification goes on ` +
            `with the configured WeChat Pay public keys; the next try is the next scheduled refresh (${hours} h)`,
          { mchid: slot.mchid, httpStatus: status },
        );
        return;
      }
      log.warn(
        `merchants[${slot.mchid}]: scheduled platform-certificate refresh failed: ${(err as Error).message}; ` +
          `the next try is in ${hours} h (an unknown serial still triggers one sooner)`,
        { mchid: slot.mchid },
      );
    }
  }

  function slotFor(entry: MerchantEntry): Slot {
    if (poolClosed) throw new Error('the merchant gateways are closed');
    const cached = slots.get(entry.mchid);
    if (cached && cached.fingerprint === entry.fingerprint) return cached;
    const slot = build(entry);
    if (cached) retire(cached);
    slots.set(entry.mchid, slot);
    return slot;
  }

  /** The gateway calls go to now: this slot's, or the merchant's current one once this one was retired. */
  function live(slot: Slot): Slot {
    return slot.retired ? slotFor(current.resolve(slot.mchid)) : slot;
  }

  async function call<T>(held: Slot, fn: (g: RefundGateway) => Promise<T>): Promise<T> {
    const slot = live(held);
    slot.inFlight += 1;
    try {
      return await fn(slot.gateway);
    } finally {
      slot.inFlight -= 1;
      if (slot.closeWhenIdle && slot.inFlight === 0) void closeSlot(slot);
    }
  }

  function facadeOf(slot: Slot): RefundGateway {
    return {
      apiVersion: slot.gateway.apiVersion,
      createRefund: (input) => call(slot, (g) => g.createRefund(input)),
      queryRefund: (input) => call(slot, (g) => g.queryRefund(input)),
      queryOrder: (input) => call(slot, (g) => g.queryOrder(input)),
      applyAbnormalRefund: (input) => call(slot, (g) => g.applyAbnormalRefund(input)),
      downloadRefundBill: (input) => call(slot, (g) => g.downloadRefundBill(input)),
    };
  }

  function retire(slot: Slot): void {
    if (slots.get(slot.mchid) === slot) slots.delete(slot.mchid);
    slot.retired = true;
    for (const cancel of slot.cancelTimers.splice(0)) cancel();
    retiring.add(slot);
    slot.cancelTimers.push(
      timers.after(() => {
        slot.closeWhenIdle = true;
        if (slot.inFlight === 0) void closeSlot(slot);
      }, graceMs),
    );
  }

  async function closeSlot(slot: Slot): Promise<void> {
    if (slot.closed) return;
    slot.closed = true;
    for (const cancel of slot.cancelTimers.splice(0)) cancel();
    retiring.delete(slot);
    try {
      await slot.gateway.close();
    } catch (e) {
      log.warn(`merchants[${slot.mchid}]: closing a retired gateway failed: ${(e as Error).message}`);
    }
  }

  return {
    registry: () => current,

    forMerchant(mchid?: string): RefundGateway {
      return slotFor(current.resolve(mchid)).facade;
    },

    keyringOf(mchid: string): WechatPayKeyring | undefined {
      const entry = current.get(mchid);
      if (!entry || entry.apiVersion !== 'v3') return undefined;
      return slotFor(entry).keyring;
    },

    replaceRegistry(next: MerchantRegistry): RegistryChange {
      const change = diffRegistries(current, next);
      current = next;
      for (const slot of [...slots.values()]) {
        if (next.get(slot.mchid)?.fingerprint !== slot.fingerprint) retire(slot);
      }
      for (const listener of listeners) {
        try {
          listener(change, next);
        } catch (e) {
          log.warn(`merchant registry change listener failed: ${(e as Error).message}`);
        }
      }
      return change;
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async close(): Promise<void> {
      poolClosed = true;
      listeners.clear();
      const all = [...slots.values(), ...retiring];
      slots.clear();
      await Promise.all(all.map((slot) => closeSlot(slot)));
    },
  };
}
