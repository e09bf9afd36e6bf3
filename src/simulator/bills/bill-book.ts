/**
 * The refund bills the simulated WeChat Pay publishes (docs/wechatpay-protocol.md §12): which day's bill exists,
 * when, for whom, and what it says.
 *
 * - The bill of day D (Beijing time) lists the refunds ACCEPTED on D (退款申请时间) for the scope asked: a direct
 *   merchant's own refunds, one sub-merchant's (partner request with sub_mchid), or all of a service provider's
 *   sub-merchants (partner request without it).
 * - It is ready at 10:00 Beijing time on D+1 (simulated clock); before that: STATEMENT_CREATING (D is over) or
 *   NO_STATEMENT_EXIST (D is not over yet). Only about three months back can be fetched.
 * - It is made the first time it is asked for once ready, and kept: every later request, v2 or v3, gets the same
 *   rows with the statuses they had then (§12.3 snapshot semantics).
 * - A day without refunds has no bill (NO_STATEMENT_EXIST, as WeChat answers), unless rules.emptyRefundBill is
 *   EMPTY_FILE (a header and a zero summary).
 * - Admin faults make a day's bill missing (NO_STATEMENT_EXIST even when ready) or serve a corrupted v3 download
 *   (the file no longer matches hash_value), optionally only `times` times.
 * - v3 download URLs are tokens valid 30 real seconds (§12.1: protocol time is real time).
 * Bills made are kept in the state file (`stateFile`), so a restart does not remake them; faults and tokens are not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { VirtualClock } from '../clock';
import type { RulesConfig } from '../config';
import type { SimulatorStore } from '../store';
import type { BillFault, BillFaultInput } from './bill-faults';
import { renderBill, type BillVersion } from './bill-format';
import { billLineOf, type BillLine } from './bill-lines';

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/** §12.1: yesterday's bill is published at 10:00 Beijing time. */
const READY_AFTER_DAY_START_MS = DAY_MS + 10 * HOUR_MS;
/** §12.1 "the last 3 months" (taken as 93 days). */
const HISTORY_DAYS = 93;
/** §12.1: download_url lives for about 30 s. */
export const DOWNLOAD_URL_TTL_MS = 30_000;

/** Whose bill: the caller (direct merchant or service provider) and, for a partner, optionally one sub-merchant. */
export interface BillScope {
  mchid: string;
  subMchid?: string;
}

export interface BillSnapshot {
  scope: BillScope;
  /** YYYY-MM-DD (Beijing). */
  billDate: string;
  /** Simulated time the bill was made. */
  madeAt: number;
  lines: readonly BillLine[];
}

export type BillLookup =
  | { kind: 'ready'; bill: BillSnapshot }
  /** Not published yet: retry later. `code` is the v3 error code. */
  | { kind: 'not-ready'; code: 'STATEMENT_CREATING' | 'NO_STATEMENT_EXIST'; message: string }
  /** No bill for this day (no refunds, or a MISSING fault). */
  | { kind: 'absent'; message: string }
  | { kind: 'too-old'; message: string };

export interface BillSnapshotView {
  mchid: string;
  subMchid?: string;
  billDate: string;
  madeAt: number;
  rows: number;
  /** SHA1 (hex) of each generation's decompressed file. */
  sha1: Record<BillVersion, string>;
  outRefundNos: string[];
}

/** The file of a bill in one generation's spelling. */
export interface RenderedBill {
  text: Buffer;
  sha1: string;
}

interface DownloadGrant {
  key: string;
  mchid: string;
  gzip: boolean;
  expiresAt: number;
}

/** Start of Beijing day `billDate` (YYYY-MM-DD) in epoch ms. */
export function beijingDayStart(billDate: string): number {
  return Date.parse(`${billDate}T00:00:00+08:00`);
}

/** YYYY-MM-DD of `ms` in Beijing time. */
export function beijingDay(ms: number): string {
  return new Date(ms + 8 * HOUR_MS).toISOString().slice(0, 10);
}

const scopeKey = (scope: BillScope, billDate: string) => `${scope.mchid}/${scope.subMchid ?? '*'}/${billDate}`;

export class BillBook {
  private readonly snapshots = new Map<string, BillSnapshot>();
  private readonly rendered = new Map<string, RenderedBill>();
  private readonly grants = new Map<string, DownloadGrant>();
  private faults: BillFault[] = [];
  private nextFaultId = 1;
  /** Told about every bill made (persistence.ts keeps snapshots across restarts). */
  private listener?: (bill: BillSnapshot) => void;

  constructor(
    private readonly store: SimulatorStore,
    private readonly clock: VirtualClock,
    private readonly rules: RulesConfig,
    private readonly realNow: () => number = Date.now,
  ) {}

  setListener(listener: ((bill: BillSnapshot) => void) | undefined): void {
    this.listener = listener;
  }

  /** Every bill made so far (state file). */
  all(): BillSnapshot[] {
    return [...this.snapshots.values()];
  }

  /** Bills a previous run made (state file, at start): kept as they were, never remade. */
  restore(bills: BillSnapshot[]): void {
    for (const b of bills) this.snapshots.set(scopeKey(b.scope, b.billDate), b);
  }

  /** The bill's key in the state file. */
  static keyOf(bill: BillSnapshot): string {
    return scopeKey(bill.scope, bill.billDate);
  }

  reset(): void {
    this.snapshots.clear();
    this.rendered.clear();
    this.grants.clear();
    this.faults = [];
  }

  /** The bill of `billDate` for `scope`, made now if it is ready and was never asked for. */
  lookup(scope: BillScope, billDate: string): BillLookup {
    const dayStart = beijingDayStart(billDate);
    const now = this.clock.now();
    if (now >= dayStart + (HISTORY_DAYS + 1) * DAY_MS) {
      return { kind: 'too-old', message: `bill_date ${billDate} is more than three months ago` };
    }
    if (now < dayStart + DAY_MS) {
      return { kind: 'not-ready', code: 'NO_STATEMENT_EXIST', message: `the day ${billDate} is not over yet` };
    }
    if (now < dayStart + READY_AFTER_DAY_START_MS) {
      return {
        kind: 'not-ready',
        code: 'STATEMENT_CREATING',
        message: `the bill of ${billDate} is being generated; it is published at 10:00 Beijing time the next day`,
      };
    }
    const missing = this.strike(scope, billDate, 'MISSING');
    if (missing) return { kind: 'absent', message: `no bill for ${billDate} (simulated fault ${missing.id})` };
    const key = scopeKey(scope, billDate);
    let bill = this.snapshots.get(key);
    if (!bill) {
      bill = { scope: { ...scope }, billDate, madeAt: now, lines: this.linesOf(scope, billDate) };
      if (bill.lines.length === 0 && this.rules.emptyRefundBill === 'NO_STATEMENT_EXIST') {
        // Not kept: a day without refunds stays without a bill.
        return { kind: 'absent', message: `no refunds were accepted on ${billDate}` };
      }
      this.snapshots.set(key, bill);
      this.listener?.(bill);
    }
    return { kind: 'ready', bill };
  }

  /** The file of `bill` in `version`'s spelling, and its SHA1 (computed once per bill and version). */
  render(bill: BillSnapshot, version: BillVersion): RenderedBill {
    const key = `${scopeKey(bill.scope, bill.billDate)}/${version}`;
    let r = this.rendered.get(key);
    if (!r) {
      const text = Buffer.from(renderBill(bill.lines, version), 'utf8');
      r = { text, sha1: createHash('sha1').update(text).digest('hex') };
      this.rendered.set(key, r);
    }
    return r;
  }

  /** A fresh download token for the v3 file of `bill`, valid DOWNLOAD_URL_TTL_MS for the merchant that asked. */
  grantDownload(bill: BillSnapshot, mchid: string, gzip: boolean): string {
    const now = this.realNow();
    for (const [t, g] of this.grants) if (g.expiresAt <= now) this.grants.delete(t);
    const token = randomBytes(24).toString('base64url');
    this.grants.set(token, {
      key: scopeKey(bill.scope, bill.billDate),
      mchid,
      gzip,
      expiresAt: now + DOWNLOAD_URL_TTL_MS,
    });
    return token;
  }

  /**
   * The bytes a v3 download of `token` by `mchid` returns: gzip of the file when asked for GZIP, a corrupted file
   * (that no longer matches hash_value) when a CORRUPT fault strikes.
   */
  redeem(
    token: string,
    mchid: string,
  ): { ok: true; body: Buffer; gzip: boolean } | { ok: false; status: number; code: string; message: string } {
    const grant = this.grants.get(token);
    if (!grant || grant.expiresAt <= this.realNow()) {
      return {
        ok: false,
        status: 400,
        code: 'INVALID_REQUEST',
        message: 'download_url is unknown or expired (valid 30 s): request the bill again',
      };
    }
    if (grant.mchid !== mchid) {
      return { ok: false, status: 403, code: 'NO_AUTH', message: `download_url was issued to another merchant` };
    }
    const bill = this.snapshots.get(grant.key) as BillSnapshot;
    let text = this.render(bill, 'v3').text;
    if (this.strike(bill.scope, bill.billDate, 'CORRUPT')) text = corrupt(text);
    return { ok: true, body: grant.gzip ? gzipSync(text) : text, gzip: grant.gzip };
  }

  /** Bills made so far (admin). */
  list(): BillSnapshotView[] {
    return [...this.snapshots.values()].map((b) => ({
      mchid: b.scope.mchid,
      ...(b.scope.subMchid !== undefined ? { subMchid: b.scope.subMchid } : {}),
      billDate: b.billDate,
      madeAt: b.madeAt,
      rows: b.lines.length,
      sha1: { v2: this.render(b, 'v2').sha1, v3: this.render(b, 'v3').sha1 },
      outRefundNos: b.lines.map((l) => l.outRefundNo),
    }));
  }

  addFault(input: BillFaultInput): BillFault {
    const fault: BillFault = { ...input, id: input.id ?? `bill-fault-${this.nextFaultId++}` };
    this.faults = [...this.faults.filter((f) => f.id !== fault.id), fault];
    return fault;
  }

  listFaults(): BillFault[] {
    return [...this.faults];
  }

  removeFault(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length < before;
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** The first fault of `kind` selecting this bill, spending one of its `times`. */
  private strike(scope: BillScope, billDate: string, kind: BillFault['kind']): BillFault | undefined {
    const f = this.faults.find(
      (x) =>
        x.kind === kind &&
        x.mchid === scope.mchid &&
        (x.billDate === undefined || x.billDate === billDate) &&
        (x.subMchid === undefined || x.subMchid === scope.subMchid),
    );
    if (!f) return undefined;
    if (f.times !== undefined) {
      f.times -= 1;
      if (f.times <= 0) this.faults = this.faults.filter((x) => x !== f);
    }
    return f;
  }

  /** The refunds of `scope` accepted on `billDate`, frozen as bill rows in acceptance order. */
  private linesOf(scope: BillScope, billDate: string): BillLine[] {
    return this.store
      .allRefunds()
      .filter((r) => r.mchid === scope.mchid && (scope.subMchid === undefined || r.owner === scope.subMchid))
      .filter((r) => beijingDay(r.createdAt) === billDate)
      .flatMap((r) => {
        const order = this.store.orderByTransactionId(r.transactionId);
        const merchant = this.store.merchantForOwner(r.owner);
        return order && merchant ? [billLineOf(r, order, merchant)] : [];
      });
  }
}

/**
 * A damaged copy, as a broken transfer would leave it: the file's last digit (in the summary row) changed, so it
 * still gunzips but its SHA1 no longer matches hash_value.
 */
function corrupt(text: Buffer): Buffer {
  const copy = Buffer.from(text);
  for (let i = copy.length - 1; i >= 0; i--) {
    const c = copy[i];
    if (c >= 0x30 && c <= 0x39) {
      copy[i] = c === 0x39 ? 0x30 : c + 1;
      return copy;
    }
  }
  copy[0] ^= 0x01;
  return copy;
}
