/**
 * v3 refund bill download (§12.1): GET /v3/bill/tradebill (a signed request, a verified reply naming hash_value and a
 * download_url that lives about 30 s), then a signed GET on download_url whose body (gzip, not signed) is streamed to
 * a file through gunzip while hashing. The bill is accepted only when the SHA1 of the decompressed file equals
 * hash_value; anything else is refused with RetrySame BILL_HASH_MISMATCH, and the next attempt asks for a fresh URL.
 *
 * The file download has its own connection pool: a long stream must not hold one of the refund calls' connections,
 * and its deadline is the download's (bill-file.ts), not a refund call's.
 */
import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import {
  asReadFailure,
  BILL_DOWNLOAD_DEADLINE_MS,
  BILL_ERROR_CODES,
  peekBody,
  writeBillFile,
  type WrittenBill,
} from '../bill-file';
import { InvalidRequest, NeedsOperator, RetrySame, WechatPayError } from '../errors';
import { formatZodError, mchidSchema, zodIssues } from '../schema-rules';
import { createEndpoint, type Endpoint, type HttpTimeouts } from '../transport';
import type { WechatPayV3Client } from './client';
import { mapV3Error, V3_ERROR_CLASSES } from './error-map';
import { headerValue } from './verify';
import { billDateSchema } from '../bill-date';

export const V3_TRADE_BILL_PATH = '/v3/bill/tradebill';

/** 4xx codes meaning "no bill for that day yet" (§12.1). */
export const V3_BILL_NOT_READY_CODES: readonly string[] = ['NO_STATEMENT_EXIST', 'STATEMENT_CREATING'];

export const v3TradeBillRequestSchema = z.object({
  bill_date: billDateSchema,
  bill_type: z.literal('REFUND', { error: "must be 'REFUND'" }),
  tar_type: z.literal('GZIP', { error: "must be 'GZIP'" }),
  sub_mchid: mchidSchema.optional(),
});
export type V3TradeBillRequest = z.infer<typeof v3TradeBillRequestSchema>;

export const v3TradeBillResponseSchema = z.object({
  hash_type: z.literal('SHA1', { error: "must be 'SHA1' (the only digest this client checks)" }),
  hash_value: z.string().regex(/^[0-9A-Fa-f]{40}$/, { error: 'must be a 40-digit hex SHA1' }),
  download_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
});
export type V3TradeBillResponse = z.infer<typeof v3TradeBillResponseSchema>;

/** WeChat Pay's API hosts: a download_url on one of them may differ from the configured base (e.g. api2 backup). */
const WECHATPAY_API_HOST = /(^|\.)mch\.weixin\.qq\.com$/i;

export interface V3BillDownloaderOptions {
  /** Sends the verified tradebill request (the same signing and verification as every v3 call). */
  client: WechatPayV3Client;
  baseUrl: string;
  /** Authorization header for a request line (method, path+query) the client does not send itself. */
  authorize(method: 'GET', url: string): string;
  userAgent: string;
  timeouts: HttpTimeouts;
  tls?: { ca?: string | Buffer };
  /** Override for tests. */
  maxBytes?: number;
}

export interface V3BillDownloader {
  /** The day's refund bill, decompressed into `destFile` once its SHA1 matches hash_value. */
  download(req: { billDate: string; subMchid?: string; destFile: string }): Promise<WrittenBill>;
  close(): Promise<void>;
}

export function createV3BillDownloader(opts: V3BillDownloaderOptions): V3BillDownloader {
  let endpoint: Endpoint | undefined;
  const base = new URL(opts.baseUrl);
  /** Created on first use: most gateways never download a bill. */
  const baseEndpoint = () =>
    (endpoint ??= createEndpoint(opts.baseUrl, opts.timeouts, opts.tls?.ca ? { ca: opts.tls.ca } : {}));

  async function tradeBill(request: V3TradeBillRequest): Promise<V3TradeBillResponse> {
    const query = new URLSearchParams({
      bill_date: request.bill_date,
      bill_type: request.bill_type,
      tar_type: request.tar_type,
      ...(request.sub_mchid ? { sub_mchid: request.sub_mchid } : {}),
    }).toString();
    try {
      const { data } = await opts.client.call({
        method: 'GET',
        path: V3_TRADE_BILL_PATH,
        query,
        schema: v3TradeBillResponseSchema,
      });
      return data;
    } catch (e) {
      throw tradeBillFailure(e, request.bill_date);
    }
  }

  async function fetchFile(bill: V3TradeBillResponse, destFile: string, billDate: string): Promise<WrittenBill> {
    const target = downloadTarget(bill.download_url, base);
    const sameOrigin = target.origin === base.origin;
    // The base URL's pool; a WeChat host other than the configured one gets a pool for this download only.
    const pool = sameOrigin
      ? baseEndpoint().pool
      : new Pool(target.origin, {
          connect: { timeout: opts.timeouts.connectMs, ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}) },
          headersTimeout: opts.timeouts.headersMs,
          bodyTimeout: opts.timeouts.bodyMs,
        });
    try {
      let res;
      try {
        res = await pool.request({
          method: 'GET',
          path: target.pathAndQuery,
          headers: {
            // What is signed is the download_url's path with its query string (§12.1, §3.2).
            Authorization: opts.authorize('GET', target.pathAndQuery),
            // Like every v3 call; the error replies of this endpoint are JSON.
            Accept: 'application/json',
            'User-Agent': opts.userAgent,
          },
          signal: AbortSignal.timeout(BILL_DOWNLOAD_DEADLINE_MS),
        });
      } catch (e) {
        throw asReadFailure(e);
      }
      const requestId = headerValue(res.headers, 'request-id');
      if (res.statusCode !== 200) throw await fileFailure(res.statusCode, res.body, requestId);
      const expected = bill.hash_value.toLowerCase();
      const body = res.body;
      const accept = ({ sha1 }: { sha1: string }) =>
        sha1 === expected
          ? undefined
          : new RetrySame({
              code: BILL_ERROR_CODES.hashMismatch,
              // Digests are not secrets; the URL (its token) is never put in a message.
              message: `bill of ${billDate}: SHA1 of the decompressed file is ${sha1}, hash_value says ${expected}; refused`,
              httpStatus: 200,
              requestId,
            });
      try {
        return await writeBillFile(await peekBody(body, 2), { destFile, maxBytes: opts.maxBytes, accept });
      } catch (e) {
        body.destroy(); // whatever is left of the stream must not hold the connection
        throw e;
      }
    } finally {
      if (!sameOrigin) await pool.close().catch(() => undefined);
    }
  }

  return {
    async download(req) {
      const checked = v3TradeBillRequestSchema.safeParse({
        bill_date: req.billDate,
        bill_type: 'REFUND',
        tar_type: 'GZIP',
        sub_mchid: req.subMchid,
      });
      if (!checked.success) {
        throw new InvalidRequest(`invalid bill request: ${formatZodError(checked.error)}`, zodIssues(checked.error));
      }
      // A fresh URL on every attempt, used at once: it lives about 30 s (§12.1).
      const bill = await tradeBill(checked.data);
      return fetchFile(bill, req.destFile, checked.data.bill_date);
    },
    async close() {
      await endpoint?.pool.close();
    },
  };
}

/**
 * Where to send the download: download_url's origin, and its path and query exactly as WeChat wrote them (what is
 * signed must be what is sent). Only the configured host or a WeChat Pay API host over https is trusted with a
 * signed request.
 */
function downloadTarget(downloadUrl: string, base: URL): { origin: string; pathAndQuery: string } {
  const url = new URL(downloadUrl);
  const trusted = url.origin === base.origin || (url.protocol === 'https:' && WECHATPAY_API_HOST.test(url.hostname));
  if (!trusted) {
    throw new NeedsOperator({
      code: 'BILL_DOWNLOAD_URL_UNTRUSTED',
      message: `download_url points at ${url.host}, neither the configured host nor a WeChat Pay API host`,
      httpStatus: 200,
    });
  }
  const raw = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(downloadUrl)?.[1] ?? '';
  const pathAndQuery = raw === '' ? '/' : raw.startsWith('?') ? `/${raw}` : raw;
  return { origin: url.origin, pathAndQuery };
}

/** tradebill refused: "not ready" becomes BILL_NOT_READY; a read that failed is simply repeated. */
function tradeBillFailure(e: unknown, billDate: string): unknown {
  if (!(e instanceof WechatPayError)) return e;
  if (isNotReady(e)) {
    return new RetrySame({
      code: BILL_ERROR_CODES.notReady,
      message: `bill of ${billDate} is not available yet (${e.code}: ${e.message.replace(/^[^:]*: /, '')})`,
      httpStatus: e.httpStatus,
      requestId: e.requestId,
    });
  }
  return e.errorClass === 'UnknownOutcome' ? asReadFailure(e) : e;
}

/**
 * §12.1: NO_STATEMENT_EXIST or STATEMENT_CREATING, and (the section's stated assumption) any other 4xx code the error
 * table does not know. Codes it knows keep their class: SIGN_ERROR or PARAM_ERROR are our bugs, and retrying them
 * every day would hide them.
 */
function isNotReady(e: WechatPayError): boolean {
  if (e.errorClass === 'UnknownOutcome') return false; // e.g. an unverifiable signed error reply
  if (e.httpStatus === undefined || e.httpStatus < 400 || e.httpStatus >= 500 || e.httpStatus === 429) return false;
  if (V3_BILL_NOT_READY_CODES.includes(e.code)) return true;
  return !(e.code in V3_ERROR_CLASSES) && !e.code.startsWith('HTTP_');
}

/**
 * A refused file download. Its only parameter is the token WeChat itself put in download_url, so a 400 or 404 (expired
 * or unknown token, whatever the code: INVALID_REQUEST, PARAM_ERROR or a new one) means "that URL is no good": the
 * next attempt asks tradebill for a fresh one (RetrySame). Signature, permission, throttling and 5xx keep the class
 * the v3 error table gives them.
 */
async function fileFailure(
  status: number,
  body: Dispatcher.ResponseData['body'],
  requestId: string | undefined,
): Promise<WechatPayError> {
  let text = '';
  try {
    text = (await body.text()).slice(0, 2000);
  } catch {
    // The status says enough.
  }
  let error: { code?: string; message?: string } | undefined;
  try {
    const parsed = z.object({ code: z.string(), message: z.string().optional() }).safeParse(JSON.parse(text));
    if (parsed.success) error = parsed.data;
  } catch {
    error = text ? { message: text.slice(0, 200) } : undefined;
  }
  if (status === 400 || status === 404) {
    return new RetrySame({
      code: error?.code ?? `HTTP_${status}`,
      message: `bill file refused, a fresh download_url is needed: ${error?.message ?? ''}`.trim(),
      httpStatus: status,
      requestId,
    });
  }
  return mapV3Error({ httpStatus: status, requestId, ...error });
}
