/**
 * The baseline workflows alone, without the real ones: what a worker evaluates for each of these workflows is only
 * this module and the SDK, so replaying them from this bundle is the true floor of a replay (bench 9's replay CPU).
 * bench/baseline/workflows.ts bundles them together with the real ones for the benchmarks' shared worker.
 *
 *  - minimalWorkflow: one activity, then waits for one signal, then completes (the smallest "submit, then wait to be
 *    told" workflow; bench 1 and bench 2 compare the refund workflow with it).
 *  - signalSinkWorkflow: counts `refundNotified` signals until told to stop (bench 4's signal target).
 *  - decisionFloorWorkflow: started by update-with-start, answers its `decide` update at once and completes (the
 *    floor of a refund decision: bench 6 compares requestRefund's latency on an idle stack with it).
 *  - childStarterWorkflow + heldChildWorkflow: a parent that starts n children at once and completes when all have
 *    started; each child waits for a signal, as a held refund waits for its slot (the floor of binding n refund
 *    numbers from one ledger: bench 11 compares hot orders' decisions with it).
 *  - activityBinderWorkflow: the same n workflows started by one local activity through a client instead (bench 11's
 *    floor of binding the numbers without children).
 */
import {
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import type { BaselineActivities, BindingActivities } from './activities';

/** The same signal name as the refund workflow's (the webhook signals `refundNotified`). */
export const baselineNotifiedSignal = defineSignal<[unknown]>('refundNotified');
export const baselineStopSignal = defineSignal('baselineStop');
export const baselineStageQuery = defineQuery<'submitting' | 'waiting' | 'done'>('baselineStage');
export const signalCountQuery = defineQuery<number>('signalCount');

const { baselineSubmit } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });

export async function minimalWorkflow(id: string): Promise<string> {
  let stage: 'submitting' | 'waiting' | 'done' = 'submitting';
  let notified = false;
  setHandler(baselineNotifiedSignal, () => {
    notified = true;
  });
  setHandler(baselineStageQuery, () => stage);
  const accepted = await baselineSubmit(id);
  stage = 'waiting';
  await condition(() => notified);
  stage = 'done';
  return accepted;
}

export async function signalSinkWorkflow(): Promise<number> {
  let count = 0;
  let stop = false;
  setHandler(baselineNotifiedSignal, () => {
    count += 1;
  });
  setHandler(baselineStopSignal, () => {
    stop = true;
  });
  setHandler(signalCountQuery, () => count);
  await condition(() => stop);
  return count;
}

/** The floor's update: answers with what it was given, as a ledger answers with a receipt. */
export const decideUpdate = defineUpdate<string, [string]>('decide');

export async function decisionFloorWorkflow(): Promise<void> {
  let answered = false;
  setHandler(decideUpdate, (request) => {
    answered = true;
    return request;
  });
  await condition(() => answered);
}

export const heldChildGoSignal = defineSignal('heldChildGo');

/** Waits to be told to go, as a held refund waits for its ledger's slot. */
export async function heldChildWorkflow(): Promise<void> {
  let go = false;
  setHandler(heldChildGoSignal, () => {
    go = true;
  });
  await condition(() => go);
}

/** Starts `count` held children at once (IDs `<prefix>-<i>`), as a ledger binds the numbers of one burst. */
export async function childStarterWorkflow(prefix: string, count: number): Promise<number> {
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startChild(heldChildWorkflow, { workflowId: `${prefix}-${i}`, parentClosePolicy: ParentClosePolicy.ABANDON }),
    ),
  );
  return count;
}

const { startHeldWorkflows } = proxyLocalActivities<BindingActivities>({ startToCloseTimeout: '5 minutes' });

/** Starts `count` held workflows (IDs `<prefix>-<i>`) with one local activity, and completes when it returns. */
export async function activityBinderWorkflow(prefix: string, count: number): Promise<number> {
  return startHeldWorkflows(Array.from({ length: count }, (_, i) => `${prefix}-${i}`));
}
