/**
 * When the Temporal server turned a refund request away without deciding it, so the starter may ask again: the same
 * out_refund_no and amount, which can never make a second refund (the ledger binds the number to its first request).
 */
import { google, temporal } from '@temporalio/proto';

/** gRPC codes of "this ledger is busy, try again": RESOURCE_EXHAUSTED (updates in flight), ABORTED, UNAVAILABLE. */
const BUSY_CODES = new Set([8, 10, 14]);
const FAILED_PRECONDITION = 9;
/**
 * FAILED_PRECONDITION while the ledger's last workflow task failed or timed out: the server schedules it again and
 * refuses updates until it completes (found by concurrent-caps on a loaded machine, and by bench:scale).
 */
const TASK_IN_FAILED_STATE = /Workflow Task in failed state/i;

function busyStatus(code: number, message: string): boolean {
  return BUSY_CODES.has(code) || (code === FAILED_PRECONDITION && TASK_IN_FAILED_STATE.test(message));
}

/**
 * Whether the server refused to take the update for now (found by the reliability soak: 150 requests at once on one
 * order exceed the dev server's 10 updates in flight per workflow). Nothing was decided, so asking again is safe.
 *
 * An update-with-start refused as a whole comes as FAILED_PRECONDITION "Update-with-Start could not be executed",
 * with each operation's own status packed in its details (MultiOperationExecutionFailure). It is busy when every
 * operation's status is: found by bench:scale on the PostgreSQL cluster under load, where both operations answered
 * only "aborted". A packed status of another kind (an invalid request, say) is not repeated. FAILED_PRECONDITION
 * "Workflow Task in failed state", alone or packed, is busy too: the ledger's worker fell behind, not the request.
 */
export function ledgerWasBusy(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'number') continue;
    if (busyStatus(code, String((e as { message?: unknown }).message ?? ''))) return true;
    if (code === FAILED_PRECONDITION) {
      const statuses = multiOperationStatuses(e);
      if (statuses && statuses.length > 0 && statuses.every((s) => busyStatus(s.code, s.message))) return true;
    }
  }
  return false;
}

export interface OperationStatus {
  code: number;
  message: string;
  /** The type URL of the status's first detail, if any: what the server said beyond the code. */
  detail?: string;
}

/** Each operation's status in a multi-operation failure (gRPC status details), or undefined when there are none. */
export function multiOperationStatuses(err: unknown): OperationStatus[] | undefined {
  const metadata = (err as { metadata?: { get?(key: string): unknown[] } })?.metadata;
  const bin = typeof metadata?.get === 'function' ? metadata.get('grpc-status-details-bin')?.[0] : undefined;
  if (!(bin instanceof Uint8Array)) return undefined;
  let details: google.protobuf.IAny[];
  try {
    details = google.rpc.Status.decode(bin).details ?? [];
  } catch {
    return undefined;
  }
  for (const d of details) {
    if (!d.type_url?.endsWith('MultiOperationExecutionFailure') || !d.value) continue;
    const failure = temporal.api.errordetails.v1.MultiOperationExecutionFailure.decode(d.value);
    return (failure.statuses ?? []).map((s) => ({
      code: s.code ?? 0,
      message: s.message ?? '',
      ...(s.details?.[0]?.type_url ? { detail: s.details[0].type_url } : {}),
    }));
  }
  return undefined;
}
