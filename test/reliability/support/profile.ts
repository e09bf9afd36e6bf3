/**
 * Two sizes of every reliability scenario: the CI size (part of `npm test`, minutes in total) and the soak size
 * (`npm run soak`: more refunds, more faults, longer outages). Scenarios read their numbers through `sized()`.
 */
export type ReliabilityProfile = 'ci' | 'soak';

export const PROFILE: ReliabilityProfile = process.env.RELIABILITY_PROFILE === 'soak' ? 'soak' : 'ci';

/** The CI value, or the soak value under `npm run soak`. */
export function sized<T>(ci: T, soak: T): T {
  return PROFILE === 'soak' ? soak : ci;
}
