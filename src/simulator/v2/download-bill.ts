/**
 * POST /pay/downloadbill (§12.2): the refund bill of a day. On success the reply body IS the file (plain UTF-8 text,
 * or gzip with tar_type=GZIP), unsigned; a bill that is not published yet, or does not exist, is
 * return_code=FAIL `No Bill Exist` (error_code 20002). Signed like every v2 request; no client certificate needed.
 */
import { gzipSync } from 'node:zlib';
import type { SimulatorCore } from '../core';
import type { DownloadBillRequest } from '../wire/v2-requests';
import type { Outcome, V2Handler } from './outcome';

/** WeChat's answer whether the bill is not published yet or will never exist (the reason is not told). */
const NO_BILL: Outcome = { kind: 'return-fail', message: 'No Bill Exist', errorCode: '20002' };

export function downloadBill(core: SimulatorCore): V2Handler<DownloadBillRequest> {
  return (d, caller) => ({
    run: (): Outcome => {
      // A sub-merchant's bill only for its own service provider.
      if (d.sub_mch_id !== undefined) core.service.resolveQueryOwner(caller, d.sub_mch_id);
      const billDate = `${d.bill_date.slice(0, 4)}-${d.bill_date.slice(4, 6)}-${d.bill_date.slice(6)}`;
      const found = core.bills.lookup({ mchid: caller.mchid, subMchid: d.sub_mch_id }, billDate);
      if (found.kind === 'too-old') return { kind: 'return-fail', message: 'invalid bill_date' };
      if (found.kind !== 'ready') return NO_BILL;
      const text = core.bills.render(found.bill, 'v2').text;
      return d.tar_type === 'GZIP'
        ? { kind: 'file', body: gzipSync(text), contentType: 'application/x-gzip' }
        : { kind: 'file', body: text, contentType: 'text/plain; charset=utf-8' };
    },
  });
}
