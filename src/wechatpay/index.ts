/**
 * Public surface of the WeChat Pay protocol layer. Keep this file and every export in it, even those nothing in this
 * repository imports through it: an external conformance check builds the project and calls `lib/wechatpay/index.js`.
 * The first block is that conformance surface (exact names and shapes checked against published vectors); the rest
 * is what the product uses. Code inside the repository imports from the defining modules directly.
 */
export { buildV3Authorization, verifyV3Signature } from './v3/sign';
export { decryptV3Resource } from './v3/aes-gcm';
export { signV2 } from './v2/sign';
export { decryptV2ReqInfo } from './v2/req-info';

export * from './errors';
export * from './gateway';
export * from './crypto-error';
export type { KeyLike } from './key-objects';
export {
  buildSignMessage,
  signSha256Rsa,
  verifySha256Rsa,
  parseV3Authorization,
  signV3Request,
  signV3Response,
  verifyV3RequestSignature,
  generateNonce,
  MalformedAuthorization,
  SIGNTEST_PREFIX,
  V3_AUTH_SCHEME,
} from './v3/sign';
export { encryptV3Resource } from './v3/aes-gcm';
export { encryptSensitiveField, decryptSensitiveField } from './v3/rsa-oaep';
export { WechatPayKeyring, PUBLIC_KEY_ID_PREFIX, isPublicKeyId } from './v3/keyring';
export type { PlatformCertificate, KeyringOptions, KeyringEntry } from './v3/keyring';
export { verifyV3Message, verifyV3MessageIfKeyKnown, headerValue } from './v3/verify';
export type { V3VerificationFailure, V3VerificationResult } from './v3/verify';
export * from './v3/schemas';
export { verifyV2Sign, buildV2SignString, parseV2SignType } from './v2/sign';
export type { V2SignType } from './v2/sign';
export { buildV2Xml, parseV2Xml, MalformedXml } from './v2/xml';
export { encryptV2ReqInfo } from './v2/req-info';
export * from './v2/indexed-fields';
export * from './v2/schemas';
export { formatZodError, zodIssues, requestCurrencySchema, replyCurrencySchema } from './schema-rules';
export { orderReplyMismatch } from './order-query';
export type { OrderQuestion } from './order-query';

export { WechatPayV3Client, encodePathSegment, V3_ORDER_NOT_FOUND_CODES } from './v3/client';
export type { V3ClientOptions, V3CallResult } from './v3/client';
export { createV3Gateway, v3GatewayConfigSchema, v3RefundToRecord, v3OrderToRecord } from './v3/gateway';
export type { V3Gateway, V3GatewayConfigInput, V3GatewayDeps } from './v3/gateway';
export { V3_ERROR_CLASSES, mapV3Error } from './v3/error-map';
export { WechatPayV2Client, V2_PATHS } from './v2/client';
export type { V2ClientOptions } from './v2/client';
export { createV2Gateway, v2GatewayConfigSchema, v2OrderToRecord } from './v2/gateway';
export type { V2Gateway, V2GatewayConfigInput } from './v2/gateway';
export { V2_ERROR_CLASSES, mapV2ResultError, mapV2ReturnFail } from './v2/error-map';
export {
  verifyV3Notification,
  decodeVerifiedV3Notification,
  decodeV2Notification,
  NotificationRejected,
  isNotificationRejected,
  looksLikeXml,
} from './notifications';
export type {
  Clock,
  NotificationRejectReason,
  VerifyV3NotificationInput,
  DecodeV2NotificationInput,
} from './notifications';
export { classifyTransportError, DEFAULT_TIMEOUTS } from './transport';
export type { HttpTimeouts } from './transport';
export { v2TimeToRfc3339, v2CompactTimeToRfc3339, toBeijingRfc3339 } from './time';
