/**
 * WeChat stops waiting after 5 s and counts that as a failure anyway; answering 503 ourselves before then is cleaner
 * (and logged). The late work sees its signal aborted and does not signal Temporal after we said "retry later".
 * (Fastify's own handlerTimeout is not used: it is cleared once the request body has been read.)
 */
import type { FastifyRequest } from 'fastify';
import type { Outcome } from './notification-handler';
import { fail } from './replies';

/** Runs `work`, answering 503 after `timeoutMs`, and 500 (details logged only) if it throws. */
export async function withinDeadline(
  req: FastifyRequest,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<Outcome>,
): Promise<Outcome> {
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      deadline.abort();
      resolve({
        result: 'temporal_unavailable',
        reason: 'HANDLER_TIMEOUT',
        answer: fail(503, 'timed out, retry later'),
      });
    }, timeoutMs);
  });
  const done = work(deadline.signal).then(
    (outcome) => {
      if (deadline.signal.aborted) req.log.warn({ result: outcome.result }, 'notification finished after its deadline');
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
