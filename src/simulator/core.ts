/**
 * The simulated WeChat Pay without its HTTP servers: state, clock, rules, lifecycle, notifier, faults, budgets.
 * Both API generations and the admin API drive this one object, so a refund created through v2 is visible to a v3
 * query, and the admin API sees everything.
 */
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
import { resolveKeyMaterial, type KeyMaterial } from './keys';
import { LifecycleEngine } from './lifecycle';
import { Notifier } from './notifier';
import { seedOrder } from './orders';
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
  readonly lifecycle: LifecycleEngine;
  readonly notifier: Notifier;
  readonly service: RefundService;
  readonly calls = new CallStats();
  private readonly startAt: number;
  /** Rules, budgets, delays and notification settings as configured: reset() restores them after PATCH /settings. */
  private readonly configuredSettings: SettingsPatch;

  constructor(readonly config: SimulatorConfig) {
    this.random = new SeededRandom(config.seed);
    this.material = resolveKeyMaterial(config, this.random);
    this.startAt = config.startTime ? Date.parse(config.startTime) : Date.now();
    this.clock = new VirtualClock({ startAt: this.startAt, timeScale: config.timeScale });
    this.store = new SimulatorStore(this.material.merchants, this.material.initialBalances);
    this.ids = new IdFactory(this.random.stream('ids'));
    this.requestIds = new IdFactory(this.random.stream('request-ids'));
    this.faults = new FaultRegistry(this.random.stream('faults'));
    this.limiter = new RateLimiter(config.rateLimits);
    this.signer = new WechatSigner(this.material.wechat);
    this.notifier = new Notifier(this.store, this.clock, this.signer, this.ids, this.faults, config.notifications);
    this.lifecycle = new LifecycleEngine(
      this.store,
      this.clock,
      this.random.stream('lifecycle'),
      config.lifecycle,
      (refund, status) => this.notifier.emit(refund, status),
    );
    this.service = new RefundService(this.store, this.clock, this.ids, this.lifecycle, config.rules);
    this.configuredSettings = structuredClone({
      rules: config.rules,
      rateLimits: config.rateLimits,
      lifecycle: config.lifecycle,
      notifications: config.notifications,
    });
    this.applyConfiguredState();
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
   */
  reset(): void {
    this.clock.clearTimers();
    this.lifecycle.reset();
    this.notifier.reset();
    this.service.reset();
    this.limiter.reset();
    this.calls.reset();
    this.faults.hits.length = 0;
    this.store.reset();
    this.patchSettings(structuredClone(this.configuredSettings));
    this.random.reset();
    this.ids.reset();
    this.requestIds.reset();
    this.applyConfiguredState();
  }

  async close(): Promise<void> {
    this.clock.close();
    await this.notifier.close();
  }
}
