/**
 * Proves the self-provisioned stack works end to end: the same workflow (activity + signal + 3-day timer) runs on the
 * real dev server and on the Java time-skipping server. The dev server has a real clock, so there the test checks
 * that the activity ran, the signal arrived and the workflow sleeps on a 3-day timer; the time-skipping server runs
 * it to completion in seconds.
 */
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleQuietly,
  createDevServerEnv,
  createTimeSkippingEnv,
  testDataConverter,
  uniqueTaskQueue,
} from '../harness/temporal';
import { confirm, reminderWorkflow, stage } from './fixtures/reminder-workflow';

const THREE_DAYS_MS = 3 * 24 * 60 * 60 * 1000;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleQuietly(require.resolve('./fixtures/reminder-workflow'));
});

function workerFor(env: TestWorkflowEnvironment, taskQueue: string) {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: bundle,
    activities: { greet: async (name: string) => `你好, ${name}` },
    dataConverter: testDataConverter(),
  });
}

describe('on the Java time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs activity, signal and a 3-day timer to completion without waiting 3 days', async () => {
    const taskQueue = uniqueTaskQueue('stack');
    const worker = await workerFor(env, taskQueue);
    const started = Date.now();
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(reminderWorkflow, {
        args: ['商户'],
        taskQueue,
        workflowId: `stack-ts-${taskQueue}`,
      });
      await handle.signal(confirm, 'operator-7');
      return handle.result();
    });
    expect(result.greeting).toBe('你好, 商户');
    expect(result.confirmedBy).toBe('operator-7');
    expect(result.waitedMs).toBeGreaterThanOrEqual(THREE_DAYS_MS);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('on the real dev server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs the activity, takes the signal and parks on the 3-day timer (real clock)', async () => {
    const taskQueue = uniqueTaskQueue('stack');
    const worker = await workerFor(env, taskQueue);
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(reminderWorkflow, {
        args: ['merchant'],
        taskQueue,
        workflowId: `stack-dev-${taskQueue}`,
      });
      await handle.signal(confirm, 'operator-9');
      // Wait until the workflow is asleep on its timer: the activity ran and the signal was delivered.
      const deadline = Date.now() + 20_000;
      while ((await handle.query(stage)) !== 'sleeping') {
        if (Date.now() > deadline) throw new Error('workflow never reached its timer');
        await new Promise((r) => setTimeout(r, 100));
      }
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      expect(events.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
      expect(events.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'confirm')).toBe(true);
      const timer = events.find((e) => e.timerStartedEventAttributes)?.timerStartedEventAttributes;
      expect(Number(timer?.startToFireTimeout?.seconds)).toBe(THREE_DAYS_MS / 1000);
      await handle.terminate('test done');
    });
  });

  it('has the refund search attributes from temporal-dev.yml registered', async () => {
    const resp = await env.connection.operatorService.listSearchAttributes({ namespace: env.namespace ?? 'default' });
    const custom = resp.customAttributes ?? {};
    for (const name of ['RefundStatus', 'OutTradeNo', 'OutRefundNo', 'RefundChannel', 'RefundAmountFen']) {
      expect(Object.keys(custom)).toContain(name);
    }
  });
});
