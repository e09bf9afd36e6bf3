/**
 * WeChat-shaped identifiers from the seeded stream: transaction ids (4200…, 28 digits), refund ids (50…, 29 digits,
 * §1.1), notification ids (EV-…, ≤36) and Request-IDs. A counter makes collisions impossible within a run.
 */
import type { RandomStream } from './random';
import { beijingDate } from './time-format';

export class IdFactory {
  private counter = 0;

  constructor(private readonly rng: RandomStream) {}

  reset(): void {
    this.counter = 0;
  }

  /** How many ids were issued: stored, so a restarted simulator never issues the same id twice (persistence.ts). */
  get position(): number {
    return this.counter;
  }

  resumeAt(position: number): void {
    this.counter = Math.max(this.counter, position);
  }

  private next(): string {
    this.counter += 1;
    return String(this.counter).padStart(6, '0');
  }

  transactionId(now: number): string {
    return `4200${this.rng.digits(6)}${beijingDate(now)}${this.next()}${this.rng.digits(4)}`;
  }

  refundId(now: number): string {
    return `50${this.rng.digits(7)}${beijingDate(now)}${this.next()}${this.rng.digits(6)}`;
  }

  notificationId(): string {
    return `EV-${this.next()}-${this.rng.hex(24)}`;
  }

  requestId(): string {
    return `${this.rng.hex(16)}-${this.next()}`;
  }

  couponRefundId(): string {
    return `${this.rng.digits(12)}${this.next()}`;
  }

  cardLast4(): string {
    return this.rng.digits(4);
  }
}
