/**
 * The projection to 1,000,000 refunds in flight (issue 19), computed from one measured run of bench/scale-cluster.ts
 * and the engine's own poll schedule, so a new run re-projects itself. Pure arithmetic: every input is either a
 * measured figure of that run or a rule of the product (src/domain/poll-schedule.ts, docs/merchants.md's budget).
 */
import { DAY_MS, DEFAULT_BANK_CARD_SCHEDULE } from '../../src/domain/poll-schedule';

/** The parts of a scale-cluster result the projection reads (see bench/scale-cluster.ts for the whole). */
export interface ScaleFigures {
  count: number;
  workers: number;
  workerSettings: {
    maxCachedWorkflows: number;
    maxOldSpaceSizeMB: number;
    budget: { createsPerSecond: number; queriesPerSecond: number };
  };
  start: { requestsPerSecond: number };
  drain: { refundsPerSecond: number; deliveriesPerNotification: number };
  memory: {
    workers: Array<{ peakMiB: number }>;
    servers: Array<{ process: string; miBPer1kRefunds?: number }>;
  };
  storage: {
    historyEventBytesPerRefund: number;
    perRefundInFlight: Array<{ table: string; rowsPerRefund: number; bytesPerRefund: number }>;
  };
}

export const TARGET = 1_000_000;
/** WeChat's own limit on refund queries per merchant (docs/wechatpay-protocol.md). */
const WECHAT_QUERY_LIMIT_PER_SECOND = 300;
/** Bank-card refunds take 1–3 business days: the projection holds each in flight for 3 days. */
const DAYS_IN_FLIGHT = 3;

/** Polls a bank-card refund makes in its first `days` days on the default schedule (no notification arriving). */
export function bankCardPollsWithin(days: number): number {
  const until = days * DAY_MS;
  const first = DEFAULT_BANK_CARD_SCHEDULE.initialOffsetsMs.filter((at) => at <= until);
  const last = DEFAULT_BANK_CARD_SCHEDULE.initialOffsetsMs.at(-1) ?? 0;
  const then = Math.max(0, Math.floor((until - last) / DEFAULT_BANK_CARD_SCHEDULE.thenEveryMs));
  return first.length + then;
}

export interface Projection {
  storage: { postgresGiB: number; visibilityGiB: number; historyNodeRows: number; historyEventGiB: number };
  /** MiB per 1,000 in flight × 1,000: an upper bound (the history service caches a bounded number of workflows). */
  serverMiBLinear: Array<{ process: string; gib: number }>;
  workers: {
    peakMiB: number;
    drainPerWorker: number;
    forDrainInOneHour: number;
    acceptPerWorker: number;
    forAcceptInOneDay: number;
  };
  wechat: {
    pollsPerRefund: number;
    steadyArrivalsPerSecond: number;
    steadyQueriesPerSecond: number;
    queryQueuePerSecond: number;
    burstCreateHours: number;
    burstQueriesPerSecond: number;
  };
}

const gib = (bytes: number) => Math.round((bytes / 2 ** 30) * 10) / 10;
const one = (x: number) => Math.round(x * 10) / 10;

export function project(r: ScaleFigures, target = TARGET): Projection {
  const rows = r.storage.perRefundInFlight;
  const bytes = (pick: (table: string) => boolean) =>
    rows.filter((x) => pick(x.table)).reduce((sum, x) => sum + Math.max(0, x.bytesPerRefund), 0);
  const historyNode = rows.find((x) => x.table.endsWith('.history_node'));
  const pollsPerRefund = bankCardPollsWithin(DAYS_IN_FLIGHT);
  const steadyArrivalsPerSecond = target / ((DAYS_IN_FLIGHT * DAY_MS) / 1000);
  // Each budgeted queue runs at half the merchant's budget (docs/merchants.md), enforced across all workers.
  const createQueue = r.workerSettings.budget.createsPerSecond / 2;
  const queryQueue = r.workerSettings.budget.queriesPerSecond / 2;
  // The first three bank-card polls (+1, +5, +30 min) follow each create within half an hour.
  const earlyPolls = DEFAULT_BANK_CARD_SCHEDULE.initialOffsetsMs.filter((at) => at <= 30 * 60_000).length;
  const drainPerWorker = r.drain.refundsPerSecond / r.workers;
  const acceptPerWorker = r.start.requestsPerSecond / r.workers;
  return {
    storage: {
      postgresGiB: gib(bytes(() => true) * target),
      visibilityGiB: gib(bytes((t) => t.startsWith('temporal_visibility.')) * target),
      historyNodeRows: Math.round((historyNode?.rowsPerRefund ?? 0) * target),
      historyEventGiB: gib(r.storage.historyEventBytesPerRefund * target),
    },
    serverMiBLinear: r.memory.servers
      .filter((s) => s.miBPer1kRefunds !== undefined && s.miBPer1kRefunds > 0)
      .map((s) => ({ process: s.process, gib: gib((s.miBPer1kRefunds! * 2 ** 20 * target) / 1000) })),
    workers: {
      peakMiB: Math.max(...r.memory.workers.map((w) => w.peakMiB)),
      drainPerWorker: one(drainPerWorker),
      forDrainInOneHour: Math.ceil(target / 3600 / drainPerWorker),
      acceptPerWorker: one(acceptPerWorker),
      forAcceptInOneDay: Math.ceil(target / 86_400 / acceptPerWorker),
    },
    wechat: {
      pollsPerRefund,
      steadyArrivalsPerSecond: one(steadyArrivalsPerSecond),
      steadyQueriesPerSecond: one(steadyArrivalsPerSecond * pollsPerRefund),
      queryQueuePerSecond: queryQueue,
      burstCreateHours: one(target / createQueue / 3600),
      burstQueriesPerSecond: createQueue * earlyPolls,
    },
  };
}

/** Section 10c of BENCHMARKS.md. */
export function renderProjection(r: ScaleFigures, measuredOn: string): string {
  const p = project(r);
  const n = TARGET.toLocaleString('en-US');
  const s = p.storage;
  const w = p.workers;
  const c = p.wechat;
  const servers = p.serverMiBLinear.map((x) => `${x.process} ${x.gib} GiB`).join(', ');
  return [
    `## 10c. Projection to ${n} refunds in flight (on paper, from §10)`,
    '',
    `Computed by bench/support/projection.ts from the measured run of §10 (${measuredOn}) and the engine's own rules ` +
      `(the default bank-card poll schedule, the merchant budget); every refund a bank-card refund held ${DAYS_IN_FLIGHT} ` +
      'days, one order each. Linear extrapolation is the upper bound where a component caches (noted).',
    '',
    `- **Database.** ${s.postgresGiB} GiB of PostgreSQL in flight (tables, TOAST and indexes as measured per refund), ` +
      `of which visibility ${s.visibilityGiB} GiB; ${s.historyNodeRows.toLocaleString('en-US')} \`history_node\` ` +
      `rows; the history events themselves ${s.historyEventGiB} GiB. Visibility on PostgreSQL grows faster than ` +
      "history: at this size it belongs on Elasticsearch/OpenSearch (Temporal's advanced visibility), and history " +
      'shards are chosen for the final size once (they cannot change later): 512 or more, against the 4 here.',
    `- **Server memory.** Growth per 1,000 in flight ×1,000: ${servers}. An upper bound: the history service caches ` +
      'mutable state for a bounded number of workflows, so its memory is set by its cache settings and shards, not by ' +
      "the number in flight; PostgreSQL's by its own buffers. Sizing follows the database and the task rate.",
    `- **Workers.** Memory does not grow with the number in flight: each worker stayed at ${w.peakMiB} MiB at most ` +
      `with ${r.workerSettings.maxCachedWorkflows} cached workflows and a ${r.workerSettings.maxOldSpaceSizeMB} MB heap. ` +
      `Workers are sized by task rate instead: here ${w.drainPerWorker} settlements/s and ${w.acceptPerWorker} new ` +
      'refunds/s per worker process (on a 2-core machine shared with the whole cluster, so a floor). ' +
      `Settling all ${n} within an hour takes ~${w.forDrainInOneHour} such workers; accepting ${n} within a day ~` +
      `${w.forAcceptInOneDay}. Small caches trade memory for replay CPU: an evicted workflow replays its history at ` +
      'each timer or signal, so more memory per worker (a bigger cache) buys fewer workers.',
    `- **WeChat calls per merchant.** A bank-card refund makes ${c.pollsPerRefund} polls in ${DAYS_IN_FLIGHT} days ` +
      `when no notification ends it sooner. ${n} in flight in steady state means ~${c.steadyArrivalsPerSecond} new ` +
      `refunds/s and ~${c.steadyQueriesPerSecond} queries/s: under the query queue's ${c.queryQueuePerSecond}/s and ` +
      `WeChat's ${WECHAT_QUERY_LIMIT_PER_SECOND}/s. A burst is different: ${n} requested at once are created at the ` +
      `create queue's rate (${c.burstCreateHours} h), and their first three polls follow within half an hour, ` +
      `~${c.burstQueriesPerSecond} queries/s against the ${c.queryQueuePerSecond}/s queue: polls fall behind their ` +
      'schedule (they wait in the queue; nothing is lost), and notifications stay the fast path.',
    '- **What breaks first**, in order:',
    `  1. accepting requests: ${r.start.requestsPerSecond}/s here (update-with-start on a new ledger, then the ` +
      "refund child); more workers and history hosts raise it, one order's requests stay serial by design (M9);",
    '  2. replay CPU when caches are small against the number in flight (every timer or signal of an evicted ' +
      'workflow replays it);',
    "  3. ledgers open for the order's refund year: an order's ledger outlives its refunds, so open executions grow " +
      'with a year of refunded orders, not with refunds in flight;',
    '  4. visibility on PostgreSQL (above), before history itself;',
    `  5. notification bursts: ${r.drain.deliveriesPerNotification} deliveries per notification in §10's drain ` +
      '(WeChat retries what the webhook could not signal within its answer budget).',
    '',
  ].join('\n');
}
