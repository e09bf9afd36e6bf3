/**
 * WeChat stops waiting after 5 s and counts that as a failure anyway; answering 503 ourselves before then is cleaner
 * (and logged). The deadline counts from the request's arrival, not from when its handler got to run: under a burst the
 * difference is the event loop's backlog, and WeChat's clock started before either.
 * (Fastify's own handlerTimeout is not used: it is cleared once the request body has been read.)
 *
 * One rule makes the 503 safe: it is only answered while no signal has started. The work `commit()`s just before it
 * signals; from then on the deadline waits for the signal's own outcome (whose gRPC deadline is no later than this
 * one), because a 503 over a signal Temporal accepted would make WeChat deliver the notification again. Before that,
 * the deadline aborts the work, which then never signals after we said "retry later".
 */
import type { FastifyRequest } from 'fastify';
import type { Outcome } from './notification-handler';
import { fail } from './replies';

export interface RouteDeadline {
  /** Absolute time (ms since the epoch) at which the route answers 503 unless a signal is under way. */
  readonly at: number;
  /** Aborted once the route answered 503: from then on nothing may be signalled. */
  readonly signal: AbortSignal;
  /** Claims the answer for a signal about to start: false once the route has answered 503 (then do not signal). */
  commit(): boolean;
}

/**
 * Runs `work`, answering 503 at `arrivedAt + timeoutMs` unless it has committed to a signal, and 500 (details logged
 * only) if it throws.
 */
export async function withinDeadline(
  req: FastifyRequest,
  timeoutMs: number,
  work: (deadline: RouteDeadline) => Promise<Outcome>,
  arrivedAt: number = Date.now(),
): Promise<Outcome> {
  const aborter = new AbortController();
  let committed = false;
  const deadline: RouteDeadline = {
    at: arrivedAt + timeoutMs,
    signal: aborter.signal,
    commit: () => {
      if (aborter.signal.aborted) return false;
      committed = true;
      return true;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Outcome>((resolve) => {
    timer = setTimeout(
      () => {
        if (committed) return; // the signal under way decides the answer (module header)
        aborter.abort();
        resolve({
          result: 'temporal_unavailable',
          reason: 'HANDLER_TIMEOUT',
          answer: fail(503, 'timed out, retry later'),
        });
      },
      Math.max(0, deadline.at - Date.now()),
    );
  });
  const done = work(deadline).then(
    (outcome) => {
      if (aborter.signal.aborted) req.log.warn({ result: outcome.result }, 'notification finished after its deadline');
      return outcome;
    },
    (err: unknown): Outcome => {
      // Unexpected (a bug or a broken key file): details go to the log, never into the answer.
      req.log.error({ err }, 'unexpected error while handling a refund notification');
      return { result: 'error', answer: fail(500, 'internal error') };
    },
  );
  try {
    return await Promise.race([done, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
