/**
 * v2 refund bill download (§12.2): POST /pay/downloadbill (signed XML, bill_type=REFUND, tar_type=GZIP) over the
 * merchant's mutual TLS. The success body is the file itself (gzip, or plain text), streamed to a file through gunzip;
 * a failure is an XML reply with return_code=FAIL. The file is not signed and v2 sends no digest, so its SHA1 is
 * computed for the record only.
 *
 * The body's first bytes tell the two apart: a bill starts with gzip's magic bytes or with its header text, never
 * with `<`. Like the v3 download, it has its own connection pool (a long stream must not hold a refund call's).
 */
import { z } from 'zod';
import {
  asReadFailure,
  BILL_DOWNLOAD_DEADLINE_MS,
  BILL_ERROR_CODES,
  isGzip,
  peekBody,
  writeBillFile,
  type WrittenBill,
} from '../bill-file';
import { compactBillDate } from '../bill-date';
import { InvalidRequest, NeedsOperator, RetrySame, WechatPayError } from '../errors';
import { appidSchema, formatZodError, mchidSchema, zodIssues } from '../schema-rules';
import { createEndpoint, type Endpoint, type HttpTimeouts } from '../transport';
import { generateNonce } from '../v3/sign';
import { mapV2ReturnFail } from './error-map';
import type { V2ClientOptions } from './client';
import { signV2 } from './sign';
import { buildV2Xml, parseV2Xml } from './xml';

export const V2_DOWNLOAD_BILL_PATH = '/pay/downloadbill';

/**
 * return_msg texts meaning "no bill for that day yet": `No Bill Exist` (§12.2) and, while it is being generated,
 * `Bill Creating` (an assumption, like §12.1's: WeChat's wording for v3's STATEMENT_CREATING).
 */
export const V2_BILL_NOT_READY_MESSAGES: readonly string[] = ['No Bill Exist', 'Bill Creating'];

export const v2DownloadBillRequestSchema = z.object({
  appid: appidSchema,
  mch_id: mchidSchema,
  sub_appid: appidSchema.optional(),
  sub_mch_id: mchidSchema.optional(),
  nonce_str: z.string().regex(/^[0-9A-Za-z]{1,32}$/, { error: 'must be 1-32 letters or digits' }),
  sign_type: z.enum(['MD5', 'HMAC-SHA256'], { error: 'must be MD5 or HMAC-SHA256' }),
  sign: z.string().min(1, { error: 'is required' }),
  bill_date: z.string().regex(/^\d{8}$/, { error: 'must be a day written YYYYMMDD' }),
  bill_type: z.literal('REFUND', { error: "must be 'REFUND'" }),
  tar_type: z.literal('GZIP', { error: "must be 'GZIP'" }),
});
export type V2DownloadBillRequest = z.infer<typeof v2DownloadBillRequestSchema>;

/** The reply when there is no file: return_code FAIL and why (unsigned, like every return_code FAIL). */
export const v2DownloadBillFailureSchema = z.object({
  return_code: z.enum(['SUCCESS', 'FAIL'], { error: 'must be SUCCESS or FAIL' }),
  return_msg: z.string().optional(),
  error_code: z.string().optional(),
});

/** An XML reply is read whole; a real one is a few hundred bytes. */
const MAX_XML_REPLY_BYTES = 64 * 1024;

/** The client's own connection settings (the same merchant, certificate and key), with the timeouts resolved. */
export interface V2BillDownloaderOptions extends Omit<V2ClientOptions, 'timeouts'> {
  timeouts: HttpTimeouts;
  /** Override for tests. */
  maxBytes?: number;
}

export interface V2BillDownloader {
  download(req: { billDate: string; subMchid?: string; destFile: string }): Promise<WrittenBill>;
  close(): Promise<void>;
}

export function createV2BillDownloader(opts: V2BillDownloaderOptions): V2BillDownloader {
  let endpoint: Endpoint | undefined;
  /** Created on first use, with the same client certificate as the refund calls (§5.1). */
  const billEndpoint = () =>
    (endpoint ??= createEndpoint(opts.baseUrl, opts.timeouts, {
      cert: opts.clientCertificate,
      key: opts.clientPrivateKey,
      ca: opts.caCertificate,
    }));
  const nonce = opts.nonce ?? (() => generateNonce());

  function signedRequest(billDate: string, subMchid: string | undefined): V2DownloadBillRequest {
    const unsigned = {
      appid: opts.appid,
      mch_id: opts.mchid,
      sub_appid: opts.subAppid,
      sub_mch_id: subMchid,
      nonce_str: nonce(),
      sign_type: opts.signType,
      bill_date: compactBillDate(billDate),
      bill_type: 'REFUND',
      tar_type: 'GZIP',
    };
    const checked = v2DownloadBillRequestSchema.safeParse({
      ...unsigned,
      sign: signV2(unsigned, opts.apiKey, opts.signType),
    });
    if (!checked.success) {
      throw new InvalidRequest(
        `invalid v2 request to ${V2_DOWNLOAD_BILL_PATH}: ${formatZodError(checked.error)}`,
        zodIssues(checked.error),
      );
    }
    return checked.data;
  }

  return {
    async download(req) {
      const request = signedRequest(req.billDate, req.subMchid);
      const ep = billEndpoint();
      let res;
      try {
        res = await ep.pool.request({
          method: 'POST',
          path: `${ep.pathPrefix}${V2_DOWNLOAD_BILL_PATH}`,
          headers: {
            'Content-Type': 'text/xml; charset=utf-8',
            'User-Agent': 'wechatpay-refund-engine/0.1',
          },
          body: Buffer.from(buildV2Xml(request), 'utf8'),
          signal: AbortSignal.timeout(BILL_DOWNLOAD_DEADLINE_MS),
        });
      } catch (e) {
        throw asReadFailure(e);
      }
      if (res.statusCode !== 200) {
        // v2 answers 200 even for failures (§5.1); anything else came from a proxy or a wrong path.
        const text = await res.body.text().catch(() => '');
        const d = { code: `HTTP_${res.statusCode}`, message: text.slice(0, 200), httpStatus: res.statusCode };
        throw res.statusCode >= 500 ? new RetrySame(d) : new NeedsOperator(d);
      }
      const body = res.body;
      try {
        const peeked = await peekBody(body, 64);
        if (!isGzip(peeked.head) && looksLikeXmlReply(peeked.head)) {
          throw failureOf(await readAll(peeked.body), req.billDate);
        }
        return await writeBillFile(peeked, { destFile: req.destFile, maxBytes: opts.maxBytes });
      } catch (e) {
        body.destroy(); // whatever is left of the stream must not hold the connection
        throw e;
      }
    },
    async close() {
      await endpoint?.pool.close();
    },
  };
}

/** `<` after optional whitespace or a BOM: an XML reply, never a bill (which starts with its header text). */
function looksLikeXmlReply(head: Buffer): boolean {
  return /^(\uFEFF)?\s*</.test(head.toString('utf8'));
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_XML_REPLY_BYTES) {
      throw new NeedsOperator({
        code: 'UNEXPECTED_RESPONSE',
        message: `XML reply to ${V2_DOWNLOAD_BILL_PATH} exceeds ${MAX_XML_REPLY_BYTES} bytes`,
        httpStatus: 200,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The XML reply in place of a file: "no bill yet" is BILL_NOT_READY; any other refusal goes to a human. */
function failureOf(xml: Buffer, billDate: string): WechatPayError {
  let fields: Record<string, string>;
  try {
    fields = parseV2Xml(xml);
  } catch (e) {
    // Nothing was changed by a download: a garbled reply is simply read again.
    return new RetrySame({ code: 'MALFORMED_RESPONSE', message: (e as Error).message, httpStatus: 200, cause: e });
  }
  const parsed = v2DownloadBillFailureSchema.safeParse(fields);
  if (!parsed.success) {
    return new NeedsOperator({ code: 'UNEXPECTED_RESPONSE', message: formatZodError(parsed.error), httpStatus: 200 });
  }
  const reply = parsed.data;
  if (reply.return_code === 'SUCCESS') {
    // §12.2: success is the file itself, never XML.
    return new NeedsOperator({
      code: 'UNEXPECTED_RESPONSE',
      message: `${V2_DOWNLOAD_BILL_PATH} answered XML with return_code SUCCESS instead of a bill`,
      httpStatus: 200,
    });
  }
  const msg = (reply.return_msg ?? '').trim();
  if (V2_BILL_NOT_READY_MESSAGES.some((m) => m.toLowerCase() === msg.toLowerCase())) {
    return new RetrySame({
      code: BILL_ERROR_CODES.notReady,
      message: `bill of ${billDate} is not available yet (return_msg: ${msg})`,
      httpStatus: 200,
    });
  }
  return mapV2ReturnFail(reply.error_code ? `${msg} (error_code ${reply.error_code})` : msg);
}
