import {
  addBusinessDays,
  allScheduledPolls,
  DAY_MS,
  DEFAULT_BALANCE_SCHEDULE,
  DEFAULT_BANK_CARD_SCHEDULE,
  horizonAt,
  HOUR_MS,
  MINUTE_MS,
  nextScheduledPoll,
  resolvePolling,
  scheduleKindFor,
} from '../../../src/domain/poll-schedule';

/** Monday 2024-05-06 10:00 in China. */
const monday = Date.parse('2024-05-06T10:00:00+08:00');
const minutes = (times: number[], start: number) => times.map((t) => (t - start) / MINUTE_MS);

describe('which schedule (§7)', () => {
  test.each([
    ['BALANCE', undefined, 'BALANCE'],
    ['OTHER_BALANCE', 'ICBC_DEBIT', 'BALANCE'],
    ['OTHER_BANKCARD', 'OTHERS', 'BANK_CARD'],
    ['ORIGINAL', 'OTHERS', 'BALANCE'],
    ['ORIGINAL', 'CMB_CREDIT', 'BANK_CARD'],
    ['UNKNOWN', undefined, 'BANK_CARD'],
    [undefined, 'OTHERS', 'BALANCE'],
  ] as const)('channel %s, payer bank_type %s → %s', (channel, bankType, kind) => {
    expect(scheduleKindFor(channel, bankType)).toBe(kind);
  });
});

describe('balance schedule', () => {
  test('+1..+5 min, +10, +20, +40 min, then every 30 min, the last query at 24 h', () => {
    const polls = minutes(allScheduledPolls(DEFAULT_BALANCE_SCHEDULE, monday), monday);
    expect(polls.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 10, 20, 40, 70, 100]);
    expect(polls.at(-1)).toBe(24 * 60);
    expect(polls).toHaveLength(55);
    expect(new Set(polls.slice(8, -1).map((m, i, a) => (i ? m - a[i - 1] : 30)))).toEqual(new Set([30]));
  });
});

describe('bank-card schedule', () => {
  test('+1, +5, +30 min, +2 h, +6 h, +12 h, then every 12 h; a refund settling on day 3 takes 11 queries', () => {
    const polls = allScheduledPolls(DEFAULT_BANK_CARD_SCHEDULE, monday).map((t) => (t - monday) / HOUR_MS);
    expect(polls.slice(0, 9)).toEqual([1 / 60, 5 / 60, 0.5, 2, 6, 12, 24, 36, 48]);
    const settlesAt = 66; // hours: day 3
    expect(polls.findIndex((h) => h >= settlesAt) + 1).toBe(11);
  });

  test('escalates after 7 calendar days plus 3 business days (weekends skipped, China time)', () => {
    // Monday + 7 days = next Monday; + 3 business days = Thursday.
    expect(horizonAt(DEFAULT_BANK_CARD_SCHEDULE, monday)).toBe(Date.parse('2024-05-16T10:00:00+08:00'));
    // Thursday + 7 days = Thursday; + Fri, (Sat, Sun), Mon, Tue = Tuesday.
    const thursday = Date.parse('2024-05-09T10:00:00+08:00');
    expect(horizonAt(DEFAULT_BANK_CARD_SCHEDULE, thursday)).toBe(Date.parse('2024-05-21T10:00:00+08:00'));
    const polls = allScheduledPolls(DEFAULT_BANK_CARD_SCHEDULE, thursday);
    expect(polls.at(-1)).toBe(Date.parse('2024-05-21T10:00:00+08:00'));
  });

  test('configured holidays are not business days', () => {
    const friday = Date.parse('2024-09-13T10:00:00+08:00');
    expect(addBusinessDays(friday, 1)).toBe(Date.parse('2024-09-16T10:00:00+08:00'));
    // Mid-Autumn Festival 2024: Monday 16 and Tuesday 17 September.
    expect(addBusinessDays(friday, 1, ['2024-09-16', '2024-09-17'])).toBe(Date.parse('2024-09-18T10:00:00+08:00'));
  });

  test('business days follow China’s calendar, not UTC: 23:30 Friday in Beijing is Friday', () => {
    const fridayLateChina = Date.parse('2024-05-10T23:30:00+08:00');
    expect(addBusinessDays(fridayLateChina, 1)).toBe(Date.parse('2024-05-13T23:30:00+08:00'));
  });
});

describe('next poll', () => {
  test('an extra query (operator, verification) does not shift the schedule', () => {
    const afterExtra = nextScheduledPoll(DEFAULT_BANK_CARD_SCHEDULE, monday, monday + 3 * MINUTE_MS);
    expect(afterExtra).toBe(monday + 5 * MINUTE_MS);
  });

  test('a worker down for hours queries once, then resumes the schedule', () => {
    const late = monday + 10 * HOUR_MS;
    expect(nextScheduledPoll(DEFAULT_BANK_CARD_SCHEDULE, monday, monday + 2 * HOUR_MS)).toBe(monday + 6 * HOUR_MS);
    expect(nextScheduledPoll(DEFAULT_BANK_CARD_SCHEDULE, monday, late)).toBe(monday + 12 * HOUR_MS);
  });

  test('exhausted after the query at the horizon', () => {
    const horizon = horizonAt(DEFAULT_BALANCE_SCHEDULE, monday);
    expect(nextScheduledPoll(DEFAULT_BALANCE_SCHEDULE, monday, horizon - 1)).toBe(horizon);
    expect(nextScheduledPoll(DEFAULT_BALANCE_SCHEDULE, monday, horizon)).toBeNull();
  });

  test('a horizon that cuts the initial offsets short still ends with a query at the horizon', () => {
    const short = {
      initialOffsetsMs: [HOUR_MS, 30 * HOUR_MS],
      thenEveryMs: HOUR_MS,
      horizon: { calendarDays: 1, businessDays: 0 },
    };
    expect(allScheduledPolls(short, monday)).toEqual([monday + HOUR_MS, monday + DAY_MS]);
  });
});

test('configuration: defaults unless overridden', () => {
  const custom = { ...DEFAULT_BALANCE_SCHEDULE, thenEveryMs: 15 * MINUTE_MS };
  const resolved = resolvePolling({ balance: custom, waitingEveryMs: 12 * HOUR_MS });
  expect(resolved).toEqual({
    balance: custom,
    bankCard: DEFAULT_BANK_CARD_SCHEDULE,
    waitingEveryMs: 12 * HOUR_MS,
    holidays: [],
  });
  expect(resolvePolling(undefined).waitingEveryMs).toBe(DAY_MS);
});
