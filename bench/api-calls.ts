/**
 * Bench 3: WeChat API calls per refund (by path) and history events per refund, against the poll schedule's minimum.
 *
 * The real refundWorkflow with the real activities and the v3 gateway against the in-process simulator, on Temporal's
 * Java time-skipping test server (days of poll timers pass in seconds). The simulator's clock is frozen and driven
 * to the test server's time before every WeChat call (and before a notification is due), so WeChat and the workflow
 * see the same simulated time. Each refund is forced to settle `t` after acceptance; four paths:
 *
 *   balance, notified     settles at +30 s, the notification reaches the webhook → signal
 *   balance, polled       settles at +30 s, notifications dropped (fault DROP) → found by the schedule's queries
 *   bank card, notified   settles at +66 h (day 3), notification → signal
 *   bank card, polled     settles at +66 h, notifications dropped → found by the bank-card schedule's queries
 *
 * Minimum calls = 1 create + the queries the schedule (src/domain/poll-schedule.ts, defaults) cannot avoid: the polls
 * due before `t` (notified), or up to and including the first poll at or after `t` (polled). Ratio = actual/minimum.
 * History events are counted with fetchHistory(); the minimal workflow (1 activity + 1 signal) is the reference.
 *
 * Usage: npx ts-node --transpile-only bench/api-calls.ts [--count 3]   (refunds per path)
 */
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import {
  allScheduledPolls,
  DEFAULT_BALANCE_SCHEDULE,
  DEFAULT_BANK_CARD_SCHEDULE,
  HOUR_MS,
  type ScheduleKind,
} from '../src/domain/poll-schedule';
import type { RefundGateway } from '../src/wechatpay/gateway';
import { refundWorkflow } from '../src/workflows';
import { createTimeSkippingEnv } from '../test/harness/temporal';
import { statusQuery } from '../src/workflows/definitions';
import { baselineNotifiedSignal, baselineStageQuery, minimalWorkflow } from './baseline/workflows';
import { createBaselineActivities } from './baseline/activities';
import { benchRefunds, PAID_TOTAL_FEN, REFUND_FEN, seedOrders, waitForState } from './support/refunds';
import {
  benchDataConverter,
  benchWorkflowBundle,
  quietRuntime,
  runTag,
  startBenchStack,
  WORKER_SETTINGS,
} from './support/stack';
import { emitResult, intFlag, round, runMain } from './support/util';

interface Path {
  name: string;
  kind: ScheduleKind;
  bankType: string;
  settleAfterMs: number;
  notified: boolean;
}

const PATHS: Path[] = [
  { name: 'balance, notified', kind: 'BALANCE', bankType: 'OTHERS', settleAfterMs: 30_000, notified: true },
  { name: 'balance, polled', kind: 'BALANCE', bankType: 'OTHERS', settleAfterMs: 30_000, notified: false },
  {
    name: 'bank card, notified',
    kind: 'BANK_CARD',
    bankType: 'ICBC_DEBIT',
    settleAfterMs: 66 * HOUR_MS,
    notified: true,
  },
  {
    name: 'bank card, polled',
    kind: 'BANK_CARD',
    bankType: 'ICBC_DEBIT',
    settleAfterMs: 66 * HOUR_MS,
    notified: false,
  },
];

/** The queries the schedule makes whatever the implementation: see the file comment. */
export function minimumQueries(p: Pick<Path, 'kind' | 'settleAfterMs' | 'notified'>): number {
  const polls = allScheduledPolls(p.kind === 'BALANCE' ? DEFAULT_BALANCE_SCHEDULE : DEFAULT_BANK_CARD_SCHEDULE, 0);
  if (p.notified) return polls.filter((t) => t < p.settleAfterMs).length;
  return polls.findIndex((t) => t >= p.settleAfterMs) + 1;
}

/** Every gateway call first brings the simulator's clock to the workflow's (test server's) time. */
function clockSyncedGateway(gateway: RefundGateway, sync: () => Promise<void>): RefundGateway {
  return new Proxy(gateway, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'close') return value;
      return async (...args: unknown[]) => {
        await sync();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string' } } });
  const count = intFlag('count', values.count, 3);

  quietRuntime();
  // The test harness's Java time-skipping server, with the search attributes of temporal-dev.yml registered.
  const env = await createTimeSkippingEnv();
  const startMs = await env.currentTimeMs();
  const stack = await startBenchStack({
    temporal: { client: env.client },
    simulator: { startTime: new Date(startMs).toISOString() },
  });
  const sim = stack.sim;
  const sync = async () => {
    const now = await env.currentTimeMs();
    if (now > sim.clock.now()) await sim.core.clock.advanceTo(now);
  };
  const taskQueue = `bench-api-calls-${Date.now()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await benchWorkflowBundle(),
    dataConverter: benchDataConverter(),
    activities: {
      ...createActivities({ gateway: clockSyncedGateway(stack.gateway, sync) }),
      ...createBaselineActivities(),
    },
    ...WORKER_SETTINGS,
  });

  const rows: Record<string, unknown>[] = [];
  let baselineEvents = 0;
  await worker.runUntil(async () => {
    // Reference: the minimal workflow's history (1 activity, 1 signal).
    const b = await env.client.workflow.start(minimalWorkflow, {
      taskQueue,
      workflowId: `baseline-${runTag('A')}`,
      args: ['x'],
    });
    await waitForState(b, baselineStageQuery, 'waiting');
    await b.signal(baselineNotifiedSignal, {});
    await b.result();
    baselineEvents = (await b.fetchHistory()).events?.length ?? 0;

    for (const p of PATHS) {
      const drop = p.notified ? undefined : await sim.admin.addNotificationFault({ kind: 'DROP' });
      const before = await sim.admin.calls();
      const refunds = benchRefunds(runTag('A'), count);
      const events: number[] = [];
      const queries: number[] = [];
      const notifications: number[] = [];
      for (const r of refunds) {
        await sync();
        await seedOrders(sim, [r], p.bankType);
        await sim.admin.forceOutcome(r.outRefundNo, { status: 'SUCCESS', afterSeconds: p.settleAfterMs / 1000 });
        const handle: WorkflowHandle<typeof refundWorkflow> = await env.client.workflow.start(refundWorkflow, {
          taskQueue,
          workflowId: r.workflowId,
          args: [
            {
              outRefundNo: r.outRefundNo,
              outTradeNo: r.outTradeNo,
              refundFen: REFUND_FEN,
              totalFen: PAID_TOTAL_FEN,
              payerBankType: p.bankType,
            },
          ],
        });
        await waitForState(handle, statusQuery, 'PROCESSING');
        if (p.notified) {
          const acceptedAt = Date.parse((await handle.query(statusQuery)).acceptedAt!);
          await env.sleep(acceptedAt + p.settleAfterMs - (await env.currentTimeMs()));
          await sync(); // the forced settlement fires; the simulator delivers the notification to the webhook
        }
        const outcome = await handle.result();
        if (outcome.state !== 'SUCCESS') throw new Error(`${r.outRefundNo} ended ${outcome.state}`);
        queries.push(outcome.queries);
        notifications.push(outcome.notifications);
        events.push((await handle.fetchHistory()).events?.length ?? 0);
      }
      const after = await sim.admin.calls();
      if (drop) await sim.admin.removeFault(drop.id);
      const byPath: Record<string, number> = {};
      for (const [k, v] of Object.entries(after)) {
        const d = v.total - (before[k]?.total ?? 0);
        if (d > 0) byPath[k] = round(d / count, 2);
      }
      const calls = Object.values(byPath).reduce((s, x) => s + x, 0);
      const minQ = minimumQueries(p);
      const avg = (xs: number[]) => round(xs.reduce((s, x) => s + x, 0) / xs.length, 1);
      rows.push({
        path: p.name,
        settlesAfter: p.settleAfterMs >= HOUR_MS ? `${p.settleAfterMs / HOUR_MS} h` : `${p.settleAfterMs / 1000} s`,
        refunds: count,
        callsByPath: JSON.stringify(byPath),
        callsPerRefund: round(calls, 2),
        minimumCalls: 1 + minQ,
        ratio: round(calls / (1 + minQ), 3),
        queriesPerRefund: avg(queries),
        minimumQueries: minQ,
        notificationsPerRefund: avg(notifications),
        historyEvents: avg(events),
      });
    }
  });
  await stack.close();
  await env.teardown();

  console.log('WeChat API calls and history events per refund (time-skipping server, simulator clock driven to match)');
  console.table(rows);
  console.log(`reference: minimal workflow (1 activity + 1 signal) history = ${baselineEvents} events`);
  const worst = Math.max(...rows.map((r) => r.ratio as number));
  console.log(`ratio calls / schedule minimum: worst path ${worst}`);
  emitResult({ bench: 'api-calls', count, paths: rows, baselineEvents, worstRatio: worst });
}

runMain(main);
