/**
 * When to query WeChat about an accepted refund (reference §7). Notifications are the fast path; these polls
 * guarantee progress when notifications are lost. Pure functions of times, so the workflow stays deterministic and
 * the schedule can be unit-tested exhaustively.
 */
import type { RefundChannel } from '../wechatpay/gateway';
import type { PollingConfig, PollScheduleConfig } from './schemas';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** Payer paid from WeChat balance / 零钱通: settles within minutes. +1..+5 min, +10, +20, +40 min, then every 30 min; 24 h. */
export const DEFAULT_BALANCE_SCHEDULE: PollScheduleConfig = {
  initialOffsetsMs: [1, 2, 3, 4, 5, 10, 20, 40].map((m) => m * MINUTE_MS),
  thenEveryMs: 30 * MINUTE_MS,
  horizon: { calendarDays: 1, businessDays: 0 },
};

/**
 * Bank card: 1–3 business days. +1, +5, +30 min, +2 h, +6 h, +12 h, then every 12 h; MANUAL_REVIEW after
 * 7 calendar days plus 3 business days. About 11 queries for a refund that settles on day 3.
 */
export const DEFAULT_BANK_CARD_SCHEDULE: PollScheduleConfig = {
  initialOffsetsMs: [1 * MINUTE_MS, 5 * MINUTE_MS, 30 * MINUTE_MS, 2 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS],
  thenEveryMs: 12 * HOUR_MS,
  horizon: { calendarDays: 7, businessDays: 3 },
};

/** ABNORMAL, or MANUAL_REVIEW after acceptance: stop routine polling, one query per day while waiting. */
export const DEFAULT_WAITING_EVERY_MS = DAY_MS;

export type ScheduleKind = 'BALANCE' | 'BANK_CARD';

export interface ResolvedPolling {
  balance: PollScheduleConfig;
  bankCard: PollScheduleConfig;
  waitingEveryMs: number;
  holidays: readonly string[];
}

export function resolvePolling(config: PollingConfig | undefined): ResolvedPolling {
  return {
    balance: config?.balance ?? DEFAULT_BALANCE_SCHEDULE,
    bankCard: config?.bankCard ?? DEFAULT_BANK_CARD_SCHEDULE,
    waitingEveryMs: config?.waitingEveryMs ?? DEFAULT_WAITING_EVERY_MS,
    holidays: config?.holidays ?? [],
  };
}

/**
 * Which row of §7 applies. The channel is known once WeChat accepted the refund; before that (or for ORIGINAL) the
 * payment's bank_type is the hint: OTHERS means the payer used WeChat balance. When nothing is known, the bank-card
 * schedule is the safe choice: it starts just as early and gives up much later.
 */
export function scheduleKindFor(channel: RefundChannel | undefined, payerBankType: string | undefined): ScheduleKind {
  switch (channel) {
    case 'BALANCE':
    case 'OTHER_BALANCE':
      return 'BALANCE';
    case 'OTHER_BANKCARD':
      return 'BANK_CARD';
    default:
      return payerBankType === 'OTHERS' ? 'BALANCE' : 'BANK_CARD';
  }
}

export function scheduleFor(kind: ScheduleKind, polling: ResolvedPolling): PollScheduleConfig {
  return kind === 'BALANCE' ? polling.balance : polling.bankCard;
}

/** China has one time zone, UTC+8, without daylight saving: a fixed offset is exact. */
const CHINA_OFFSET_MS = 8 * HOUR_MS;

function chinaDate(ms: number): { weekday: number; ymd: string } {
  const d = new Date(ms + CHINA_OFFSET_MS);
  return { weekday: d.getUTCDay(), ymd: d.toISOString().slice(0, 10) };
}

/** Adds whole days, counting only Monday–Friday in China that are not listed holidays. */
export function addBusinessDays(startMs: number, businessDays: number, holidays: readonly string[] = []): number {
  let t = startMs;
  let counted = 0;
  while (counted < businessDays) {
    t += DAY_MS;
    const { weekday, ymd } = chinaDate(t);
    if (weekday >= 1 && weekday <= 5 && !holidays.includes(ymd)) counted += 1;
  }
  return t;
}

/** The moment after which a still-PROCESSING refund goes to MANUAL_REVIEW. */
export function horizonAt(schedule: PollScheduleConfig, startedAtMs: number, holidays: readonly string[] = []): number {
  const afterCalendarDays = startedAtMs + schedule.horizon.calendarDays * DAY_MS;
  return addBusinessDays(afterCalendarDays, schedule.horizon.businessDays, holidays);
}

/**
 * The first scheduled query strictly after `afterMs` (the previous query, or the schedule's start), or `null` when
 * the schedule is exhausted. The last query is made exactly at the horizon, so escalation is decided on fresh
 * evidence. Driven by times rather than a counter, an extra query (operator "retry now", verifying an ABNORMAL
 * notification) never shifts the schedule, and a worker that was down simply queries once, then resumes.
 */
export function nextScheduledPoll(
  schedule: PollScheduleConfig,
  startedAtMs: number,
  afterMs: number,
  holidays: readonly string[] = [],
): number | null {
  const horizonOffset = horizonAt(schedule, startedAtMs, holidays) - startedAtMs;
  const after = afterMs - startedAtMs;
  let candidate = schedule.initialOffsetsMs.find((offset) => offset > after);
  if (candidate === undefined) {
    const lastInitial = schedule.initialOffsetsMs[schedule.initialOffsetsMs.length - 1];
    const steps = Math.floor((after - lastInitial) / schedule.thenEveryMs) + 1;
    candidate = lastInitial + steps * schedule.thenEveryMs;
  }
  if (candidate <= horizonOffset) return startedAtMs + candidate;
  return after < horizonOffset ? startedAtMs + horizonOffset : null;
}

/** Every query time of a schedule up to its horizon (for docs, tests and the status view). */
export function allScheduledPolls(
  schedule: PollScheduleConfig,
  startedAtMs: number,
  holidays: readonly string[] = [],
): number[] {
  const times: number[] = [];
  let after = startedAtMs;
  for (let next = nextScheduledPoll(schedule, startedAtMs, after, holidays); next !== null;) {
    times.push(next);
    after = next;
    next = nextScheduledPoll(schedule, startedAtMs, after, holidays);
  }
  return times;
}
