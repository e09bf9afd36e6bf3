/**
 * AEAD_AES_256_GCM as WeChat uses it for notification resources and platform certificates (§4.3, §3.4):
 * key = the 32-character APIv3 key as ASCII bytes, IV = the nonce string's bytes, AAD = associated_data verbatim,
 * wire ciphertext = base64(ciphertext ‖ 16-byte tag).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecryptionFailed } from '../crypto-error';

const TAG_LENGTH = 16;

/** The APIv3 key as the 32 raw key bytes; anything else is a configuration error. */
let lastKey: { text: string; bytes: Buffer } | undefined;

export function apiV3KeyBytes(apiV3Key: string | Buffer): Buffer {
  // A process normally uses one APIv3 key: remember its bytes instead of re-encoding it per notification.
  if (typeof apiV3Key === 'string' && lastKey?.text === apiV3Key) return lastKey.bytes;
  const key = typeof apiV3Key === 'string' ? Buffer.from(apiV3Key, 'utf8') : apiV3Key;
  if (key.length !== 32) throw new TypeError(`apiV3Key must be 32 bytes (got ${key.length})`);
  if (typeof apiV3Key === 'string') lastKey = { text: apiV3Key, bytes: key };
  return key;
}

export interface V3ResourceCipherInput {
  nonce: string;
  associatedData?: string | null;
  apiV3Key: string | Buffer;
}

export function decryptV3Resource(input: V3ResourceCipherInput & { ciphertext: string }): string {
  const key = apiV3KeyBytes(input.apiV3Key);
  // No separate base64 format check: anything that is not WeChat's ciphertext fails the GCM tag below.
  if (typeof input.ciphertext !== 'string') throw new DecryptionFailed('ciphertext is not a string');
  const data = Buffer.from(input.ciphertext, 'base64');
  if (data.length < TAG_LENGTH) throw new DecryptionFailed('ciphertext shorter than the GCM tag');
  if (typeof input.nonce !== 'string' || input.nonce.length === 0) throw new DecryptionFailed('nonce missing');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(input.nonce, 'utf8'), {
      authTagLength: TAG_LENGTH,
    });
    decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
    decipher.setAAD(Buffer.from(input.associatedData ?? '', 'utf8'));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_LENGTH)), decipher.final()]);
    return plain.toString('utf8');
  } catch (cause) {
    throw new DecryptionFailed('AES-256-GCM authentication failed', { cause });
  }
}

export function encryptV3Resource(input: V3ResourceCipherInput & { plaintext: string | Buffer }): string {
  const key = apiV3KeyBytes(input.apiV3Key);
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(input.nonce, 'utf8'), { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.from(input.associatedData ?? '', 'utf8'));
  const plain = typeof input.plaintext === 'string' ? Buffer.from(input.plaintext, 'utf8') : input.plaintext;
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]).toString('base64');
}
