/**
 * Whether Temporal answers, for the /healthz of the webhook and of the API. Its own module: both servers use it, and
 * neither should load the worker SDK (temporal-connection.ts) just to ask.
 */
import type { Client } from '@temporalio/client';

/** Cheap: the frontend answers and the namespace exists, within `timeoutMs`. */
export async function temporalIsReachable(client: Client, timeoutMs: number): Promise<boolean> {
  try {
    await client.withDeadline(Date.now() + timeoutMs, () =>
      client.workflowService.describeNamespace({ namespace: client.options.namespace }),
    );
    return true;
  } catch {
    return false;
  }
}
