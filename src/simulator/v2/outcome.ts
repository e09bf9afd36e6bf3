/**
 * What a v2 endpoint handler returns (§5.1's two result layers): `return-fail` never reached business processing
 * (return_code=FAIL), `result-fail` is a business refusal (result_code=FAIL with err_code), `ok` carries the data
 * fields, `file` is a download (the bill itself). A handler gets the request already checked against its wire schema; `run` does the business part once
 * faults had their say.
 */
import type { SimMerchant } from '../model';

export type Fields = Record<string, string | number | undefined>;

export type Outcome =
  /** `errorCode`: the numeric error_code some v2 failures carry (downloadbill: 20002 No Bill Exist). */
  | { kind: 'return-fail'; message: string; errorCode?: string }
  | { kind: 'result-fail'; errCode: string; errCodeDes: string }
  | { kind: 'ok'; fields: Fields; release?: () => void; holdMs?: number }
  /** The reply is a file, not XML (§12.2 downloadbill): sent as is, unsigned. */
  | { kind: 'file'; body: Buffer; contentType: string; release?: () => void; holdMs?: number };

export interface Prepared {
  /** For fault selection. */
  outRefundNo?: string;
  outTradeNo?: string;
  run: () => Outcome;
}

/** One endpoint: the validated request of the authenticated caller in, a Prepared request out. */
export type V2Handler<T> = (data: T, caller: SimMerchant) => Prepared;

export function resultFail(errCode: string, errCodeDes: string): Outcome {
  return { kind: 'result-fail', errCode, errCodeDes };
}
