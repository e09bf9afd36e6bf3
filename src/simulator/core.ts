/**
 * The simulated WeChat Pay without its HTTP servers: state, clock, rules, lifecycle, notifier, faults, budgets.
 * Both API generations and the admin API drive this one object, so a refund created through v2 is visible to a v3
 * query, and the admin API sees everything.
 */
import { BillBook } from './bills/bill-book';
import { CallStats } from './call-stats';
import { VirtualClock } from './clock';
import type { SimulatorConfig } from './config';

export type SettingsPatch = {
  rules?: Partial<SimulatorConfig['rules']>;
  rateLimits?: Partial<SimulatorConfig['rateLimits']>;
  lifecycle?: Partial<SimulatorConfig['lifecycle']>;
  notifications?: Partial<SimulatorConfig['notifications']>;
};
import { FaultRegistry } from './faults';
import { IdFactory } from './ids';
import { WechatKeyRotation } from './key-rotation';
import { resolveKeyMaterial, type KeyMaterial } from './keys';
import { LifecycleEngine } from './lifecycle';
import type { SigningMode, SimMerchant } from './model';
import { Notifier } from './notifier';
import { seedOrder } from './orders';
import { SimulatorPersistence } from './persistence';
import { SeededRandom } from './random';
import { RateLimiter } from './rate-limiter';
import { RefundService } from './refund-service';
import { SimulatorStore } from './store';
import { WechatSigner } from './wechat-signer';

export class SimulatorCore {
  readonly random: SeededRandom;
  readonly material: KeyMaterial;
  readonly clock: VirtualClock;
  readonly store: SimulatorStore;
  readonly ids: IdFactory;
  /** Separate stream: the number of HTTP requests must not change refund ids. */
  readonly requestIds: IdFactory;
  readonly faults: FaultRegistry;
  readonly limiter: RateLimiter;
  readonly signer: WechatSigner;
  /** WeChat's keys changing at run time (rotation, a public key for a merchant switched to public-key mode). */
  readonly keys: WechatKeyRotation;
  readonly lifecycle: LifecycleEngine;
  readonly notifier: Notifier;
  readonly service: RefundService;
  /** Refund bills (§12): snapshots (kept in the state file), bill faults, download tokens. */
  readonly bills: BillBook;
  readonly calls = new CallStats();
  /** The state file (config `stateFile`); undefined: state lives in memory only. */
  readonly persistence?: SimulatorPersistence;
  private readonly startAt: number;
  /** Rules, budgets, delays and notification settings as configured: reset() restores them after PATCH /settings. */
  private readonly configuredSettings: SettingsPatch;

  constructor(readonly config: SimulatorConfig) {
    this.random = new SeededRandom(config.seed);
    this.material = resolveKeyMaterial(config, this.random);
    this.persistence = config.stateFile ? new SimulatorPersistence(config.stateFile) : undefined;
    const stored = this.persistence?.load();
    // A restarted simulator resumes from the simulated time it had reached (startTime applies to a new state only).
    this.startAt = stored?.clockNow ?? (config.startTime ? Date.parse(config.startTime) : Date.now());
    this.clock = new VirtualClock({ startAt: this.startAt, timeScale: config.timeScale });
    this.store = new SimulatorStore(this.material.merchants, this.material.initialBalances);
    this.ids = new IdFactory(this.random.stream('ids'));
    this.requestIds = new IdFactory(this.random.stream('request-ids'));
    this.faults = new FaultRegistry(this.random.stream('faults'));
    this.limiter = new RateLimiter(config.rateLimits);
    this.signer = new WechatSigner(this.material.wechat);
    this.keys = new WechatKeyRotation(this.material.wechat, this.material.issuer);
    this.notifier = new Notifier(this.store, this.clock, this.signer, this.ids, this.faults, config.notifications);
    this.lifecycle = new LifecycleEngine(
      this.store,
      this.clock,
      this.random.stream('lifecycle'),
      config.lifecycle,
      (refund, status) => this.notifier.emit(refund, status),
    );
    this.service = new RefundService(this.store, this.clock, this.ids, this.lifecycle, config.rules);
    this.bills = new BillBook(this.store, this.clock, config.rules);
    this.configuredSettings = structuredClone({
      rules: config.rules,
      rateLimits: config.rateLimits,
      lifecycle: config.lifecycle,
      notifications: config.notifications,
    });
    if (stored) {
      // Orders and forced outcomes of the configuration were applied when the state was new; faults are not stored.
      SimulatorPersistence.restore(this.parts(), stored);
      this.faults.replace(this.config.faults, this.config.notificationFaults);
    } else {
      this.applyConfiguredState();
    }
    // A signing mode restored from the state file may need a kind of key this configuration did not generate.
    for (const m of this.store.merchants.values()) this.keys.ensureKeysFor(this.signer.modeOf(m));
    this.persistence?.attach(this.parts());
  }

  /**
   * Switch a merchant's signing mode (admin API): its next reply and notification are signed accordingly. A WeChat
   * Pay public key or platform certificate is issued first if the simulator has none yet.
   */
  setMerchantSigning(merchant: SimMerchant, mode: SigningMode): void {
    this.keys.ensureKeysFor(mode);
    merchant.signWith = mode;
    this.keys.announce();
  }

  private parts() {
    return {
      store: this.store,
      clock: this.clock,
      lifecycle: this.lifecycle,
      notifier: this.notifier,
      ids: this.ids,
      requestIds: this.requestIds,
      bills: this.bills,
    };
  }

  /**
   * Write pending state changes to the state file now (before an API reply goes out); `all` also rewrites balances
   * and merchant settings (admin calls). No-op without a state file.
   */
  persist(all = false): void {
    this.persistence?.flush(all);
  }

  /** Faults, forced outcomes and orders from the configuration (also re-applied by reset). */
  private applyConfiguredState(): void {
    this.faults.replace(this.config.faults, this.config.notificationFaults);
    for (const f of this.config.forcedOutcomes) this.lifecycle.force(f);
    for (const o of this.config.orders) seedOrder(this.store, this.ids, this.clock.now(), o);
  }

  /**
   * Change settings at run time. The sections are updated in place: every module holds the same objects, so the
   * change is seen everywhere at once.
   */
  patchSettings(patch: SettingsPatch): void {
    Object.assign(this.config.rules, patch.rules ?? {});
    Object.assign(this.config.rateLimits, patch.rateLimits ?? {});
    Object.assign(this.config.lifecycle, patch.lifecycle ?? {});
    Object.assign(this.config.notifications, patch.notifications ?? {});
  }

  /**
   * Back to the configured start: no orders, refunds or notifications, configured balances and faults, fresh
   * seeded streams, configured settings. The clock keeps running from where it is (time never goes backwards).
   * The state file is rewritten to match.
   */
  reset(): void {
    this.clock.clearTimers();
    this.lifecycle.reset();
    this.notifier.reset();
    this.service.reset();
    this.bills.reset();
    this.limiter.reset();
    this.calls.reset();
    this.faults.hits.length = 0;
    this.store.reset();
    this.patchSettings(structuredClone(this.configuredSettings));
    this.random.reset();
    this.ids.reset();
    this.requestIds.reset();
    this.applyConfiguredState();
    this.persistence?.rewrite();
  }

  async close(): Promise<void> {
    // First: what is still in flight when the simulator stops (a delivery without its answer) is not recorded, so a
    // restarted simulator attempts it again instead of taking it for abandoned.
    this.persistence?.close();
    this.clock.close();
    await this.notifier.close();
  }
}
