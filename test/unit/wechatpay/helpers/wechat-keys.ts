/** Keys and certificates for tests: one merchant, one platform certificate, one WeChat Pay public key. */
import {
  CertificateAuthority,
  createCertificateAuthority,
  generateRsaKeyPair,
  issueCertificate,
  IssuedCertificate,
} from '../../../../src/pki';
import { encryptV3Resource } from '../../../../src/wechatpay/v3/aes-gcm';
import { generateNonce, signV3Response } from '../../../../src/wechatpay/v3/sign';

export const API_V3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
export const MCHID = '1900000109';
export const SP_MCHID = '1900000100';
export const SUB_MCHID = '1900000111';
export const PUB_KEY_ID = 'PUB_KEY_ID_0119000001092024010100000000000001';

export interface TestKeys {
  ca: CertificateAuthority;
  /** TLS server certificate for 127.0.0.1 / localhost (the fake v2 API). */
  tlsServer: IssuedCertificate;
  /** The merchant API certificate, also usable as the v2 TLS client certificate. */
  merchant: IssuedCertificate;
  platform: IssuedCertificate;
  /** A second platform certificate, not configured anywhere: found only through GET /v3/certificates. */
  rotatedPlatform: IssuedCertificate;
  publicKey: { id: string; privateKeyPem: string; publicKeyPem: string };
}

let cached: TestKeys | undefined;

export function testKeys(): TestKeys {
  if (cached) return cached;
  const ca = createCertificateAuthority({ subject: { commonName: 'Tenpay.com Root CA (test)' } });
  const merchant = issueCertificate(ca, {
    subject: { commonName: MCHID, organizationName: 'Test Merchant' },
    usage: ['clientAuth'],
  });
  const tlsServer = issueCertificate(ca, {
    subject: { commonName: 'api.mch.weixin.qq.com (test)' },
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: ['serverAuth'],
  });
  const platform = issueCertificate(ca, { subject: { commonName: 'Tenpay.com platform (test)' } });
  const rotatedPlatform = issueCertificate(ca, { subject: { commonName: 'Tenpay.com platform 2 (test)' } });
  const pair = generateRsaKeyPair();
  cached = { ca, tlsServer, merchant, platform, rotatedPlatform, publicKey: { id: PUB_KEY_ID, ...pair } };
  return cached;
}

export interface SignAs {
  privateKeyPem: string;
  serial: string;
}

/** Wechatpay-* headers for `body` signed by `as` at `timestampSeconds`. */
export function signedHeaders(body: string | Buffer, as: SignAs, timestampSeconds: number): Record<string, string> {
  const nonce = generateNonce();
  return {
    'wechatpay-timestamp': String(timestampSeconds),
    'wechatpay-nonce': nonce,
    'wechatpay-serial': as.serial,
    'wechatpay-signature': signV3Response({ timestamp: timestampSeconds, nonce, body, privateKey: as.privateKeyPem }),
    'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
  };
}

/** A v3 refund notification body, encrypted with the APIv3 key. */
export function notificationBody(
  resource: Record<string, unknown>,
  opts: { id?: string; eventType?: string; associatedData?: string; nonce?: string } = {},
): string {
  const nonce = opts.nonce ?? generateNonce(12);
  const associatedData = opts.associatedData ?? 'refund';
  return JSON.stringify({
    id: opts.id ?? 'EV-2018022511223320873',
    create_time: '2018-06-08T10:34:56+08:00',
    resource_type: 'encrypt-resource',
    event_type: opts.eventType ?? 'REFUND.SUCCESS',
    summary: '退款成功',
    resource: {
      original_type: 'refund',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: encryptV3Resource({
        plaintext: JSON.stringify(resource),
        nonce,
        associatedData,
        apiV3Key: API_V3_KEY,
      }),
      associated_data: associatedData,
      nonce,
    },
  });
}

export const SAMPLE_RESOURCE = {
  mchid: MCHID,
  transaction_id: '1008450740201411110005820873',
  out_trade_no: '20150806125346',
  refund_id: '50200207182018070300011301001',
  out_refund_no: '7752501201407033233368018',
  refund_status: 'SUCCESS',
  success_time: '2018-06-08T10:34:56+08:00',
  user_received_account: '招商银行信用卡0403',
  amount: { total: 999, refund: 999, payer_total: 999, payer_refund: 999 },
};
