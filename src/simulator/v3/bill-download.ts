/**
 * GET /v3/billdownload/file?token= (§12.1): the bill file behind a download_url. The request is signed by the
 * merchant like every v3 call (path and query string, §3.2); the reply is NOT signed: the file is gzip bytes (tar_type
 * GZIP) or the plain text, and the client checks its SHA1 against hash_value instead. Unknown or expired tokens
 * (30 s) → 400 INVALID_REQUEST; another merchant's token → 403 NO_AUTH.
 *
 * Outside the JSON pipeline (pipeline.ts) because the reply is a file, but with the same steps before it: Request-ID,
 * Accept / User-Agent, Authorization, budgets, transport faults.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimulatorCore } from '../core';
import { answerTransportFault, rawBody } from '../http-common';
import { billDownloadQuery } from '../wire/v3-requests';
import { authenticate } from './authenticate';
import { failure, paramError, type Failure } from './outcome';
import { beforeFaultAnswer, missingHeader, sendError } from './pipeline';

const ENDPOINT = 'v3.billdownload';

export function billDownload(core: SimulatorCore) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('Request-ID', core.requestIds.requestId());
    const finish = (o: Failure, mchid?: string) => {
      sendError(core, reply, o, mchid ? core.store.merchant(mchid) : undefined);
      core.calls.record(ENDPOINT, o.status, o.code);
      if (mchid && o.status < 500 && o.status !== 429) core.limiter.record(mchid, 'query', false);
    };
    const badHeaders = missingHeader(core, req);
    if (badHeaders) return finish(badHeaders);
    const auth = authenticate(core, req, rawBody(req));
    if ('status' in auth) return finish(auth);
    const caller = auth.caller;
    const budget = core.limiter.check(caller.mchid, 'query', 'v3');
    if (!budget.ok) return finish(failure(429, 'FREQUENCY_LIMITED', budget.message));
    const query = req.query as Record<string, unknown>;
    const input = { token: query.token };
    const q = billDownloadQuery.safeParse(input);
    if (!q.success) return finish(paramError(q.error, input, 'query'), caller.mchid);
    const fault = core.faults.strike(ENDPOINT, 'before', { mchid: caller.mchid, arrival: core.faults.arrival() });
    if (fault) {
      const answer = beforeFaultAnswer(fault.kind);
      if (answer) return finish(answer);
      if (answerTransportFault(reply, core.calls, ENDPOINT, fault)) return;
    }
    const file = core.bills.redeem(q.data.token, caller.mchid);
    if (!file.ok) return finish(failure(file.status, file.code, file.message), caller.mchid);
    core.limiter.record(caller.mchid, 'query', true);
    core.calls.record(ENDPOINT, 200);
    reply
      .code(200)
      .type(file.gzip ? 'application/x-gzip' : 'text/plain; charset=utf-8')
      .header('content-length', String(file.body.length))
      .send(file.body);
  };
}
