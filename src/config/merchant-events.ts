/**
 * Where a merchant's refund events go: its own target when the registry gives it one (`merchants[].events`), with the
 * deployment's timeout and retry schedule, else the deployment's target (events-settings.ts). Throws when the merchant's events
 * secret cannot be read: that merchant's delivery attempts record why (activities), nobody else's are affected.
 */
import type { EventsTarget } from '../activities';
import type { EventRetrySchedule } from '../workflows/types';
import type { MerchantRegistry } from '../merchants/types';
import { eventsConfigSchema } from './events-settings';

/** The events settings' own defaults (a merchant-only target, with no deployment target to borrow from). */
const EVENTS_DEFAULTS = eventsConfigSchema.parse({});
export const DEFAULT_EVENTS_RETRY: EventRetrySchedule = EVENTS_DEFAULTS.retry;

export function eventsTargetOf(
  registry: MerchantRegistry,
  mchid: string | undefined,
  deployment: EventsTarget | undefined,
): EventsTarget | undefined {
  const entry = mchid === undefined ? undefined : registry.get(mchid);
  if (!entry?.events) return deployment;
  const own = entry.resolveEvents();
  if (!own) return deployment;
  const defaults = deployment ?? EVENTS_DEFAULTS;
  return { url: own.url, secret: own.secret, timeoutMs: defaults.timeoutMs, retry: defaults.retry };
}
