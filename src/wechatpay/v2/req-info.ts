/**
 * v2 refund notification `req_info` (reference §5.8): base64 of AES-256-ECB/PKCS#7 ciphertext, key = the 32 ASCII
 * characters of the lower-case hex MD5 of the API v2 key. The notification carries no signature, so a successful
 * decryption with the merchant's key is the authenticity check.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { DecryptionFailed } from '../crypto-error';

export function reqInfoKey(apiKey: string): Buffer {
  return Buffer.from(createHash('md5').update(apiKey, 'utf8').digest('hex'), 'ascii');
}

export function decryptV2ReqInfo(reqInfo: string, apiKey: string): string {
  const compact = typeof reqInfo === 'string' ? reqInfo.replace(/\s+/g, '') : '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new DecryptionFailed('req_info is not base64');
  const data = Buffer.from(compact, 'base64');
  if (data.length === 0 || data.length % 16 !== 0)
    throw new DecryptionFailed('req_info is not a whole number of blocks');
  try {
    const decipher = createDecipheriv('aes-256-ecb', reqInfoKey(apiKey), null);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new DecryptionFailed('req_info decryption failed', { cause });
  }
}

export function encryptV2ReqInfo(xml: string, apiKey: string): string {
  const cipher = createCipheriv('aes-256-ecb', reqInfoKey(apiKey), null);
  return Buffer.concat([cipher.update(Buffer.from(xml, 'utf8')), cipher.final()]).toString('base64');
}
