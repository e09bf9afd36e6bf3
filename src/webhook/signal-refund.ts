/**
 * Hands a verified notification to its refund workflow. The answer to WeChat depends on what Temporal said:
 *  - signal accepted                  → acknowledge
 *  - workflow exists but is closed    → acknowledge (nothing left to wake; the workflow already reached a final state)
 *  - no such workflow                 → orphan: acknowledge after recording it (retries cannot fix it)
 *  - Temporal unreachable / too slow  → TemporalUnavailable: answer 5xx so WeChat retries later (nothing lost)
 *
 * Overload (RESOURCE_EXHAUSTED) and a lost connection (UNAVAILABLE) are retried with backoff by the Temporal client's
 * own gRPC retry interceptor (the default of every Connection: 1 s then ×1.7 for RESOURCE_EXHAUSTED, 100 ms for
 * UNAVAILABLE, jittered), with the notification's answer budget as the call's gRPC deadline. That interceptor sleeps
 * its backoff without looking at the deadline (a 1.7 s sleep begun 1 s before it ends overruns it by 0.7 s; measured:
 * signals averaging 4.9 s against a 4.4 s deadline under overload), so each call is also raced against `deadlineAt`
 * here: the answer never waits past it. A call cut off by the deadline may still have been applied by the server
 * (gRPC cannot tell); the 503 then costs one more delivery, which the workflow ignores.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { refundNotifiedSignal } from '../workflows/definitions';
import type { RefundNotification } from '../wechatpay/gateway';

export type SignalOutcome =
  { kind: 'signalled' } | { kind: 'workflow_closed'; workflowStatus: string } | { kind: 'orphaned' };

export class TemporalUnavailable extends Error {
  override readonly name = 'TemporalUnavailable';
}

/** gRPC NOT_FOUND is also what a wrong namespace yields; that is a misconfiguration, never an orphan. */
function isNamespaceNotFound(err: WorkflowNotFoundError): boolean {
  return /namespace/i.test(err.message);
}

function unavailable(err: unknown): TemporalUnavailable {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new TemporalUnavailable(`Temporal did not accept the signal: ${detail}`, { cause: err });
}

/** `call`, or a rejection at `deadlineAt` if it has not settled by then (the call itself is left to finish). */
async function byDeadline<T>(deadlineAt: number, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('the Temporal call did not end by its deadline (backoff included)')),
      Math.max(0, deadlineAt - Date.now()),
    );
  });
  try {
    return await Promise.race([call, cut]);
  } finally {
    clearTimeout(timer);
    call.catch(() => undefined); // a late failure of the abandoned call is not an unhandled rejection
  }
}

export async function signalRefundWorkflow(
  client: Client,
  workflowId: string,
  notification: RefundNotification,
  deadlineAt: number,
): Promise<SignalOutcome> {
  // One deadline for the whole exchange (signal, and describe when NOT_FOUND): WeChat stops waiting whatever we do.
  const byTheDeadline = <T>(call: () => Promise<T>) => byDeadline(deadlineAt, client.withDeadline(deadlineAt, call));
  const handle = client.workflow.getHandle(workflowId);
  // Two rounds cover the race where the workflow is started between a NOT_FOUND signal and the describe.
  for (let round = 0; round < 2; round++) {
    try {
      await byTheDeadline(() => handle.signal(refundNotifiedSignal, notification));
      return { kind: 'signalled' };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || isNamespaceNotFound(err)) throw unavailable(err);
    }
    // NOT_FOUND means "never existed" or "already closed"; describe tells them apart.
    try {
      const description = await byTheDeadline(() => handle.describe());
      if (description.status.name !== 'RUNNING')
        return { kind: 'workflow_closed', workflowStatus: description.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError && !isNamespaceNotFound(err)) return { kind: 'orphaned' };
      throw unavailable(err);
    }
  }
  throw unavailable(new Error(`workflow ${workflowId} kept flipping between running and not found`));
}
