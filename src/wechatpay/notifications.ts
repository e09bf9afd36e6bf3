/**
 * Refund notifications → RefundNotification (gateway.ts), for the webhook.
 *
 * v3 (§4): verify over the raw body first (window, SIGNTEST, serial, signature), only then parse and decrypt.
 * v2 (§5.8): there is no signature; req_info must decrypt with the merchant's key, but AES-256-ECB blocks can be
 * spliced without it, so a v2 notification is never `authentic` (4xx only) and the workflow confirms it by a query.
 *
 * Every rejection is a NotificationRejected with a machine-readable `reason` and the HTTP status the webhook
 * should answer with (§4.5): 4xx when the message is not authentic, 5xx when it is authentic but cannot be
 * decrypted or understood (WeChat then retries, and someone should be alerted).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DecryptionFailed } from './crypto-error';
import { RefundNotification } from './gateway';
import { formatZodError } from './schema-rules';
import { v2TimeToRfc3339, toBeijingRfc3339 } from './time';
import { decryptV2ReqInfo } from './v2/req-info';
import { v2NotificationEnvelopeSchema, v2RefundNotificationInfoSchema } from './v2/schemas';
import { MalformedXml, parseV2Xml } from './v2/xml';
import { decryptV3Resource } from './v3/aes-gcm';
import { WechatPayKeyring } from './v3/keyring';
import { v3NotificationEnvelopeSchema, v3RefundNotificationResourceSchema } from './v3/schemas';
import { HeaderBag, verifyV3Message, verifyV3MessageIfKeyKnown } from './v3/verify';

export type NotificationRejectReason =
  | 'MISSING_HEADERS'
  | 'BAD_SIGNATURE'
  | 'STALE_TIMESTAMP'
  | 'UNKNOWN_SERIAL'
  | 'SIGNTEST_PROBE'
  | 'BAD_CIPHERTEXT'
  | 'MALFORMED'
  | 'MERCHANT_MISMATCH';

export type Clock = (() => number) | Date | number;

function clockFn(now: Clock | undefined): () => number {
  if (now === undefined) return Date.now;
  if (typeof now === 'function') return now;
  const ms = now instanceof Date ? now.getTime() : now;
  return () => ms;
}

export class NotificationRejected extends Error {
  override readonly name = 'NotificationRejected';
  constructor(
    readonly reason: NotificationRejectReason,
    message: string,
    /**
     * True once a v3 signature checked out: the sender really is WeChat. Never for v2, whose ECB-encrypted req_info
     * can be spliced without the key, so decrypting proves less than a signature.
     */
    readonly authentic: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${message}`, options);
  }

  /** §4.5: inauthentic → 401 (WeChat does not retry usefully); authentic but unusable → 500 so WeChat retries. */
  get suggestedHttpStatus(): number {
    return this.authentic ? 500 : 401;
  }
}

export function isNotificationRejected(e: unknown): e is NotificationRejected {
  return e instanceof NotificationRejected;
}

function parseJson(raw: string, what: string, authentic: boolean): unknown {
  try {
    return JSON.parse(raw);
  } catch (cause) {
    throw new NotificationRejected('MALFORMED', `${what} is not JSON`, authentic, { cause });
  }
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string, authentic: boolean): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new NotificationRejected('MALFORMED', `${what}: ${formatZodError(r.error)}`, authentic);
  return r.data;
}

export interface VerifyV3NotificationInput {
  headers: HeaderBag;
  rawBody: Buffer | string;
  keyring: WechatPayKeyring;
  apiV3Key: string;
  /** Injectable clock: a function returning epoch milliseconds, a Date, or epoch milliseconds. */
  now?: Clock;
  toleranceSeconds?: number;
}

export async function verifyV3Notification(input: VerifyV3NotificationInput): Promise<RefundNotification> {
  // Known key (the normal case): fully synchronous. Unknown serial: one awaited certificate refresh.
  const v = { ...input, now: clockFn(input.now) };
  const verdict = verifyV3MessageIfKeyKnown(v) ?? (await verifyV3Message(v));
  if (!verdict.ok) throw new NotificationRejected(verdict.reason, verdict.message, false);
  return decodeVerifiedV3Notification(input.rawBody, input.apiV3Key);
}

/** Decrypt and map a notification whose signature has already been verified. */
export function decodeVerifiedV3Notification(rawBody: Buffer | string, apiV3Key: string): RefundNotification {
  const input = { rawBody, apiV3Key };

  const raw = typeof input.rawBody === 'string' ? input.rawBody : input.rawBody.toString('utf8');
  const envelope = parseWith(v3NotificationEnvelopeSchema, parseJson(raw, 'body', true), 'envelope', true);
  let plaintext: string;
  try {
    plaintext = decryptV3Resource({
      ciphertext: envelope.resource.ciphertext,
      nonce: envelope.resource.nonce,
      associatedData: envelope.resource.associated_data ?? '',
      apiV3Key: input.apiV3Key,
    });
  } catch (cause) {
    if (!(cause instanceof DecryptionFailed)) throw cause;
    throw new NotificationRejected('BAD_CIPHERTEXT', 'resource does not decrypt with the APIv3 key', true, { cause });
  }
  const r = parseWith(v3RefundNotificationResourceSchema, parseJson(plaintext, 'resource', true), 'resource', true);
  return {
    notificationId: envelope.id,
    apiVersion: 'v3',
    mchid: (r.mchid ?? r.sp_mchid) as string,
    subMchid: r.sub_mchid,
    outTradeNo: r.out_trade_no,
    transactionId: r.transaction_id,
    outRefundNo: r.out_refund_no,
    refundId: r.refund_id,
    status: r.refund_status === 'CLOSE' ? 'CLOSED' : r.refund_status,
    userReceivedAccount: r.user_received_account,
    successTime: r.success_time,
    amounts: {
      totalFen: r.amount.total,
      refundFen: r.amount.refund,
      payerTotalFen: r.amount.payer_total,
      payerRefundFen: r.amount.payer_refund,
      // As WeChat wrote it; the documented resource names none, which means CNY.
      currency: r.amount.currency ?? 'CNY',
    },
    receivedAt: envelope.create_time,
  };
}

export interface DecodeV2NotificationInput {
  rawBody: Buffer | string;
  apiKey: string;
  /** When given, the envelope's mch_id must equal it (the merchant, or the provider in partner mode). */
  mchid?: string;
  /** Receipt time (receivedAt): a function returning epoch milliseconds, a Date, or epoch milliseconds. */
  now?: Clock;
}

const V2_STATUS = { SUCCESS: 'SUCCESS', REFUNDCLOSE: 'CLOSED', CHANGE: 'ABNORMAL' } as const;

export function decodeV2Notification(input: DecodeV2NotificationInput): RefundNotification {
  let outer: Record<string, string>;
  try {
    outer = parseV2Xml(input.rawBody);
  } catch (cause) {
    throw new NotificationRejected('MALFORMED', (cause as Error).message, false, { cause });
  }
  const envelope = parseWith(v2NotificationEnvelopeSchema, outer, 'envelope', false);
  if (envelope.return_code !== 'SUCCESS') {
    throw new NotificationRejected('MALFORMED', `return_code is FAIL: ${envelope.return_msg ?? ''}`, false);
  }
  if (input.mchid !== undefined && envelope.mch_id !== input.mchid) {
    throw new NotificationRejected('MERCHANT_MISMATCH', `mch_id ${envelope.mch_id} is not ${input.mchid}`, false);
  }
  let inner: Record<string, string>;
  try {
    inner = parseV2Xml(decryptV2ReqInfo(envelope.req_info, input.apiKey));
  } catch (cause) {
    // Garbage that happens to end in valid padding decrypts to non-XML: same verdict as a failed decryption.
    if (!(cause instanceof DecryptionFailed) && !(cause instanceof MalformedXml)) throw cause;
    throw new NotificationRejected('BAD_CIPHERTEXT', 'req_info does not decrypt with the API key', false, { cause });
  }
  // Not `authentic`: req_info is AES-256-ECB, whose blocks can be cut or spliced without the key, so a req_info that
  // decrypts but does not validate is more likely tampering than WeChat's mistake (4xx, not a 5xx alarm).
  const info = parseWith(v2RefundNotificationInfoSchema, inner, 'req_info', false);
  return {
    // v2 notifications have no id; the ciphertext is the same on every retry of one notification.
    notificationId: `V2-${createHash('sha256').update(envelope.req_info.replace(/\s+/g, '')).digest('hex').slice(0, 32)}`,
    apiVersion: 'v2',
    mchid: envelope.mch_id,
    subMchid: envelope.sub_mch_id || undefined,
    outTradeNo: info.out_trade_no,
    transactionId: info.transaction_id,
    outRefundNo: info.out_refund_no,
    refundId: info.refund_id,
    status: V2_STATUS[info.refund_status],
    userReceivedAccount: info.refund_recv_accout,
    successTime: v2TimeToRfc3339(info.success_time),
    amounts: {
      totalFen: info.total_fee,
      refundFen: info.refund_fee,
      payerRefundFen: info.cash_refund_fee,
      settlementRefundFen: info.settlement_refund_fee,
      settlementTotalFen: info.settlement_total_fee,
      // v2 omits the currency (it means CNY); read it when a req_info does carry one.
      currency: info.refund_fee_type ?? info.fee_type ?? 'CNY',
    },
    receivedAt: toBeijingRfc3339(clockFn(input.now)()),
  };
}

/** §4.9: a v3 webhook may receive v2 XML; tell them apart without parsing. */
export function looksLikeXml(rawBody: Buffer | string, contentType?: string): boolean {
  if (contentType && /xml/i.test(contentType)) return true;
  const head = (typeof rawBody === 'string' ? rawBody : rawBody.subarray(0, 64).toString('utf8')).trimStart();
  return head.startsWith('<');
}
