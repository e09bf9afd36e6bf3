/**
 * API v2 HTTP client (reference §5): XML over mutual TLS (merchant apiclient certificate through the undici pool's
 * `connect` options), MD5 or HMAC-SHA256 signs, reply sign checked, both result layers mapped to error classes.
 */
import { z } from 'zod';
import { NeedsOperator, RetrySame, UnknownOutcome } from '../errors';
import { formatZodError, zodIssues } from '../schema-rules';
import { createEndpoint, DEFAULT_TIMEOUTS, Endpoint, HttpTimeouts, send } from '../transport';
import { InvalidRequest } from '../errors';
import { generateNonce } from '../v3/sign';
import { mapV2ResultError, mapV2ReturnFail } from './error-map';
import { signV2, V2SignType, verifyV2Sign } from './sign';
import { buildV2Xml, parseV2Xml } from './xml';

export interface V2ClientOptions {
  baseUrl: string;
  appid: string;
  mchid: string;
  subAppid?: string;
  apiKey: string;
  signType: V2SignType;
  /** apiclient_cert.pem / apiclient_key.pem; presented on every call (§5.1). */
  clientCertificate: string | Buffer;
  clientPrivateKey: string | Buffer;
  caCertificate?: string | Buffer;
  timeouts?: Partial<HttpTimeouts>;
  nonce?: () => string;
}

export type V2Params = Record<string, string | number | undefined>;

export const V2_PATHS = {
  refund: '/secapi/pay/refund',
  refundV2: '/secapi/pay/refundv2',
  refundQuery: '/pay/refundquery',
  /** §11.2: documented without client certificate; sent like refundquery (the certificate is presented anyway, §5.1). */
  orderQuery: '/pay/orderquery',
} as const;

export class WechatPayV2Client {
  private readonly endpoint: Endpoint;
  private readonly nonce: () => string;

  constructor(private readonly options: V2ClientOptions) {
    this.endpoint = createEndpoint(
      options.baseUrl,
      { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      { cert: options.clientCertificate, key: options.clientPrivateKey, ca: options.caCertificate },
    );
    this.nonce = options.nonce ?? (() => generateNonce());
  }

  /**
   * Add appid/mch_id/nonce_str/sign_type, sign, validate against `requestSchema`, send, and return the verified
   * reply fields when return_code and result_code are SUCCESS. `notFoundCode` (REFUNDNOTEXIST on the refund query,
   * ORDERNOTEXIST on the order query) yields null.
   */
  async call(
    path: string,
    params: V2Params,
    requestSchema: z.ZodType,
    opts: { notFoundCode?: string } = {},
  ): Promise<Record<string, string> | null> {
    const signType = this.options.signType;
    const unsigned: V2Params = {
      appid: this.options.appid,
      mch_id: this.options.mchid,
      sub_appid: this.options.subAppid,
      nonce_str: this.nonce(),
      sign_type: signType,
      ...params,
    };
    const signed = { ...unsigned, sign: signV2(unsigned, this.options.apiKey, signType) };
    const checked = requestSchema.safeParse(signed);
    if (!checked.success) {
      throw new InvalidRequest(
        `invalid v2 request to ${path}: ${formatZodError(checked.error)}`,
        zodIssues(checked.error),
      );
    }
    const body = Buffer.from(buildV2Xml(signed), 'utf8');
    const res = await send(this.endpoint, {
      method: 'POST',
      path: `${this.endpoint.pathPrefix}${path}`,
      headers: {
        'Content-Type': 'text/xml; charset=utf-8',
        Accept: 'text/xml',
        'User-Agent': 'wechatpay-refund-engine/0.1',
      },
      body,
    });
    if (res.status !== 200) {
      // v2 answers 200 even for failures (§5.1); anything else came from a proxy or a wrong path.
      const d = {
        code: `HTTP_${res.status}`,
        message: res.body.toString('utf8').slice(0, 200),
        httpStatus: res.status,
      };
      throw res.status >= 500 ? new RetrySame(d) : new NeedsOperator(d);
    }
    let reply: Record<string, string>;
    try {
      reply = parseV2Xml(res.body);
    } catch (e) {
      throw new UnknownOutcome({
        code: 'MALFORMED_RESPONSE',
        message: (e as Error).message,
        httpStatus: 200,
        cause: e,
      });
    }
    if (reply.return_code !== 'SUCCESS') {
      if (reply.return_code === 'FAIL') throw mapV2ReturnFail(reply.return_msg);
      throw new UnknownOutcome({ code: 'MALFORMED_RESPONSE', message: 'reply without return_code', httpStatus: 200 });
    }
    // Replies are signed with the request's algorithm, whether or not they echo sign_type (§5.2).
    if (!verifyV2Sign(reply, this.options.apiKey, signType)) {
      throw new UnknownOutcome({
        code: 'UNVERIFIABLE_RESPONSE_BAD_SIGNATURE',
        message: 'reply sign missing or wrong',
        httpStatus: 200,
      });
    }
    if (reply.result_code !== 'SUCCESS') {
      if (opts.notFoundCode && reply.err_code === opts.notFoundCode) return null;
      throw mapV2ResultError(reply.err_code, reply.err_code_des);
    }
    return reply;
  }

  async close(): Promise<void> {
    await this.endpoint.pool.close();
  }
}
