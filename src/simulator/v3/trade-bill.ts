/**
 * GET /v3/bill/tradebill?bill_date=&bill_type=REFUND&tar_type=GZIP[&sub_mchid=] (§12.1): where to download the
 * refund bill of a day, and the SHA1 of the decompressed file. Not published yet → 400 STATEMENT_CREATING /
 * NO_STATEMENT_EXIST; no bill → 400 NO_STATEMENT_EXIST. The reply is signed like every v3 2xx.
 */
import type { FastifyRequest } from 'fastify';
import type { SimulatorCore } from '../core';
import { tradeBillQuery } from '../wire/v3-requests';
import { failure, paramError, type Handler, type Outcome } from './outcome';

/** The base URL the caller reached us on: download_url points back to the same host. */
function originOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export function tradeBill(core: SimulatorCore): Handler {
  return (req, caller) => {
    const query = req.query as Record<string, unknown>;
    const input = {
      bill_date: query.bill_date,
      bill_type: query.bill_type,
      tar_type: query.tar_type,
      sub_mchid: query.sub_mchid,
    };
    const r = tradeBillQuery.safeParse(input);
    if (!r.success) return paramError(r.error, input, 'query');
    const { bill_date: billDate, tar_type: tarType, sub_mchid: subMchid } = r.data;
    return {
      run: (): Outcome => {
        // A sub-merchant's bill only for its own service provider (NO_AUTH / MCH_NOT_EXISTS otherwise).
        if (subMchid !== undefined) core.service.resolveQueryOwner(caller, subMchid);
        const found = core.bills.lookup({ mchid: caller.mchid, subMchid }, billDate);
        switch (found.kind) {
          case 'not-ready':
            return failure(400, found.code, found.message);
          case 'absent':
            return failure(400, 'NO_STATEMENT_EXIST', `请求的账单文件不存在: ${found.message}`);
          case 'too-old':
            return failure(400, 'PARAM_ERROR', found.message, {
              field: '/bill_date',
              value: billDate,
              issue: 'only the last three months can be downloaded',
              location: 'query',
            });
        }
        const file = core.bills.render(found.bill, 'v3');
        const token = core.bills.grantDownload(found.bill, caller.mchid, tarType === 'GZIP');
        return {
          ok: true,
          body: {
            hash_type: 'SHA1',
            hash_value: file.sha1,
            download_url: `${originOf(req)}/v3/billdownload/file?token=${token}`,
          },
        };
      },
    };
  };
}
