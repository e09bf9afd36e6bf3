/**
 * Hands a verified notification to its refund workflow. The answer to WeChat depends on what Temporal said:
 *  - signal accepted                  → acknowledge
 *  - workflow exists but is closed    → acknowledge (nothing left to wake; the workflow already reached a final state)
 *  - no such workflow                 → orphan: acknowledge after recording it (retries cannot fix it)
 *  - Temporal unreachable / too slow  → TemporalUnavailable: answer 5xx so WeChat retries later (nothing lost)
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

export async function signalRefundWorkflow(
  client: Client,
  workflowId: string,
  notification: RefundNotification,
  timeoutMs: number,
): Promise<SignalOutcome> {
  // One deadline for the whole exchange: WeChat stops waiting after 5 s whatever we are doing.
  const deadline = Date.now() + timeoutMs;
  const handle = client.workflow.getHandle(workflowId);
  // Two rounds cover the race where the workflow is started between a NOT_FOUND signal and the describe.
  for (let round = 0; round < 2; round++) {
    try {
      await client.withDeadline(deadline, () => handle.signal(refundNotifiedSignal, notification));
      return { kind: 'signalled' };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || isNamespaceNotFound(err)) throw unavailable(err);
    }
    // NOT_FOUND means "never existed" or "already closed"; describe tells them apart.
    try {
      const description = await client.withDeadline(deadline, () => handle.describe());
      if (description.status.name !== 'RUNNING')
        return { kind: 'workflow_closed', workflowStatus: description.status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError && !isNamespaceNotFound(err)) return { kind: 'orphaned' };
      throw unavailable(err);
    }
  }
  throw unavailable(new Error(`workflow ${workflowId} kept flipping between running and not found`));
}
