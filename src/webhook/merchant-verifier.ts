/**
 * What the HTTP layer needs per merchant: turn raw request bytes into a verified RefundNotification or throw
 * NotificationRejected. The crypto lives in the protocol layer (src/wechatpay/notifications.ts); this file only binds
 * one merchant's keys to it so routes never see key material.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RefundNotification } from '../wechatpay/gateway';
import { decodeV2Notification, verifyV3Notification } from '../wechatpay/notifications';
import type { WechatPayKeyring } from '../wechatpay/v3/keyring';

export interface MerchantVerifier {
  readonly mchid: string;
  /**
   * Marks the deployment's default merchant in a fixed list (merchant-directory.ts): its refunds keep the
   * single-merchant workflow IDs. The live registry directory takes the registry's default instead.
   */
  readonly isDefault?: boolean;
  /** Verifies timestamp window + signature over the raw bytes, then decrypts and validates (v3, JSON). */
  readonly verifyV3?: (req: {
    headers: IncomingHttpHeaders;
    rawBody: Buffer;
    now: Date;
  }) => Promise<RefundNotification>;
  /** Checks the envelope and decrypts req_info (v2, XML; unsigned by design, decryption is the authenticity check). */
  readonly decodeV2?: (req: { rawBody: Buffer; now: Date }) => Promise<RefundNotification>;
}

export interface MerchantKeys {
  /** The merchant (direct mode) or service provider (partner mode) the notifications are addressed to. */
  mchid: string;
  v3?: { keyring: WechatPayKeyring; apiV3Key: string };
  v2?: { apiKey: string };
  isDefault?: boolean;
}

export function merchantVerifier(keys: MerchantKeys, opts: { toleranceSeconds?: number } = {}): MerchantVerifier {
  const { v3, v2, mchid } = keys;
  return {
    mchid,
    ...(keys.isDefault ? { isDefault: true } : {}),
    verifyV3: v3
      ? ({ headers, rawBody, now }) =>
          verifyV3Notification({
            headers,
            rawBody,
            keyring: v3.keyring,
            apiV3Key: v3.apiV3Key,
            now,
            toleranceSeconds: opts.toleranceSeconds,
          })
      : undefined,
    decodeV2: v2
      ? async ({ rawBody, now }) => decodeV2Notification({ rawBody, apiKey: v2.apiKey, mchid, now })
      : undefined,
  };
}
