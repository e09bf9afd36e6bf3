/**
 * API v3 HTTP client (reference §3): signs every request, verifies every reply over its raw bytes, maps errors to
 * classes. One keep-alive undici Pool per base URL. Knows the refund endpoints, the order query (§11.1) and
 * GET /v3/certificates; knows nothing about workflows.
 */
import { z } from 'zod';
import { NeedsOperator, RetrySame, UnknownOutcome } from '../errors';
import { KeyLike } from '../key-objects';
import { formatZodError } from '../schema-rules';
import { createEndpoint, DEFAULT_TIMEOUTS, Endpoint, HttpTimeouts, RawResponse, send, TlsMaterial } from '../transport';
import { decryptV3Resource } from './aes-gcm';
import { mapV3Error } from './error-map';
import { PlatformCertificate, WechatPayKeyring } from './keyring';
import {
  V3ApplyAbnormalRefundRequest,
  V3CreateRefundRequest,
  v3CertificatesResponseSchema,
  v3ErrorResponseSchema,
  V3OrderResponse,
  v3OrderResponseSchema,
  V3QueryOrderRequest,
  V3RefundResponse,
  v3RefundResponseSchema,
} from './schemas';
import { buildV3Authorization, generateNonce } from './sign';
import { headerValue, verifyV3Message } from './verify';
import { certificateSerial } from '../../pki/x509';

export interface V3ClientOptions {
  /** https://api.mch.weixin.qq.com, its backup api2.…, or the local simulator. */
  baseUrl: string;
  /** The caller in the Authorization header: the merchant (direct) or the service provider sp_mchid (partner). */
  mchid: string;
  /** Serial of the merchant API certificate. */
  merchantSerialNo: string;
  merchantPrivateKey: KeyLike;
  apiV3Key: string;
  keyring: WechatPayKeyring;
  userAgent?: string;
  timeouts?: Partial<HttpTimeouts>;
  tls?: Pick<TlsMaterial, 'ca'>;
  /** Milliseconds since the epoch; drives request timestamps and the reply timestamp window. */
  now?: () => number;
  nonce?: () => string;
  /** Install GET /v3/certificates as the keyring's refresher when it has none. Default true. */
  autoRefreshCertificates?: boolean;
}

export interface V3CallResult<T> {
  status: number;
  data: T;
  requestId?: string;
}

type Verifier = (res: RawResponse) => Promise<{ ok: true } | { ok: false; reason: string; message: string }>;

/** The User-Agent of every v3 request unless configured (the bill file download sends it too). */
export const DEFAULT_USER_AGENT = 'wechatpay-refund-engine/0.1 (node)';

const REFUNDS = '/v3/refund/domestic/refunds';
const TRANSACTIONS = '/v3/pay/transactions';
const PARTNER_TRANSACTIONS = '/v3/pay/partner/transactions';
/** 404 codes that mean "WeChat has no such order" on the order query (§11.1: both spellings occur). */
export const V3_ORDER_NOT_FOUND_CODES = ['ORDER_NOT_EXIST', 'RESOURCE_NOT_EXISTS'] as const;

/**
 * Percent-encode a path segment. out_refund_no may contain `|`, `*` and `@` (§1.1): `|` must be encoded, `*` and `@`
 * are legal in a path and are left alone, so the signed path equals what a browser or SDK would send.
 */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%40/g, '@').replace(/%2A/gi, '*');
}

export class WechatPayV3Client {
  readonly keyring: WechatPayKeyring;
  private readonly endpoint: Endpoint;
  private readonly now: () => number;
  private readonly nonce: () => string;
  private readonly userAgent: string;

  constructor(private readonly options: V3ClientOptions) {
    this.keyring = options.keyring;
    this.endpoint = createEndpoint(options.baseUrl, { ...DEFAULT_TIMEOUTS, ...options.timeouts }, options.tls ?? {});
    this.now = options.now ?? Date.now;
    this.nonce = options.nonce ?? (() => generateNonce());
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    if ((options.autoRefreshCertificates ?? true) && !this.keyring.canRefresh) {
      this.keyring.setRefresher(() => this.downloadPlatformCertificates());
    }
  }

  /** POST /v3/refund/domestic/refunds. The body must already be validated. */
  async createRefund(body: V3CreateRefundRequest): Promise<V3CallResult<V3RefundResponse>> {
    return this.call({ method: 'POST', path: REFUNDS, body, schema: v3RefundResponseSchema });
  }

  /** GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=]. `null` data on 404 RESOURCE_NOT_EXISTS. */
  async queryRefund(outRefundNo: string, subMchid?: string): Promise<V3CallResult<V3RefundResponse | null>> {
    const query = subMchid ? `sub_mchid=${encodeURIComponent(subMchid)}` : undefined;
    return this.call({
      method: 'GET',
      path: `${REFUNDS}/${encodePathSegment(outRefundNo)}`,
      query,
      schema: v3RefundResponseSchema,
      notFoundAsNull: true,
    });
  }

  /**
   * Query order (§11.1), by out_trade_no when given, else by transaction_id. Direct: `?mchid=`; partner:
   * `/partner/…?sp_mchid=&sub_mchid=`. `null` data on 404 ORDER_NOT_EXIST / RESOURCE_NOT_EXISTS. The request must
   * already be validated (v3QueryOrderRequestSchema).
   */
  async queryOrder(req: V3QueryOrderRequest): Promise<V3CallResult<V3OrderResponse | null>> {
    const partner = req.sp_mchid !== undefined;
    const by =
      req.out_trade_no !== undefined
        ? `out-trade-no/${encodePathSegment(req.out_trade_no)}`
        : `id/${encodePathSegment(req.transaction_id ?? '')}`;
    const query = partner
      ? `sp_mchid=${encodeURIComponent(req.sp_mchid ?? '')}&sub_mchid=${encodeURIComponent(req.sub_mchid ?? '')}`
      : `mchid=${encodeURIComponent(req.mchid ?? '')}`;
    return this.call({
      method: 'GET',
      path: `${partner ? PARTNER_TRANSACTIONS : TRANSACTIONS}/${by}`,
      query,
      schema: v3OrderResponseSchema,
      notFoundAsNull: V3_ORDER_NOT_FOUND_CODES,
    });
  }

  /** POST …/{refund_id}/apply-abnormal-refund; `wechatpaySerial` names the key the sensitive fields were encrypted with. */
  async applyAbnormalRefund(
    refundId: string,
    body: V3ApplyAbnormalRefundRequest,
    wechatpaySerial: string | undefined,
  ): Promise<V3CallResult<V3RefundResponse>> {
    return this.call({
      method: 'POST',
      path: `${REFUNDS}/${encodePathSegment(refundId)}/apply-abnormal-refund`,
      body,
      headers: wechatpaySerial ? { 'Wechatpay-Serial': wechatpaySerial } : undefined,
      schema: v3RefundResponseSchema,
    });
  }

  /**
   * GET /v3/certificates, each certificate decrypted with the APIv3 key (AES-GCM authenticates it: only WeChat and
   * the merchant know that key). The reply itself is signed by one of the certificates it carries, so it is verified
   * against the keyring plus the freshly decrypted ones — without going through the keyring's refresh (that would wait
   * for itself).
   */
  async downloadPlatformCertificates(): Promise<PlatformCertificate[]> {
    let downloaded: PlatformCertificate[] = [];
    const verifier: Verifier = async (res) => {
      const parsed = v3CertificatesResponseSchema.safeParse(safeJson(res.body));
      if (!parsed.success) return { ok: false, reason: 'MALFORMED', message: formatZodError(parsed.error) };
      try {
        downloaded = parsed.data.data.map((entry) => {
          const certPem = decryptV3Resource({
            ciphertext: entry.encrypt_certificate.ciphertext,
            nonce: entry.encrypt_certificate.nonce,
            associatedData: entry.encrypt_certificate.associated_data ?? '',
            apiV3Key: this.options.apiV3Key,
          });
          if (certificateSerial(certPem) !== entry.serial_no.toUpperCase()) {
            throw new Error(`certificate serial does not match serial_no ${entry.serial_no}`);
          }
          return {
            serial: entry.serial_no.toUpperCase(),
            certPem,
            notBefore: new Date(entry.effective_time),
            notAfter: new Date(entry.expire_time),
          };
        });
      } catch (e) {
        return { ok: false, reason: 'BAD_CIPHERTEXT', message: (e as Error).message };
      }
      // Existing keys plus the new certificates, with no refresher: a miss here must not wait for this very refresh.
      const keys = this.keyring.snapshot(downloaded);
      return verifyV3Message({ headers: res.headers, rawBody: res.body, keyring: keys, now: this.now });
    };
    await this.call({ method: 'GET', path: '/v3/certificates', schema: v3CertificatesResponseSchema, verifier });
    return downloaded;
  }

  async close(): Promise<void> {
    await this.endpoint.pool.close();
  }

  /** Sign, send, verify, classify. Exposed for endpoints this class does not wrap. */
  async call<S extends z.ZodType>(req: {
    method: 'GET' | 'POST';
    path: string;
    query?: string;
    body?: unknown;
    headers?: Record<string, string>;
    schema: S;
    /** 404 with one of these codes resolves `null` data; `true` means RESOURCE_NOT_EXISTS (the refund query). */
    notFoundAsNull?: boolean | readonly string[];
    verifier?: Verifier;
  }): Promise<V3CallResult<z.output<S>>> {
    const url = `${this.endpoint.pathPrefix}${req.path}${req.query ? `?${req.query}` : ''}`;
    // Serialise once and sign/send exactly these bytes (§3.2).
    const bodyBytes = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body), 'utf8');
    const authorization = buildV3Authorization({
      method: req.method,
      url,
      body: bodyBytes,
      mchid: this.options.mchid,
      serialNo: this.options.merchantSerialNo,
      privateKey: this.options.merchantPrivateKey,
      timestamp: Math.floor(this.now() / 1000),
      nonce: this.nonce(),
    });
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'User-Agent': this.userAgent,
      ...(bodyBytes ? { 'Content-Type': 'application/json' } : {}),
      ...req.headers,
    };
    const res = await send(this.endpoint, { method: req.method, path: url, headers, body: bodyBytes });
    const requestId = headerValue(res.headers, 'request-id');
    const verify: Verifier =
      req.verifier ??
      ((r) => verifyV3Message({ headers: r.headers, rawBody: r.body, keyring: this.keyring, now: this.now }));

    if (res.status >= 200 && res.status < 300) {
      const verdict = await verify(res);
      if (!verdict.ok) {
        // §3.3: an unverifiable 2xx is never success nor failure.
        throw new UnknownOutcome({
          code: `UNVERIFIABLE_RESPONSE_${verdict.reason}`,
          message: verdict.message,
          httpStatus: res.status,
          requestId,
        });
      }
      if (res.status === 202) {
        throw new RetrySame({
          code: 'ACCEPTED',
          message: '202: accepted, repeat the same request later',
          httpStatus: 202,
          requestId,
        });
      }
      return { status: res.status, data: this.parseBody(req.schema, res, requestId), requestId };
    }

    if (headerValue(res.headers, 'wechatpay-signature')) {
      // Error replies are normally unsigned; a signed one that fails verification is not trusted either.
      const verdict = await verify(res);
      if (!verdict.ok) {
        throw new UnknownOutcome({
          code: `UNVERIFIABLE_RESPONSE_${verdict.reason}`,
          message: verdict.message,
          httpStatus: res.status,
          requestId,
        });
      }
    }
    const error = parseErrorBody(res);
    const nullCodes: readonly string[] =
      req.notFoundAsNull === true ? ['RESOURCE_NOT_EXISTS'] : req.notFoundAsNull || [];
    if (res.status === 404 && error?.code !== undefined && nullCodes.includes(error.code)) {
      return { status: 404, data: null as z.output<S>, requestId };
    }
    throw mapV3Error({ httpStatus: res.status, requestId, ...error });
  }

  private parseBody<S extends z.ZodType>(schema: S, res: RawResponse, requestId?: string): z.output<S> {
    const json = safeJson(res.body);
    if (json === undefined) {
      throw new UnknownOutcome({
        code: 'MALFORMED_RESPONSE',
        message: 'verified 2xx body is not JSON',
        httpStatus: res.status,
        requestId,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      // Verified, so really from WeChat, but not what the spec describes (e.g. a new status): a human decides (§6.2).
      const statusIssue = parsed.error.issues.some((i) => i.path[0] === 'status');
      throw new NeedsOperator({
        code: statusIssue ? 'UNRECOGNISED_STATUS' : 'UNEXPECTED_RESPONSE',
        message: formatZodError(parsed.error),
        httpStatus: res.status,
        requestId,
      });
    }
    return parsed.data;
  }
}

function safeJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function parseErrorBody(res: RawResponse): { code?: string; message?: string; detail?: unknown } | undefined {
  const parsed = v3ErrorResponseSchema.safeParse(safeJson(res.body));
  if (parsed.success) return parsed.data;
  const text = res.body.toString('utf8').slice(0, 200);
  return text ? { message: text } : undefined;
}
