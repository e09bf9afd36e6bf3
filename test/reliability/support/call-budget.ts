/**
 * The WeChat API call budget of a set of refunds, derived from the poll schedule (reference §7) and from the faults
 * the simulator actually injected, never from a magic number:
 *
 *  - a refund's SCHEDULED polls ≤ the points of its schedule (`allScheduledPolls`, i.e. `nextScheduledPoll` applied
 *    from the schedule's start) that fell due between acceptance and settlement. Polls are time-driven: a poll that
 *    runs late or fails never adds a point, so more polls than points would be a real bug;
 *  - a refund's failed create rounds ≤ the faults that struck its create/query calls plus its calls that got no
 *    answer in time (every uncertain round must be explained by an injected fault or an unknown outcome), and its
 *    look-ups before a resend ≤ its failed rounds;
 *  - a refund's create calls ≤ 1 + its failed rounds (attempts minus adoptions: an adopted refund was found by the
 *    look-up and not sent again);
 *  - one CHANNEL look-up only for a refund that a notification settled while no create of it had returned WeChat's
 *    record (a v3 notification names no channel; a create reply, even one arriving after the notification, does);
 *  - at the simulator: create calls ≤ Σ create budgets, query calls ≤ Σ (schedule points + failed rounds) plus one
 *    Temporal activity retry per fault that struck a query.
 */
import type { Client } from '@temporalio/client';
import type { PollingConfig } from '../../../src/domain/schemas';
import { allScheduledPolls, resolvePolling, scheduleFor, type ScheduleKind } from '../../../src/domain/poll-schedule';
import type { CallCounts } from '../../../src/simulator/admin-schemas';
import type { FaultHit } from '../../../src/simulator/faults';
import { refundHandle, type RefundOutcome, type RefundReceipt } from '../../../src/starter';
import { statusQuery } from '../../../src/workflows/definitions';
import type { RefundStatusView } from '../../../src/workflows/types';

/** Failure codes of a call that got no answer in time: the client's own timeout, or the activity's. */
const UNANSWERED_CODES: ReadonlySet<string> = new Set(['TIMEOUT', 'ACTIVITY_TIMEOUT']);

export interface RefundCalls {
  outRefundNo: string;
  outcome: RefundOutcome;
  view: RefundStatusView;
  /** Evidence of the transition into the final state (query, notification, create...). */
  settledBy: string;
  acceptedAtMs?: number;
  settledAtMs: number;
  /** Points of the refund's poll schedule due in (schedule start, settlement]. */
  schedulePoints: number;
  scheduledPolls: number;
  otherPolls: number;
  submitAttempts: number;
  failedSubmits: number;
  adopted: number;
  /** Look-ups made by submitRefund before a resend (RefundOutcome.queries − polls). */
  submitQueries: number;
  /** Faults the simulator injected into this refund's calls, by endpoint. */
  hits: { create: number; query: number };
  /** Failed rounds that no fault on this refund's own calls explains (all unanswered calls: timeouts). */
  unattributedFailures: number;
  /** Upper bounds of this refund's calls. */
  budget: { creates: number; queries: number };
  problems: string[];
}

/** The status view of every (finished) refund workflow: its timeline is the per-refund call record. */
export async function statusViews(client: Client, receipts: RefundReceipt[]): Promise<Map<string, RefundStatusView>> {
  const views = new Map<string, RefundStatusView>();
  for (const receipt of receipts) {
    views.set(receipt.outRefundNo, await refundHandle(client, receipt).query(statusQuery));
  }
  return views;
}

export function refundCalls(
  outcome: RefundOutcome,
  view: RefundStatusView,
  polling: PollingConfig,
  hits: FaultHit[],
): RefundCalls {
  const problems: string[] = [];
  const no = outcome.outRefundNo;
  const final = view.transitions[view.transitions.length - 1];
  const settledAtMs = Date.parse(final.at);
  let schedulePoints = 0;
  if (view.schedule && view.schedule.kind !== 'WAITING') {
    const resolved = resolvePolling(polling);
    const startedAtMs = Date.parse(view.schedule.startedAt);
    schedulePoints = allScheduledPolls(
      scheduleFor(view.schedule.kind as ScheduleKind, resolved),
      startedAtMs,
      resolved.holidays,
    ).filter((t) => t <= settledAtMs).length;
  }
  const scheduledPolls = view.polls.filter((p) => p.reason === 'SCHEDULED').length;
  const channelPolls = view.polls.filter((p) => p.reason === 'CHANNEL').length;
  const noRecordFromCreate = view.submitAttempts.every((a) => a.result === 'FAILED');
  const channelPollsAllowed = noRecordFromCreate && (outcome.state === 'SUCCESS' || outcome.state === 'CLOSED') ? 1 : 0;
  const otherPolls = view.polls.length - scheduledPolls - Math.min(channelPolls, channelPollsAllowed);
  const failedSubmits = view.submitAttempts.filter((a) => a.result === 'FAILED').length;
  const adopted = view.submitAttempts.filter((a) => a.result === 'ADOPTED').length;
  const submitQueries = outcome.queries - view.polls.length;
  const mine = hits.filter((h) => h.outRefundNo === no);
  const refundHits = {
    create: mine.filter((h) => h.target === 'v3.create').length,
    query: mine.filter((h) => h.target === 'v3.query').length,
  };
  const budget = { creates: 1 + failedSubmits, queries: schedulePoints + failedSubmits + channelPollsAllowed };

  if (outcome.submitAttempts !== view.submitAttempts.length) {
    problems.push(`${no}: result says ${outcome.submitAttempts} submits, timeline ${view.submitAttempts.length}`);
  }
  if (scheduledPolls > schedulePoints) {
    problems.push(`${no}: ${scheduledPolls} scheduled polls but only ${schedulePoints} schedule points fell due`);
  }
  if (otherPolls > 0) {
    problems.push(`${no}: ${otherPolls} unscheduled polls (${view.polls.map((p) => p.reason).join(',')})`);
  }
  // Each failed round is explained by a fault that struck this refund's own calls, or it is a call that got no answer
  // in time (the worker's HTTP client or the activity timed out): an unknown outcome, which under load can also come
  // from other refunds' hanging calls holding the worker's connection pool.
  const failures = view.submitAttempts.filter((a) => a.result === 'FAILED').map((a) => a.error?.code ?? '?');
  const unanswered = failures.filter((code) => UNANSWERED_CODES.has(code)).length;
  const unattributed = Math.max(0, failedSubmits - (refundHits.create + refundHits.query));
  if (unattributed > unanswered) {
    problems.push(
      `${no}: ${failedSubmits} failed create rounds (${failures.join(', ')}) but only ` +
        `${refundHits.create + refundHits.query} faults hit it`,
    );
  }
  if (submitQueries < 0 || submitQueries > failedSubmits) {
    problems.push(`${no}: ${submitQueries} look-ups before resends after ${failedSubmits} failed rounds`);
  }
  if (view.submitAttempts.length - adopted > budget.creates) {
    problems.push(`${no}: ${view.submitAttempts.length - adopted} creates > budget ${budget.creates}`);
  }
  if (outcome.queries > budget.queries) {
    problems.push(`${no}: ${outcome.queries} queries > budget ${budget.queries}`);
  }
  return {
    outRefundNo: no,
    outcome,
    view,
    settledBy: final.evidence,
    acceptedAtMs: view.acceptedAt === undefined ? undefined : Date.parse(view.acceptedAt),
    settledAtMs,
    schedulePoints,
    scheduledPolls,
    otherPolls,
    submitAttempts: view.submitAttempts.length,
    failedSubmits,
    adopted,
    submitQueries,
    hits: refundHits,
    unattributedFailures: unattributed,
    budget,
    problems,
  };
}

/** Per-endpoint difference of two `calls()` snapshots (after − before). */
export function callsSince(after: CallCounts, before: CallCounts): CallCounts {
  const out: CallCounts = {};
  for (const [endpoint, a] of Object.entries(after)) {
    const b = before[endpoint] ?? { total: 0, byStatus: {}, byCode: {} };
    const diff = (x: Record<string, number>, y: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(x)
          .map(([k, v]) => [k, v - (y[k] ?? 0)] as const)
          .filter(([, v]) => v !== 0),
      );
    const total = a.total - b.total;
    if (total !== 0)
      out[endpoint] = { total, byStatus: diff(a.byStatus, b.byStatus), byCode: diff(a.byCode, b.byCode) };
  }
  return out;
}

export interface CallBudgetCheck {
  problems: string[];
  refunds: RefundCalls[];
  figures: {
    apiCalls: Record<string, number>;
    apiCallsPerRefund: Record<string, number>;
    budget: { creates: number; queries: number };
    used: { creates: string; queries: string };
    schedulePointsDue: number;
    scheduledPolls: number;
    failedCreateRounds: number;
    failedRoundsWithoutOwnFault: number;
    queriesRecordedByWorkflowsPlusFaultRetries: number;
    adoptedAfterUnknownOutcome: number;
    lookupsBeforeResend: number;
    maxQueriesOneRefund: number;
    settledBy: Record<string, number>;
  };
}

/**
 * Checks every refund against its own budget, then the simulator's call counts (`calls`, already limited to these
 * refunds' phase) against the sum of the budgets plus one activity retry per fault that struck a query (`hits`).
 */
export function checkCallBudget(
  outcomes: Map<string, RefundOutcome>,
  views: Map<string, RefundStatusView>,
  polling: PollingConfig,
  hits: FaultHit[],
  calls: CallCounts,
): CallBudgetCheck {
  const problems: string[] = [];
  const refunds: RefundCalls[] = [];
  for (const [no, outcome] of outcomes) {
    const view = views.get(no);
    if (!view) {
      problems.push(`${no}: no status view`);
      continue;
    }
    const r = refundCalls(outcome, view, polling, hits);
    problems.push(...r.problems);
    refunds.push(r);
  }
  const sum = (f: (r: RefundCalls) => number) => refunds.reduce((s, r) => s + f(r), 0);
  const queryHits = hits.filter((h) => h.target === 'v3.query').length;
  const budget = {
    creates: sum((r) => r.budget.creates),
    queries: sum((r) => r.budget.queries) + queryHits,
  };
  const creates = calls['v3.create']?.total ?? 0;
  const queries = calls['v3.query']?.total ?? 0;
  if (creates > budget.creates) problems.push(`simulator saw ${creates} creates, budget ${budget.creates}`);
  if (queries > budget.queries) problems.push(`simulator saw ${queries} queries, budget ${budget.queries}`);
  // The tighter accounting (reported): the workflows' own query records plus one retry per struck query. Calls beyond
  // it are activity retries after unanswered calls (timeouts), which the workflow records do not show.
  const recordedQueries = sum((r) => r.outcome.queries) + queryHits;
  if (creates < refunds.length) problems.push(`simulator saw ${creates} creates for ${refunds.length} refunds`);
  const apiCalls = Object.fromEntries(Object.entries(calls).map(([e, c]) => [e, c.total]));
  const n = Math.max(1, refunds.length);
  const settledBy: Record<string, number> = {};
  for (const r of refunds) settledBy[r.settledBy] = (settledBy[r.settledBy] ?? 0) + 1;
  return {
    problems,
    refunds,
    figures: {
      apiCalls,
      apiCallsPerRefund: Object.fromEntries(Object.entries(apiCalls).map(([e, c]) => [e, round2(c / n)])),
      budget,
      used: {
        creates: `${creates}/${budget.creates} (${pct(creates, budget.creates)})`,
        queries: `${queries}/${budget.queries} (${pct(queries, budget.queries)})`,
      },
      schedulePointsDue: sum((r) => r.schedulePoints),
      scheduledPolls: sum((r) => r.scheduledPolls),
      failedCreateRounds: sum((r) => r.failedSubmits),
      failedRoundsWithoutOwnFault: sum((r) => r.unattributedFailures),
      queriesRecordedByWorkflowsPlusFaultRetries: recordedQueries,
      adoptedAfterUnknownOutcome: sum((r) => r.adopted),
      lookupsBeforeResend: sum((r) => r.submitQueries),
      maxQueriesOneRefund: Math.max(0, ...refunds.map((r) => r.outcome.queries)),
      settledBy,
    },
  };
}

/** Fault hits counted by `endpoint kind`. */
export function hitsByKind(hits: FaultHit[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of hits) out[`${h.target} ${h.kind}`] = (out[`${h.target} ${h.kind}`] ?? 0) + 1;
  return out;
}

/**
 * Probabilities for faults that the simulator tries one after the other (the first that strikes wins), so that each
 * kind strikes `total / kinds.length` of the calls and `total` of the calls hit some fault. List the kinds in the order
 * the simulator tries them (those striking before the commit, then those after it).
 */
export function evenSplit<K extends string>(total: number, kinds: K[]): Array<{ kind: K; probability: number }> {
  const share = total / kinds.length;
  let remaining = 1;
  return kinds.map((kind) => {
    const probability = share / remaining;
    remaining -= share;
    return { kind, probability };
  });
}

function pct(used: number, of: number): string {
  return of === 0 ? 'n/a' : `${Math.round((100 * used) / of)}%`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
