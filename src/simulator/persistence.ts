/**
 * The simulator's state across restarts (config `stateFile`, off by default): an embedded SQLite file
 * (better-sqlite3) with one table per entity, each row a JSON document keyed by id:
 *
 *   meta           format version, the virtual clock's position, id counters, forced outcomes still waiting
 *   accounts       balances (owner → { owner, balanceFen })
 *   merchants      run-time merchant settings changed through the admin API
 *   orders         SimOrder, keyed owner + out_trade_no
 *   refunds        SimRefund with its status history, plus its pending timer (lifecycle.ts RefundSchedule)
 *   notifications  SimNotification with its attempts, plus what an unfinished one needs to go on (notifier.ts)
 *   bills          refund bills made so far (bills/bill-book.ts BillSnapshot): a snapshot is never remade
 *
 * Modules report changes through the store's `touch…()`; changed rows are written in one transaction, right away
 * after the synchronous work that changed them (a microtask), and synchronously before any API reply is sent, so a
 * client never sees an answer about state the file does not have. At start the rows are loaded back, the clock
 * resumes from the simulated time it had reached (time does not pass while the simulator is down), and scheduled
 * transitions and notification retries are re-armed: whatever fell due meanwhile happens as soon as time moves.
 *
 * Not stored: faults (bill faults too) and their hit log, bill download tokens, call counts, rate-limit windows, run-time settings (PATCH /settings) — the
 * configured ones apply again on every start — and the seeded random streams (they restart from the seed; the
 * stored id counters keep every new id unique).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { VirtualClock } from './clock';
import type { ForcedOutcome } from './fault-schemas';
import type { IdFactory } from './ids';
import type { LifecycleEngine, RefundSchedule } from './lifecycle';
import { BillBook, type BillSnapshot } from './bills/bill-book';
import type { Account, SimMerchant, SimNotification, SimOrder, SimRefund } from './model';
import type { Notifier, StoredDelivery } from './notifier';
import type { SimulatorStore } from './store';

const FORMAT = 1;
/** Real milliseconds between two saves of the clock position while simulated time flows. */
const CLOCK_SAVE_INTERVAL_MS = 1000;

type MerchantSettings = Pick<SimMerchant, 'insufficientFunds' | 'refundPermission' | 'portalNotifyUrl' | 'signWith'>;

export interface StoredState {
  clockNow: number;
  idPositions: { ids: number; requestIds: number };
  pendingForced: ForcedOutcome[];
  accounts: Account[];
  merchants: Array<{ mchid: string } & MerchantSettings>;
  orders: SimOrder[];
  refunds: Array<{ refund: SimRefund; schedule?: RefundSchedule }>;
  notifications: Array<{ notification: SimNotification; delivery?: StoredDelivery }>;
  bills: BillSnapshot[];
}

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

/** The parts of the core whose state is stored. */
export interface PersistedParts {
  store: SimulatorStore;
  clock: VirtualClock;
  lifecycle: LifecycleEngine;
  notifier: Notifier;
  ids: IdFactory;
  requestIds: IdFactory;
  bills: BillBook;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS accounts (owner TEXT PRIMARY KEY, doc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS merchants (mchid TEXT PRIMARY KEY, doc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS refunds (refund_id TEXT PRIMARY KEY, doc TEXT NOT NULL, schedule TEXT);
  CREATE TABLE IF NOT EXISTS notifications (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL, delivery TEXT);
  CREATE TABLE IF NOT EXISTS bills (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
`;

const TABLES = ['meta', 'accounts', 'merchants', 'orders', 'refunds', 'notifications', 'bills'] as const;

const orderKey = (o: SimOrder) => `${o.owner}\u0000${o.outTradeNo}`;

function parse<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new StateFileError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The state file. `load()` reads what a previous run left (undefined for a new file), `attach()` starts recording
 * the core's changes, `close()` writes the last ones.
 */
export class SimulatorPersistence {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly statements: {
    meta: Database.Statement<[string, string]>;
    account: Database.Statement<[string, string]>;
    merchant: Database.Statement<[string, string]>;
    order: Database.Statement<[string, string]>;
    refund: Database.Statement<[string, string, string | null]>;
    notification: Database.Statement<[number, string, string | null]>;
    bill: Database.Statement<[string, string]>;
  };
  private parts?: PersistedParts;
  private readonly dirtyOrders = new Set<SimOrder>();
  private readonly dirtyRefunds = new Set<SimRefund>();
  private readonly dirtyNotifications = new Set<SimNotification>();
  private readonly dirtyBills = new Set<BillSnapshot>();
  private flushQueued = false;
  private closed = false;
  private clockTimer?: NodeJS.Timeout;

  constructor(file: string) {
    this.file = path.resolve(file);
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.db = new Database(this.file, { timeout: 1000 });
    } catch (e) {
      throw new StateFileError(`stateFile ${this.file}: cannot open (${(e as Error).message})`);
    }
    try {
      // One simulator per file: the lock is taken now and held until close (a second one fails here).
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA);
      this.db.prepare('SELECT count(*) FROM meta').get();
    } catch (e) {
      this.db.close();
      const busy = (e as { code?: string }).code?.startsWith('SQLITE_BUSY');
      throw new StateFileError(
        `stateFile ${this.file}: ${busy ? 'in use by another simulator' : `cannot open (${(e as Error).message})`}`,
      );
    }
    const upsert = (table: string, key: string, cols = 'doc') =>
      this.db.prepare(
        `INSERT INTO ${table} (${key}, ${cols}) VALUES (${['?', ...cols.split(',').map(() => '?')].join(', ')}) ` +
          `ON CONFLICT(${key}) DO UPDATE SET ${cols
            .split(',')
            .map((c) => `${c.trim()} = excluded.${c.trim()}`)
            .join(', ')}`,
      );
    this.statements = {
      meta: upsert('meta', 'key', 'value') as Database.Statement<[string, string]>,
      account: upsert('accounts', 'owner') as Database.Statement<[string, string]>,
      merchant: upsert('merchants', 'mchid') as Database.Statement<[string, string]>,
      order: upsert('orders', 'id') as Database.Statement<[string, string]>,
      refund: upsert('refunds', 'refund_id', 'doc, schedule') as Database.Statement<[string, string, string | null]>,
      notification: upsert('notifications', 'seq', 'doc, delivery') as Database.Statement<
        [number, string, string | null]
      >,
      bill: upsert('bills', 'id') as Database.Statement<[string, string]>,
    };
  }

  /** What the file holds; undefined when it is new (or was never completely written). */
  load(): StoredState | undefined {
    const meta = new Map(
      (this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [
        r.key,
        r.value,
      ]),
    );
    const format = meta.get('format');
    if (format === undefined) return undefined;
    if (Number(format) !== FORMAT) {
      throw new StateFileError(
        `stateFile ${this.file}: format ${format} is not ${FORMAT}; delete the file to start over`,
      );
    }
    const docs = <T>(sql: string, what: string) =>
      (this.db.prepare(sql).all() as Array<{ doc: string }>).map((r) => parse<T>(r.doc, what));
    const clockNow = Number(meta.get('clock'));
    if (!Number.isFinite(clockNow)) throw new StateFileError(`stateFile ${this.file}: meta.clock is not a time`);
    return {
      clockNow,
      idPositions: parse(meta.get('ids') ?? '{"ids":0,"requestIds":0}', 'meta.ids'),
      pendingForced: parse(meta.get('pendingForced') ?? '[]', 'meta.pendingForced'),
      accounts: docs<Account>('SELECT doc FROM accounts', 'accounts'),
      merchants: docs<{ mchid: string } & MerchantSettings>('SELECT doc FROM merchants', 'merchants'),
      orders: docs<SimOrder>('SELECT doc FROM orders ORDER BY rowid', 'orders'),
      refunds: (
        this.db.prepare('SELECT doc, schedule FROM refunds ORDER BY rowid').all() as Array<{
          doc: string;
          schedule: string | null;
        }>
      ).map((r) => ({
        refund: parse<SimRefund>(r.doc, 'refunds'),
        schedule: r.schedule === null ? undefined : parse<RefundSchedule>(r.schedule, 'refunds.schedule'),
      })),
      notifications: (
        this.db.prepare('SELECT doc, delivery FROM notifications ORDER BY seq').all() as Array<{
          doc: string;
          delivery: string | null;
        }>
      ).map((r) => ({
        notification: parse<SimNotification>(r.doc, 'notifications'),
        delivery: r.delivery === null ? undefined : parse<StoredDelivery>(r.delivery, 'notifications.delivery'),
      })),
      bills: docs<BillSnapshot>('SELECT doc FROM bills ORDER BY rowid', 'bills'),
    };
  }

  /** Put a loaded state back into the core's parts (before attach) and re-arm its timers. */
  static restore(parts: PersistedParts, state: StoredState): void {
    parts.store.load({
      accounts: state.accounts,
      orders: state.orders,
      refunds: state.refunds.map((r) => r.refund),
      notifications: state.notifications.map((n) => n.notification),
    });
    for (const m of state.merchants) {
      const merchant = parts.store.merchant(m.mchid);
      if (!merchant) continue;
      merchant.insufficientFunds = m.insufficientFunds;
      merchant.refundPermission = m.refundPermission;
      merchant.portalNotifyUrl = m.portalNotifyUrl;
      // Stored only once switched through the admin API; until then the configured mode stands.
      if (m.signWith !== undefined) merchant.signWith = m.signWith;
    }
    parts.ids.resumeAt(state.idPositions.ids);
    parts.requestIds.resumeAt(state.idPositions.requestIds);
    parts.lifecycle.restorePendingForced(state.pendingForced);
    // The restored refunds are the store's objects (load() keeps them): timers act on those.
    for (const { refund, schedule } of state.refunds) {
      const live = parts.store.refundById(refund.refundId);
      if (live) parts.lifecycle.restore(live, schedule);
    }
    parts.store.notifications.forEach((n, i) => parts.notifier.restore(n, state.notifications[i]?.delivery));
    parts.bills.restore(state.bills);
  }

  /** Start recording changes of `parts`; rewrites the whole file from them (start, and after an admin reset). */
  attach(parts: PersistedParts): void {
    this.parts = parts;
    parts.store.setListener({
      order: (o) => this.mark(this.dirtyOrders, o),
      refund: (r) => this.mark(this.dirtyRefunds, r),
      notification: (n) => this.mark(this.dirtyNotifications, n),
    });
    parts.bills.setListener((b) => this.mark(this.dirtyBills, b));
    this.rewrite();
    this.clockTimer = setInterval(() => this.saveClock(), CLOCK_SAVE_INTERVAL_MS);
    this.clockTimer.unref();
  }

  /** Replace everything in the file with the current state (admin reset: the stored state is cleared too). */
  rewrite(): void {
    const parts = this.parts;
    if (!parts || this.closed) return;
    this.db.transaction(() => {
      for (const t of TABLES) this.db.prepare(`DELETE FROM ${t}`).run();
      // Changes recorded before a reset may concern objects the store no longer has.
      this.dirtyOrders.clear();
      this.dirtyRefunds.clear();
      this.dirtyNotifications.clear();
      this.dirtyBills.clear();
      for (const o of parts.store.allOrders()) this.dirtyOrders.add(o);
      for (const b of parts.bills.all()) this.dirtyBills.add(b);
      for (const r of parts.store.allRefunds()) this.dirtyRefunds.add(r);
      for (const n of parts.store.notifications) this.dirtyNotifications.add(n);
      this.writeDirty(parts);
    })();
  }

  /**
   * Write every change recorded so far, in one transaction; nothing when nothing changed, unless `all` (balances and
   * merchant settings are not tracked row by row: the admin API flushes with `all` after each call).
   */
  flush(all = false): void {
    this.flushQueued = false;
    const parts = this.parts;
    if (!parts || this.closed) return;
    const dirty = this.dirtyOrders.size + this.dirtyRefunds.size + this.dirtyNotifications.size + this.dirtyBills.size;
    if (!all && dirty === 0) return;
    this.db.transaction(() => this.writeDirty(parts))();
  }

  /** Write what is left and close the file; later changes are not recorded. */
  close(): void {
    if (this.closed) return;
    this.flush(true);
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.parts?.store.setListener(undefined);
    this.parts?.bills.setListener(undefined);
    this.closed = true;
    this.db.close();
  }

  private mark<T>(set: Set<T>, item: T): void {
    if (this.closed) return;
    set.add(item);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        if (!this.flushQueued) return;
        try {
          this.flush();
        } catch (e) {
          // Not fatal for the simulation; the next flush writes the same rows again (they stay marked).
          console.error(`[simulator] writing ${this.file} failed:`, e);
        }
      });
    }
  }

  private saveClock(): void {
    if (this.closed || !this.parts) return;
    this.statements.meta.run('clock', String(this.parts.clock.now()));
  }

  /** Inside a transaction: the dirty rows, then the small always-written ones (balances, merchants, meta). */
  private writeDirty(parts: PersistedParts): void {
    const { store } = parts;
    const s = this.statements;
    for (const o of this.dirtyOrders) s.order.run(orderKey(o), JSON.stringify(o));
    for (const r of this.dirtyRefunds) {
      const schedule = parts.lifecycle.scheduleOf(r);
      s.refund.run(r.refundId, JSON.stringify(r), schedule ? JSON.stringify(schedule) : null);
    }
    for (const n of this.dirtyNotifications) {
      const delivery = parts.notifier.storedDelivery(n);
      s.notification.run(store.indexOf(n), JSON.stringify(n), delivery ? JSON.stringify(delivery) : null);
    }
    for (const b of this.dirtyBills) s.bill.run(BillBook.keyOf(b), JSON.stringify(b));
    this.dirtyOrders.clear();
    this.dirtyRefunds.clear();
    this.dirtyNotifications.clear();
    this.dirtyBills.clear();
    for (const a of store.accounts.values()) s.account.run(a.owner, JSON.stringify(a));
    for (const m of store.merchants.values()) {
      const settings: { mchid: string } & MerchantSettings = {
        mchid: m.mchid,
        insufficientFunds: m.insufficientFunds,
        refundPermission: m.refundPermission,
        portalNotifyUrl: m.portalNotifyUrl,
        signWith: m.signWith,
      };
      s.merchant.run(m.mchid, JSON.stringify(settings));
    }
    s.meta.run('clock', String(parts.clock.now()));
    s.meta.run('ids', JSON.stringify({ ids: parts.ids.position, requestIds: parts.requestIds.position }));
    s.meta.run('pendingForced', JSON.stringify(parts.lifecycle.pendingForcedOutcomes));
    s.meta.run('format', String(FORMAT));
  }
}
