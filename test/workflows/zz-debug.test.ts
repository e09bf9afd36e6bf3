import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DAY_MS, MINUTE_MS } from '../../src/domain/poll-schedule';
import { FakeGateway } from '../support/fake-gateway';
import { createRefundTestEnv, ledgerHandle, ledgerInput, newRefundNo, requestRefund, withWorker } from './helpers';

let env: TestWorkflowEnvironment;
beforeAll(async () => { env = await createRefundTestEnv(); });
afterAll(async () => { await env?.teardown(); });

test('m5 variant', async () => {
  const gateway = new FakeGateway();
  let ids: string[] = [];
  await withWorker(env, gateway, async (taskQueue) => {
    const now = await env.currentTimeMs();
    const almost = ledgerInput(now, { paidAt: new Date(now - 364 * DAY_MS).toISOString() });
    const accepted = await requestRefund(env, taskQueue, almost, { outRefundNo: newRefundNo(), amountFen: 100 });
    if (process.env.SLEEP) await env.sleep(2 * DAY_MS);
    ids = [ledgerHandle(env, almost).workflowId, accepted.refundWorkflowId];
  });
  for (const id of ids) {
    const d = await env.client.workflow.getHandle(id).describe();
    console.log(id, d.status.name, d.raw.pendingWorkflowTask, d.raw.pendingActivities?.length, d.raw.pendingChildren?.length);
  }
});
test('then sleep', async () => {
  await Promise.race([env.sleep(MINUTE_MS), new Promise((_, rej) => setTimeout(() => rej(new Error('sleep stalled')), 5000))]);
});
