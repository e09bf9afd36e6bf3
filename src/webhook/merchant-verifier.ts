/**
 * What the HTTP layer needs per merchant: turn raw request bytes into a verified RefundNotification or throw
 * NotificationRejected. The crypto lives in the protocol layer (src/wechatpay/notifications.ts); this file only binds
 * one merchant's keys to it so routes never see key material.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { decodeV2Notification, verifyV3Notification } from '../wechatpay/notifications';
import type { RefundNotification } from '../wechatpay/gateway';

type V3Keyring = Parameters<typeof verifyV3Notification>[0]['keyring'];

export interface MerchantVerifier {
  readonly mchid: string;
  /** Verifies signature + timestamp over the raw bytes, decrypts, validates (v3, JSON). */
  readonly verifyV3?: (req: { headers: IncomingHttpHeaders; rawBody: Buffer; now: Date }) => Promise<RefundNotification>;
  /** Checks the envelope and decrypts req_info (v2, XML; unsigned by design). */
  readonly decodeV2?: (req: { rawBody: Buffer; now: Date }) => Promise<RefundNotification>;
}

export interface MerchantKeys {
  mchid: string;
  v3?: { keyring: V3Keyring; apiV3Key: string };
  v2?: { apiKey: string };
}

export function merchantVerifier(keys: MerchantKeys): MerchantVerifier {
  const { v3, v2 } = keys;
  return {
    mchid: keys.mchid,
    verifyV3: v3
      ? async ({ headers, rawBody, now }) =>
          verifyV3Notification({ headers, rawBody, keyring: v3.keyring, apiV3Key: v3.apiV3Key, now })
      : undefined,
    decodeV2: v2 ? async ({ rawBody }) => decodeV2Notification({ rawBody, apiKey: v2.apiKey, mchid: keys.mchid }) : undefined,
  };
}
