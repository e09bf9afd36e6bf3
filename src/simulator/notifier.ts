/**
 * Outbound refund notifications (reference §4, §5.8, §8.5): one per transition into SUCCESS, CLOSED or ABNORMAL, to the
 * refund's notify_url (else the merchant's portal URL), v3 JSON or v2 XML, delivered on WeChat's retry schedule on the
 * virtual clock until the receiver answers 200/204 within 5 s. Every attempt is recorded. Notification faults
 * (dropped, duplicated, delayed, reordered, unverifiable, undecryptable, v2-instead-of-v3) are applied here.
 */
import { Agent, request } from 'undici';
import { parseV2Xml } from '../wechatpay/v2/xml';
import type { VirtualClock } from './clock';
import type { NotificationConfig } from './config';
import type { NotificationFault } from './fault-schemas';
import type { FaultRegistry } from './faults';
import type { IdFactory } from './ids';
import type { ApiVersion, SimNotification, SimRefund, TerminalOutcome } from './model';
import { v2NotificationBody, v3NotificationBody } from './notification-payloads';
import type { SimulatorStore } from './store';
import type { SignatureFault, WechatSigner } from './wechat-signer';
import { SECOND_MS } from './time-format';

interface DeliveryContext extends StoredDelivery {
  refund: SimRefund;
}

/** What an unfinished notification needs to go on after a restart (persistence.ts stores it beside the row). */
export interface StoredDelivery {
  status: TerminalOutcome;
  faults: NotificationFault[];
  /** Body without decryption faults (built once: the same ciphertext on every retry, like WeChat). */
  body: string;
  undecryptableBody?: string;
  /** REORDER: simulated time a held notification is released if no later one came. */
  heldUntil?: number;
}

const UNFINISHED: ReadonlySet<SimNotification['state']> = new Set(['SCHEDULED', 'HELD', 'IN_FLIGHT']);

const SIGNATURE_FAULTS: Partial<Record<NotificationFault['kind'], SignatureFault>> = {
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  SIGNTEST: 'SIGNTEST_SIGNATURE',
  STALE_TIMESTAMP: 'STALE_TIMESTAMP',
  UNKNOWN_SERIAL: 'UNKNOWN_SERIAL',
};

export class Notifier {
  private readonly contexts = new Map<SimNotification, DeliveryContext>();
  /** REORDER: notifications held back until a later one of the same refund was delivered. */
  private readonly held = new Map<string, SimNotification[]>();
  private readonly agent: Agent;
  private closed = false;

  constructor(
    private readonly store: SimulatorStore,
    private readonly clock: VirtualClock,
    private readonly signer: WechatSigner,
    private readonly ids: IdFactory,
    private readonly faults: FaultRegistry,
    private readonly config: NotificationConfig,
  ) {
    this.agent = new Agent({ connect: { timeout: config.timeoutMs }, keepAliveTimeout: 1000 });
  }

  reset(): void {
    this.contexts.clear();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.agent.close().catch(() => undefined);
  }

  /** Called by the lifecycle engine on every transition into SUCCESS / CLOSED / ABNORMAL. */
  emit(refund: SimRefund, status: TerminalOutcome): void {
    const merchant = this.store.merchantForOwner(refund.owner);
    if (!merchant) return;
    const now = this.clock.now();
    // §8.5 / §4.9: a v3 refund without notify_url is announced in v2 XML to the portal URL.
    let format: ApiVersion = refund.apiVersion;
    let url = refund.notifyUrl;
    if (!url && merchant.portalNotifyUrl) {
      url = merchant.portalNotifyUrl;
      format = 'v2';
    }
    const faults = this.faults.strikeNotification({
      mchid: refund.mchid,
      owner: refund.owner,
      outRefundNo: refund.outRefundNo,
      outTradeNo: refund.outTradeNo,
      status,
    });
    if (faults.some((f) => f.kind === 'V2_XML')) format = 'v2';
    const id = this.ids.notificationId();
    const base: Omit<SimNotification, 'state' | 'attempts'> = {
      id,
      outRefundNo: refund.outRefundNo,
      refundId: refund.refundId,
      owner: refund.owner,
      mchid: refund.mchid,
      status,
      format,
      url: url ?? '',
      createdAt: now,
      faults: faults.map((f) => f.kind),
    };
    if (!url) {
      this.store.addNotification({ ...base, state: 'NO_URL', attempts: [] });
      return;
    }
    if (faults.some((f) => f.kind === 'DROP')) {
      this.store.addNotification({ ...base, state: 'DROPPED', attempts: [] });
      return;
    }
    const order = this.store.orderByTransactionId(refund.transactionId);
    const build = (undecryptable: boolean) =>
      format === 'v3'
        ? v3NotificationBody(id, now, refund, status, merchant.apiV3Key, undecryptable)
        : v2NotificationBody(refund, status, merchant, order);
    const ctx: DeliveryContext = {
      refund,
      status,
      faults,
      body: build(false),
      undecryptableBody: format === 'v3' && faults.some((f) => f.kind === 'UNDECRYPTABLE') ? build(true) : undefined,
    };
    const copies = faults.find((f) => f.kind === 'DUPLICATE')?.copies ?? 1;
    const delay = faults.find((f) => f.kind === 'DELAY');
    const reorder = faults.find((f) => f.kind === 'REORDER');
    // If no later notification ever comes, a held one is released anyway after delaySeconds.
    if (reorder) ctx.heldUntil = now + reorder.delaySeconds * SECOND_MS;
    for (let i = 0; i < copies; i++) {
      const n: SimNotification = { ...base, state: reorder ? 'HELD' : 'SCHEDULED', attempts: [] };
      this.store.addNotification(n);
      this.contexts.set(n, ctx);
      if (ctx.heldUntil !== undefined) {
        this.hold(n, ctx.heldUntil);
      } else {
        this.scheduleAttempt(n, now + (delay ? delay.delaySeconds * SECOND_MS : 0));
      }
    }
  }

  private hold(n: SimNotification, until: number): void {
    const key = refundKey(n);
    this.held.set(key, [...(this.held.get(key) ?? []), n]);
    this.clock.at(until, `release held ${n.id}`, () => this.release(n));
  }

  /** An unfinished notification's delivery data, for the state file (undefined once it is finished). */
  storedDelivery(n: SimNotification): StoredDelivery | undefined {
    const ctx = this.contexts.get(n);
    if (!ctx || !UNFINISHED.has(n.state)) return undefined;
    const { refund: _refund, ...stored } = ctx;
    return stored;
  }

  /**
   * After a restart: pick up an unfinished notification where it was. One that was in flight when the simulator
   * stopped never got its answer recorded, so it is attempted again now (WeChat, too, delivers at least once).
   */
  restore(n: SimNotification, stored: StoredDelivery | undefined): void {
    if (!stored || !UNFINISHED.has(n.state)) return;
    const refund = this.store.refundById(n.refundId);
    if (!refund) return;
    this.contexts.set(n, { ...stored, refund });
    if (n.state === 'HELD') this.hold(n, stored.heldUntil ?? this.clock.now());
    else this.scheduleAttempt(n, n.state === 'SCHEDULED' ? (n.nextAttemptAt ?? this.clock.now()) : this.clock.now());
  }

  private release(n: SimNotification): void {
    if (n.state !== 'HELD') return;
    const key = refundKey(n);
    this.held.set(
      key,
      (this.held.get(key) ?? []).filter((x) => x !== n),
    );
    this.scheduleAttempt(n, this.clock.now());
  }

  private scheduleAttempt(n: SimNotification, at: number): void {
    n.state = 'SCHEDULED';
    n.nextAttemptAt = at;
    this.store.touchNotification(n);
    this.clock.at(at, `notify ${n.id} #${n.attempts.length + 1}`, () => this.attempt(n));
  }

  private async attempt(n: SimNotification): Promise<void> {
    const ctx = this.contexts.get(n);
    if (!ctx || this.closed) return;
    n.state = 'IN_FLIGHT';
    n.nextAttemptAt = undefined;
    this.store.touchNotification(n);
    const attemptNo = n.attempts.length + 1;
    const active = ctx.faults.filter((f) => attemptNo <= f.attempts);
    const signatureFault = active.map((f) => SIGNATURE_FAULTS[f.kind]).find((f) => f !== undefined);
    const undecryptable = active.some((f) => f.kind === 'UNDECRYPTABLE');
    const body = undecryptable && ctx.undecryptableBody ? ctx.undecryptableBody : ctx.body;
    const headers: Record<string, string> = {
      'User-Agent': 'Mozilla/4.0',
      'Request-ID': this.ids.requestId(),
    };
    let signedWith: string | undefined;
    if (n.format === 'v3') {
      // In the merchant's signing mode as it is at this attempt (a switch applies to retries too, as at WeChat).
      const key = this.signer.nextKey(this.store.merchantForOwner(n.owner));
      signedWith = key.id;
      Object.assign(headers, this.signer.signHeaders(body, signatureFault, key), {
        'Content-Type': 'application/json',
      });
    } else {
      headers['Content-Type'] = 'text/xml';
    }
    // The receiver's 5 s start when the request is sent. Timers due at one instant fire together (clock.fireDue), so
    // a burst signs every notification above before any is sent: yield once, so that each attempt's deadline starts
    // after that signing, not before it. WeChat's many senders have no such queue; without this, a burst of 2,000
    // recorded most first deliveries as "no reply within 5 s" that the receiver had answered in about a second.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.closed) return; // still IN_FLIGHT: a restart attempts it again (restore)
    const startedAt = this.clock.now();
    const realStart = Date.now();
    let statusCode: number | undefined;
    let error: string | undefined;
    let ok = false;
    try {
      const res = await request(n.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        headersTimeout: this.config.timeoutMs,
        bodyTimeout: this.config.timeoutMs,
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      statusCode = res.statusCode;
      const text = await res.body.text();
      ok = this.isSuccess(n.format, res.statusCode, text);
      if (!ok) error = `receiver answered ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`;
    } catch (e) {
      const err = e as Error & { code?: string };
      error =
        err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `no reply within ${this.config.timeoutMs} ms`
          : `${err.code ?? err.name}: ${err.message}`;
    }
    n.attempts.push({
      attempt: attemptNo,
      at: startedAt,
      realAt: realStart,
      statusCode,
      latencyMs: Date.now() - realStart,
      ok,
      error,
      faults: active.map((f) => f.kind),
      signedWith,
    });
    this.store.touchNotification(n);
    if (ok) {
      n.state = 'DELIVERED';
      this.releaseEarlier(n);
      return;
    }
    const schedule = this.config.retryScheduleSeconds;
    const retryIndex = attemptNo - 1;
    if (retryIndex >= schedule.length || this.closed) {
      n.state = 'ABANDONED';
      return;
    }
    this.scheduleAttempt(n, startedAt + schedule[retryIndex] * SECOND_MS);
  }

  /** A later notification got through: the held (reordered) earlier ones follow now, out of order. */
  private releaseEarlier(n: SimNotification): void {
    const key = refundKey(n);
    for (const h of [...(this.held.get(key) ?? [])]) if (h.id !== n.id) this.release(h);
  }

  private isSuccess(format: ApiVersion, status: number, body: string): boolean {
    if (format === 'v2') {
      // v2 receivers must answer return_code=SUCCESS in XML (§5.8).
      if (status !== 200) return false;
      try {
        return parseV2Xml(body).return_code === 'SUCCESS';
      } catch {
        return false;
      }
    }
    if (this.config.successStatuses === 'any-2xx') return status >= 200 && status < 300;
    return status === 200 || status === 204;
  }
}

/** Held notifications are grouped per refund (owner + out_refund_no). */
function refundKey(r: { owner: string; outRefundNo: string }): string {
  return `${r.owner}\u0000${r.outRefundNo}`;
}
