/**
 * Active faults and the seeded decision of whether one strikes (reference §8.6). Each hit is logged so tests and
 * operators can see exactly which fault produced which symptom.
 */
import {
  endpointFaultSchema,
  notificationFaultSchema,
  type EndpointFault,
  type EndpointFaultInput,
  type EndpointFaultKind,
  type EndpointId,
  type NotificationFault,
  type NotificationFaultInput,
} from './fault-schemas';
import type { RandomStream } from './random';

export type FaultPhase = 'before' | 'after' | 'reply' | 'lag';

const PHASE_OF: Record<EndpointFaultKind, FaultPhase> = {
  SYSTEM_ERROR: 'before',
  FREQUENCY_LIMITED: 'before',
  SERVICE_UNAVAILABLE: 'before',
  RESET: 'before',
  HANG: 'before',
  SYSTEM_ERROR_AFTER_COMMIT: 'after',
  FREQUENCY_LIMITED_AFTER_COMMIT: 'after',
  LOST_REPLY: 'after',
  SLOW: 'after',
  BAD_SIGNATURE: 'reply',
  SIGNTEST_SIGNATURE: 'reply',
  UNKNOWN_SERIAL: 'reply',
  STALE_TIMESTAMP: 'reply',
  MISSING_SIGNATURE: 'reply',
  QUERY_LAG: 'lag',
};

export interface FaultHit {
  /** Real time. */
  at: string;
  faultId: string;
  kind: string;
  target: string;
  outRefundNo?: string;
  outTradeNo?: string;
}

export interface FaultContext {
  mchid?: string;
  outRefundNo?: string;
  outTradeNo?: string;
  /** `arrival()` when the request came in: faults added later leave it alone (e.g. a reply still held by SLOW). */
  arrival?: number;
}

export class FaultRegistry {
  private endpointFaults: EndpointFault[] = [];
  private notificationFaults: NotificationFault[] = [];
  private counter = 0;
  /** Orders fault additions and request arrivals, so a fault strikes only requests that arrived after it. */
  private sequence = 0;
  private readonly addedAt = new Map<string, number>();
  readonly hits: FaultHit[] = [];

  constructor(private readonly rng: RandomStream) {}

  private nextId(prefix: string): string {
    this.counter += 1;
    return `${prefix}-${this.counter}`;
  }

  addEndpointFault(input: EndpointFaultInput): EndpointFault {
    const parsed = endpointFaultSchema.parse(input);
    const fault = { ...parsed, id: parsed.id ?? this.nextId('fault') };
    this.endpointFaults = this.endpointFaults.filter((f) => f.id !== fault.id);
    this.endpointFaults.push(fault);
    this.sequence += 1;
    this.addedAt.set(fault.id, this.sequence);
    return fault;
  }

  /** Taken when a request arrives, for its FaultContext. */
  arrival(): number {
    return this.sequence;
  }

  addNotificationFault(input: NotificationFaultInput): NotificationFault {
    const parsed = notificationFaultSchema.parse(input);
    const fault = { ...parsed, id: parsed.id ?? this.nextId('nfault') };
    this.notificationFaults = this.notificationFaults.filter((f) => f.id !== fault.id);
    this.notificationFaults.push(fault);
    return fault;
  }

  replace(endpointFaults: EndpointFaultInput[], notificationFaults: NotificationFaultInput[]): void {
    this.clear();
    for (const f of endpointFaults) this.addEndpointFault(f);
    for (const f of notificationFaults) this.addNotificationFault(f);
  }

  remove(id: string): boolean {
    const before = this.endpointFaults.length + this.notificationFaults.length;
    this.endpointFaults = this.endpointFaults.filter((f) => f.id !== id);
    this.notificationFaults = this.notificationFaults.filter((f) => f.id !== id);
    return this.endpointFaults.length + this.notificationFaults.length < before;
  }

  clear(): void {
    this.endpointFaults = [];
    this.notificationFaults = [];
  }

  list(): { faults: EndpointFault[]; notificationFaults: NotificationFault[] } {
    return { faults: [...this.endpointFaults], notificationFaults: [...this.notificationFaults] };
  }

  /** The first active fault of `phase` for this request that strikes (consumes one of its `times`). */
  strike(endpoint: EndpointId, phase: FaultPhase, ctx: FaultContext): EndpointFault | undefined {
    for (const f of this.endpointFaults) {
      if (PHASE_OF[f.kind] !== phase) continue;
      if (f.endpoint !== '*' && f.endpoint !== endpoint) continue;
      if (!this.selects(f, ctx)) continue;
      if (!this.rng.chance(f.probability)) continue;
      this.consume(f, this.endpointFaults, (list) => (this.endpointFaults = list as EndpointFault[]));
      this.recordHit(f, endpoint, ctx);
      return f;
    }
    return undefined;
  }

  /** Whether a QUERY_LAG fault hides a refund accepted `ageSeconds` ago. Does not consume unless it hides. */
  hidesRefund(endpoint: EndpointId, ctx: FaultContext, ageSeconds: number): EndpointFault | undefined {
    for (const f of this.endpointFaults) {
      if (f.kind !== 'QUERY_LAG' || (f.endpoint !== '*' && f.endpoint !== endpoint)) continue;
      if (!this.selects(f, ctx) || ageSeconds >= f.lagSeconds) continue;
      if (!this.rng.chance(f.probability)) continue;
      this.consume(f, this.endpointFaults, (list) => (this.endpointFaults = list as EndpointFault[]));
      this.recordHit(f, endpoint, ctx);
      return f;
    }
    return undefined;
  }

  /** Every notification fault that strikes this notification. */
  strikeNotification(ctx: FaultContext & { owner?: string; status: string }): NotificationFault[] {
    const out: NotificationFault[] = [];
    for (const f of [...this.notificationFaults]) {
      if (f.status !== undefined && f.status !== ctx.status) continue;
      if (f.outRefundNo !== undefined && f.outRefundNo !== ctx.outRefundNo) continue;
      if (f.outTradeNo !== undefined && f.outTradeNo !== ctx.outTradeNo) continue;
      if (f.mchid !== undefined && f.mchid !== ctx.mchid && f.mchid !== ctx.owner) continue;
      if (!this.rng.chance(f.probability)) continue;
      this.consume(f, this.notificationFaults, (list) => (this.notificationFaults = list as NotificationFault[]));
      this.recordHit(f, 'notification', ctx);
      out.push(f);
    }
    return out;
  }

  /** Every strike is kept for the admin API's fault-hit report. */
  private recordHit(f: { id: string; kind: string }, target: string, ctx: FaultContext): void {
    this.hits.push({
      at: new Date().toISOString(),
      faultId: f.id,
      kind: f.kind,
      target,
      outRefundNo: ctx.outRefundNo,
      ...(ctx.outTradeNo !== undefined ? { outTradeNo: ctx.outTradeNo } : {}),
    });
  }

  private selects(
    f: { id: string; mchid?: string; outRefundNo?: string; outTradeNo?: string },
    ctx: FaultContext,
  ): boolean {
    if (ctx.arrival !== undefined && ctx.arrival < (this.addedAt.get(f.id) ?? 0)) return false;
    if (f.mchid !== undefined && f.mchid !== ctx.mchid) return false;
    if (f.outRefundNo !== undefined && f.outRefundNo !== ctx.outRefundNo) return false;
    if (f.outTradeNo !== undefined && f.outTradeNo !== ctx.outTradeNo) return false;
    return true;
  }

  private consume<T extends { id: string; times?: number }>(f: T, list: T[], set: (l: T[]) => void): void {
    if (f.times === undefined) return;
    f.times -= 1;
    if (f.times <= 0) set(list.filter((x) => x.id !== f.id));
  }
}
