/**
 * Seeded randomness for every business choice of the simulator (ids, delays, outcomes, faults), so a run is
 * reproducible from its seed. Each concern draws from its own stream, derived from the seed and the stream's name:
 * switching a fault on must not shift the refund ids or settlement delays of an otherwise identical run.
 *
 * Cryptographic nonces (AES-GCM IVs, signature nonces) deliberately do NOT come from here: reusing a GCM nonce under
 * the same APIv3 key across two runs with the same seed would break the encryption the simulator is meant to model.
 */
import { createHash } from 'node:crypto';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export class RandomStream {
  constructor(private rng: RandomGenerator) {}

  /** Restart from a new generator (reset replays the run from the seed; holders keep their stream object). */
  reseed(rng: RandomGenerator): void {
    this.rng = rng;
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.rng, min, max);
  }

  /** Float in [0, 1) with 2^-30 resolution (probabilities, never money). */
  float(): number {
    return this.int(0, 2 ** 30 - 1) / 2 ** 30;
  }

  /** True with probability p. p = 1 never consumes randomness, so "always" faults do not shift the stream. */
  chance(p: number): boolean {
    if (p >= 1) return true;
    if (p <= 0) return false;
    return this.float() < p;
  }

  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }

  alnum(n: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789ABCDEF'[this.int(0, 15)];
    return s;
  }
}

export class SeededRandom {
  private readonly streams = new Map<string, RandomStream>();

  constructor(readonly seed: number) {}

  /** The named stream (created on first use, deterministic in seed and name). */
  stream(name: string): RandomStream {
    let s = this.streams.get(name);
    if (!s) {
      s = new RandomStream(this.generator(name));
      this.streams.set(name, s);
    }
    return s;
  }

  /** Every stream starts over from the seed: after a reset, the run replays identically. */
  reset(): void {
    for (const [name, s] of this.streams) s.reseed(this.generator(name));
  }

  private generator(name: string): RandomGenerator {
    const digest = createHash('sha256').update(`${this.seed}:${name}`).digest();
    return xoroshiro128plus(digest.readInt32BE(0));
  }
}
