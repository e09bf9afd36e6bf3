/**
 * Sensitive request fields (bank_account, real_name; §3.5): RSA-OAEP with SHA-1 and MGF1-SHA-1, base64.
 * SHA-1 because that is what the official SDKs send and what WeChat decrypts (§10 notes a FAQ mentioning SHA-256).
 */
import { constants, privateDecrypt, publicEncrypt } from 'node:crypto';
import { DecryptionFailed } from '../crypto-error';
import { KeyLike, toPrivateKey, toPublicKey } from '../key-objects';

const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' } as const;

/** Encrypt with WeChat's public key (PEM public key, PEM platform certificate or KeyObject). */
export function encryptSensitiveField(plaintext: string, publicKeyOrCertPem: KeyLike): string {
  return publicEncrypt({ key: toPublicKey(publicKeyOrCertPem), ...OAEP }, Buffer.from(plaintext, 'utf8')).toString(
    'base64',
  );
}

/** Simulator side: decrypt with the private key of the key named by the request's Wechatpay-Serial. */
export function decryptSensitiveField(ciphertextB64: string, privateKey: KeyLike): string {
  try {
    return privateDecrypt({ key: toPrivateKey(privateKey), ...OAEP }, Buffer.from(ciphertextB64, 'base64')).toString(
      'utf8',
    );
  } catch (cause) {
    throw new DecryptionFailed('RSA-OAEP decryption failed', { cause });
  }
}
