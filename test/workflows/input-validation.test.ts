/**
 * Workflow inputs are external: a bad one fails its workflow at once, with the field and the rule, on every workflow
 * a worker runs. The worker builds the schemas once and shares them between workflow instances
 * (src/domain/lazy-schemas.ts, src/workflow-bundle.ts), so this runs several instances on one worker, valid and
 * invalid in turn: each later one validates with the schemas an earlier one built.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../harness/temporal';
import { FakeGateway } from '../support/fake-gateway';
import { ledgerInput, newTradeNo, refundInput, startRefund, track, waitForState, withWorker } from './helpers';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

/** The failure a workflow ended with: its type and message. */
async function failureOf(result: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { type: (cause as ApplicationFailure).type ?? undefined, message: (cause as ApplicationFailure).message };
}

test('each workflow instance on one worker validates its input and names the bad field', async () => {
  await withWorker(env, new FakeGateway(), async (taskQueue) => {
    const good = await startRefund(env, taskQueue, refundInput());
    await waitForState(good, 'PROCESSING');

    const fractional = await startRefund(env, taskQueue, refundInput({ refundFen: 1.5 }));
    expect(await failureOf(fractional.result())).toEqual({
      type: 'InvalidWorkflowInput',
      message: 'refundWorkflow input: refundFen: must be an integer number of fen (no decimals, M1)',
    });

    const ledger = track(
      await env.client.workflow.start('orderLedgerWorkflow', {
        taskQueue,
        workflowId: `refund-order-${newTradeNo()}`,
        args: [{ ...ledgerInput(await env.currentTimeMs()), paidTotalFen: -1 }],
      }),
    );
    const ledgerFailure = await failureOf(ledger.result());
    expect(ledgerFailure.type).toBe('InvalidWorkflowInput');
    expect(ledgerFailure.message).toMatch(/^orderLedgerWorkflow input: paidTotalFen: /);

    // A valid refund after the failures still runs: nothing a failed validation did is left behind.
    const after = await startRefund(env, taskQueue, refundInput());
    await waitForState(after, 'PROCESSING');
  });
});
