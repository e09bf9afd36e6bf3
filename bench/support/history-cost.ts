/**
 * What a workflow history costs in Temporal's own units (bench/temporal-cost.ts): workflow tasks, history events and
 * billable actions, the last ESTIMATED from history the way Temporal Cloud's Actions page maps them:
 *
 *   workflow started        each WorkflowExecutionStarted (children and continue-as-new runs included; a child is
 *                           counted once, here, not again as its parent's StartChildWorkflowExecutionInitiated)
 *   activity                each ActivityTaskScheduled, plus each retry: `attempt` of its ActivityTaskStarted
 *   local activity          1 per workflow task that recorded at least one local-activity marker
 *   timer                   each TimerStarted
 *   signal                  each SignalExternalWorkflowExecutionInitiated (sent by a workflow), and each
 *                           WorkflowExecutionSignaled sent by a client (no externalWorkflowExecution)
 *   update                  each WorkflowExecutionUpdateAccepted
 *   search attributes       each UpsertWorkflowSearchAttributes
 *   side effect / marker    each MarkerRecorded other than patches and local activities
 *
 * Not in history, so not counted: queries, activity heartbeats, rejected updates' validators.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
const T = temporal.api.enums.v1.EventType;

/** The SDK core's own markers (see test/support/raw-history.ts): not billed as side effects. */
const PATCH_MARKER = 'core_patch';
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

export const ACTION_KINDS = [
  'started',
  'activities',
  'localActivities',
  'timers',
  'signals',
  'updates',
  'searchAttributes',
  'markers',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface HistoryCost {
  workflows: number;
  events: number;
  /** WORKFLOW_TASK_COMPLETED: the workflow tasks that did something. */
  workflowTasks: number;
  workflowTasksScheduled: number;
  workflowTasksFailed: number;
  workflowTasksTimedOut: number;
  /** Timers started and neither fired nor cancelled yet: work still to come (a fired timer is one more task). */
  timersPending: number;
  actions: Record<ActionKind, number>;
}

export function emptyCost(): HistoryCost {
  return {
    workflows: 0,
    events: 0,
    workflowTasks: 0,
    workflowTasksScheduled: 0,
    workflowTasksFailed: 0,
    workflowTasksTimedOut: 0,
    timersPending: 0,
    actions: Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as Record<ActionKind, number>,
  };
}

export const totalActions = (c: HistoryCost) => ACTION_KINDS.reduce((s, k) => s + c.actions[k], 0);

export function addCosts(...costs: HistoryCost[]): HistoryCost {
  const sum = emptyCost();
  for (const c of costs) {
    sum.workflows += c.workflows;
    sum.events += c.events;
    sum.workflowTasks += c.workflowTasks;
    sum.workflowTasksScheduled += c.workflowTasksScheduled;
    sum.workflowTasksFailed += c.workflowTasksFailed;
    sum.workflowTasksTimedOut += c.workflowTasksTimedOut;
    sum.timersPending += c.timersPending;
    for (const k of ACTION_KINDS) sum.actions[k] += c.actions[k];
  }
  return sum;
}

/** The cost of one run's history (see the file comment for the action mapping). */
export function costOf(history: History): HistoryCost {
  const cost = emptyCost();
  const events = history.events ?? [];
  cost.events = events.length;
  const tasksWithLocalActivity = new Set<string>();
  const openTimers = new Set<string>();
  for (const e of events) {
    switch (e.eventType) {
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        cost.workflows += 1;
        cost.actions.started += 1;
        break;
      case T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        cost.workflowTasksScheduled += 1;
        break;
      case T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        cost.workflowTasks += 1;
        break;
      case T.EVENT_TYPE_WORKFLOW_TASK_FAILED:
        cost.workflowTasksFailed += 1;
        break;
      case T.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
        cost.workflowTasksTimedOut += 1;
        break;
      case T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        cost.actions.activities += 1;
        break;
      case T.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        // Written once, when the activity ends, with the attempt that ended it: each earlier attempt was a retry.
        cost.actions.activities += Math.max(0, (e.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
        break;
      case T.EVENT_TYPE_TIMER_STARTED:
        cost.actions.timers += 1;
        openTimers.add(e.timerStartedEventAttributes?.timerId ?? String(e.eventId));
        break;
      case T.EVENT_TYPE_TIMER_FIRED:
        openTimers.delete(e.timerFiredEventAttributes?.timerId ?? '');
        break;
      case T.EVENT_TYPE_TIMER_CANCELED:
        openTimers.delete(e.timerCanceledEventAttributes?.timerId ?? '');
        break;
      case T.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        cost.actions.signals += 1;
        break;
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        // A workflow's signal was counted at its sender (SignalExternal…Initiated); a client's is counted here.
        if (!e.workflowExecutionSignaledEventAttributes?.externalWorkflowExecution) cost.actions.signals += 1;
        break;
      case T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        cost.actions.updates += 1;
        break;
      case T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        cost.actions.searchAttributes += 1;
        break;
      case T.EVENT_TYPE_MARKER_RECORDED: {
        const marker = e.markerRecordedEventAttributes;
        if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
          tasksWithLocalActivity.add(String(marker.workflowTaskCompletedEventId ?? e.eventId));
        } else if (marker?.markerName !== PATCH_MARKER) {
          cost.actions.markers += 1;
        }
        break;
      }
      default:
        break;
    }
  }
  cost.actions.localActivities = tasksWithLocalActivity.size;
  cost.timersPending = openTimers.size;
  return cost;
}

/** Every run of a workflow (the latest, then back along continue-as-new), each run's history. */
export async function runHistories(client: Client, workflowId: string): Promise<History[]> {
  const histories: History[] = [];
  let runId: string | undefined;
  for (;;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    histories.push(history);
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    runId = started?.continuedExecutionRunId || undefined;
    if (!runId) return histories;
  }
}

/** The IDs of the child workflows a history started. */
export function childWorkflowIds(history: History): string[] {
  return (history.events ?? []).flatMap((e) =>
    e.eventType === T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
      ? [e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '']
      : [],
  );
}

/**
 * Whether a history is at rest: every workflow task scheduled has ended (completed, failed or timed out). A running
 * workflow at rest waits for a timer or a message; one that is not has work the worker has yet to record.
 */
export function atRest(history: History): boolean {
  const c = costOf(history);
  return c.workflowTasksScheduled === c.workflowTasks + c.workflowTasksFailed + c.workflowTasksTimedOut;
}
