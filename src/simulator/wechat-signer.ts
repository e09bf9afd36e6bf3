/**
 * WeChat's side of API v3 signatures (reference §3.3, §3.4): which key signs a reply or notification, the
 * Wechatpay-* headers, the encrypted platform-certificate list, and decryption of sensitive request fields.
 * The cryptographic primitives (RSA-SHA256 over the v3 message string, AES-256-GCM, RSA-OAEP) are the protocol
 * layer's (src/wechatpay/v3), pinned by published test vectors; this module only chooses keys and assembles headers,
 * including the deliberately broken variants of fault F7.
 *
 * The signing mode is per merchant (`SimMerchant.signWith`, default the simulator-wide `wechat.signWith`): WeChat moves
 * merchants to public keys one by one, so one simulator serves merchants in either mode at once.
 */
import { randomBytes } from 'node:crypto';
import { encryptV3Resource } from '../wechatpay/v3/aes-gcm';
import { decryptSensitiveField } from '../wechatpay/v3/rsa-oaep';
import { signV3Response } from '../wechatpay/v3/sign';
import type { WechatIdentity } from './keys';
import type { SigningMode, SimMerchant } from './model';
import { rfc3339 } from './time-format';
import { generateNonce } from './wire/nonce';

export type SignatureFault =
  'BAD_SIGNATURE' | 'SIGNTEST_SIGNATURE' | 'UNKNOWN_SERIAL' | 'STALE_TIMESTAMP' | 'MISSING_SIGNATURE';

export interface SigningKey {
  id: string;
  kind: 'platform-certificate' | 'public-key';
  privateKeyPem: string;
}

export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat's deliberately invalid probe signatures start with this (§3.3 step 4, §4.8). */
const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';
/** How far in the past a STALE_TIMESTAMP fault dates its signature (beyond the 300 s window). */
const STALE_BY_SECONDS = 600;

export class WechatSigner {
  private turn = 0;

  constructor(
    private readonly identity: WechatIdentity,
    private readonly realNow: () => number = Date.now,
  ) {}

  private certificateKeys(): SigningKey[] {
    return this.identity.platformCertificates.map((c) => ({
      id: c.serialNo,
      kind: 'platform-certificate' as const,
      privateKeyPem: c.privateKeyPem,
    }));
  }

  private publicKeys(): SigningKey[] {
    return this.identity.publicKeys.map((k) => ({
      id: k.id,
      kind: 'public-key' as const,
      privateKeyPem: k.privateKeyPem,
    }));
  }

  /** The signing mode for `merchant` (its own, else the simulator-wide one; the latter without a merchant). */
  modeOf(merchant?: Pick<SimMerchant, 'signWith'>): SigningMode {
    return merchant?.signWith ?? this.identity.signWith;
  }

  /**
   * The key for the next signature for `merchant`. "both" alternates between a platform certificate and a public key
   * (F10: a merchant in migration sees both); the newest certificate (last issued) is used in certificate mode, so a
   * rotated-in certificate signs at once.
   */
  nextKey(merchant?: Pick<SimMerchant, 'signWith'>): SigningKey {
    const certs = this.certificateKeys();
    const pubs = this.publicKeys();
    switch (this.modeOf(merchant)) {
      case 'certificate':
        return certs[certs.length - 1];
      case 'publicKey':
        return pubs[pubs.length - 1];
      case 'both':
        this.turn += 1;
        return this.turn % 2 === 1 ? pubs[pubs.length - 1] : certs[certs.length - 1];
    }
  }

  /** The certificate list is signed by a certificate (a client bootstrapping from it may know no other key). */
  certificateKey(): SigningKey | undefined {
    const certs = this.certificateKeys();
    return certs[certs.length - 1];
  }

  /** Wechatpay-* headers over `body` (raw bytes as sent). */
  signHeaders(body: Buffer | string, fault?: SignatureFault, key: SigningKey = this.nextKey()): Record<string, string> {
    const nonce = generateNonce();
    const nowSeconds = Math.floor(this.realNow() / 1000);
    const timestamp = String(fault === 'STALE_TIMESTAMP' ? nowSeconds - STALE_BY_SECONDS : nowSeconds);
    let signature = signV3Response({ timestamp, nonce, body, privateKey: key.privateKeyPem });
    let serial = key.id;
    if (fault === 'BAD_SIGNATURE') {
      // A well-formed signature over different bytes: passes every format check, fails verification.
      signature = signV3Response({
        timestamp,
        nonce,
        body: Buffer.concat([Buffer.from(body), Buffer.from(' ')]),
        privateKey: key.privateKeyPem,
      });
    } else if (fault === 'SIGNTEST_SIGNATURE') {
      signature = `${SIGNTEST_PREFIX}${randomBytes(48).toString('base64')}`;
    } else if (fault === 'UNKNOWN_SERIAL') {
      serial =
        key.kind === 'public-key' ? 'PUB_KEY_ID_0999999999999999999999' : '7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF1';
    }
    if (fault === 'MISSING_SIGNATURE') return {};
    return {
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': signature,
      'Wechatpay-Serial': serial,
      'Wechatpay-Signature-Type': SIGNATURE_TYPE,
    };
  }

  /**
   * GET /v3/certificates body for a merchant: every platform certificate encrypted with its APIv3 key (§3.4), old
   * and new alike while a rotation overlaps. Undefined in public-key-only mode or without any certificate.
   */
  certificatesBody(apiV3Key: string, mode: SigningMode = this.identity.signWith): string | undefined {
    if (mode === 'publicKey' || this.identity.platformCertificates.length === 0) return undefined;
    const data = this.identity.platformCertificates.map((c) => {
      const nonce = generateNonce(12);
      const associatedData = 'certificate';
      return {
        serial_no: c.serialNo,
        effective_time: rfc3339(Date.parse(c.notBefore)),
        expire_time: rfc3339(Date.parse(c.notAfter)),
        encrypt_certificate: {
          algorithm: 'AEAD_AES_256_GCM',
          nonce,
          associated_data: associatedData,
          ciphertext: encryptV3Resource({ plaintext: c.certificatePem, nonce, associatedData, apiV3Key }),
        },
      };
    });
    return JSON.stringify({ data });
  }

  /** Private key of the WeChat key named by a request's Wechatpay-Serial (§3.5), if it is one of ours. */
  decryptionKey(serial: string | undefined): string | undefined {
    if (!serial) return undefined;
    const id = serial.trim();
    const pub = this.identity.publicKeys.find((k) => k.id === id);
    if (pub) return pub.privateKeyPem;
    return this.identity.platformCertificates.find((c) => c.serialNo === id.toUpperCase())?.privateKeyPem;
  }

  decryptField(ciphertext: string, privateKeyPem: string): string {
    return decryptSensitiveField(ciphertext, privateKeyPem);
  }
}
