/**
 * One Temporal Schedule per merchant (and per listed sub-merchant of a service provider) that starts its daily
 * reconciliation (src/workflows/reconciliation.ts) at 10:30 Beijing time, half an hour after WeChat publishes the bill
 * of the day before (docs §12.1). Made idempotently: every worker calls `ensureReconciliationSchedules` at start, so
 * however many start at once there is exactly one schedule per merchant, updated when its settings change.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { ReconciliationInput } from '../workflows/reconciliation';

export interface ReconciledMerchant {
  mchid: string;
  subMchid?: string;
}

export interface ScheduleSettings {
  taskQueue: string;
  /** Beijing time of day; default 10:30. */
  hour?: number;
  minute?: number;
}

export const RECONCILE_TIME_ZONE = 'Asia/Shanghai';

export function reconcileScheduleId(m: ReconciledMerchant): string {
  return `reconcile-${m.mchid}${m.subMchid ? `-${m.subMchid}` : ''}`;
}

/** The workflow ID of one day's reconciliation run on demand: `reconcile-<mchid>[-<sub_mchid>]-<bill date>`. */
export function reconciliationRunId(m: ReconciledMerchant, billDate: string): string {
  return `${reconcileScheduleId(m)}-${billDate}`;
}

/** The id of a day's alert event to the order service (docs/events.md), the same on every delivery attempt. */
export function reconciliationEventId(m: ReconciledMerchant, billDate: string): string {
  return `${reconciliationRunId(m, billDate)}:discrepancies`;
}

function scheduleOptions(m: ReconciledMerchant, s: ScheduleSettings): ScheduleOptions {
  const input: ReconciliationInput = { mchid: m.mchid, ...(m.subMchid ? { subMchid: m.subMchid } : {}) };
  return {
    scheduleId: reconcileScheduleId(m),
    spec: {
      calendars: [{ hour: s.hour ?? 10, minute: s.minute ?? 30 }],
      timezone: RECONCILE_TIME_ZONE,
    },
    action: {
      type: 'startWorkflow',
      workflowType: 'reconciliationWorkflow',
      workflowId: reconcileScheduleId(m),
      taskQueue: s.taskQueue,
      args: [input],
    },
    policies: {
      // Yesterday's run still waiting for its bill: today's waits its turn rather than running beside it.
      overlap: ScheduleOverlapPolicy.BUFFER_ONE,
      // A worker fleet down for a few hours still reconciles the morning it missed.
      catchupWindow: '1 day',
    },
    state: { note: `daily refund reconciliation of merchant ${m.mchid}${m.subMchid ? ` / ${m.subMchid}` : ''}` },
  };
}

/** Creates each merchant's schedule, or brings an existing one to these settings. Returns the schedule IDs. */
export async function ensureReconciliationSchedules(
  client: Client,
  merchants: readonly ReconciledMerchant[],
  settings: ScheduleSettings,
): Promise<string[]> {
  const ids: string[] = [];
  for (const m of merchants) {
    const options = scheduleOptions(m, settings);
    try {
      await client.schedule.create(options);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(options.scheduleId).update((previous) => ({
        ...previous,
        spec: options.spec,
        action: options.action,
        policies: { ...previous.policies, ...options.policies },
      }));
    }
    ids.push(options.scheduleId);
  }
  return ids;
}

/** The merchants a registry reconciles: each one, and each listed sub-merchant of a service provider. */
export function reconciledMerchants(
  merchants: ReadonlyArray<{ mchid: string; mode: 'direct' | 'partner'; subMchids?: readonly string[] }>,
): ReconciledMerchant[] {
  return merchants.flatMap((m) =>
    m.mode === 'partner' && m.subMchids && m.subMchids.length > 0
      ? m.subMchids.map((subMchid) => ({ mchid: m.mchid, subMchid }))
      : [{ mchid: m.mchid }],
  );
}
