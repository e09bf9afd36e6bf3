/** Small helpers shared by the workflows. Deterministic: runs inside the workflow sandbox. */
import { ActivityFailure, ApplicationFailure, condition, TimeoutFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeZodError } from '../domain/zod-errors';
import { isFailureClass, type FailureClass } from '../domain/failure-classes';
import type { FailureSummary } from './types';

/** Workflow inputs are external: a bad one fails the workflow at once with the field and the rule. */
export function parseOrFail<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw ApplicationFailure.nonRetryable(`${what}: ${describeZodError(result.error)}`, 'InvalidWorkflowInput');
  }
  return result.data;
}

export type ClassifiedFailure = FailureSummary & { errorClass: FailureClass };

/**
 * Reads the class the activity put on its ApplicationFailure (src/activities/failures.ts). An activity that timed
 * out or whose worker died never answered: that is an unknown outcome, exactly like a network timeout; so is a
 * failure type no class names (WeChat may have acted, only a query can tell).
 * Anything that is not an activity failure (cancellation, a bug) is not ours to classify and is rethrown.
 */
export function classifyActivityFailure(err: unknown): ClassifiedFailure {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) {
    const errorClass: FailureClass = isFailureClass(cause.type) ? cause.type : 'UnknownOutcome';
    const detail = (cause.details?.[0] ?? {}) as Partial<FailureSummary>;
    return {
      errorClass,
      code: detail.code ?? cause.type ?? 'UNKNOWN',
      message: detail.message ?? cause.message,
      httpStatus: detail.httpStatus,
      requestId: detail.requestId,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { errorClass: 'UnknownOutcome', code: 'ACTIVITY_TIMEOUT', message: cause.message };
  }
  return { errorClass: 'UnknownOutcome', code: 'ACTIVITY_FAILED', message: cause?.message ?? err.message };
}

/**
 * One gateway call at a time per workflow (safe-message-handlers pattern): an operator's apply-abnormal-refund and
 * a scheduled query must not interleave, or a reply from before the apply could be applied after it.
 * Tickets give FIFO order; only the head of the line may run, so two waiters can never both enter.
 */
export class WorkflowMutex {
  private nextTicket = 0;
  private readonly line: number[] = [];

  async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    const ticket = this.nextTicket++;
    this.line.push(ticket);
    await condition(() => this.line[0] === ticket);
    try {
      return await fn();
    } finally {
      this.line.shift();
    }
  }
}

export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}
