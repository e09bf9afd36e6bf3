/**
 * Sealing of bank details that cross Temporal (USER_BANK_CARD_SEALED for apply-abnormal-refund): AES-256-GCM with a
 * merchant key the operator CLI and the worker share, and the key id as associated data. Keys come from
 * WXREFUND_SEAL_KEYS, `id:base64key[,id:base64key…]`; the first is used to seal, all of them unseal (rotation).
 *
 * Since payload encryption (docs/encryption.md) the codec encrypts every payload, bank details included, so sealing
 * is no longer the way they are protected. What remains of it:
 * - the worker keeps unsealing: updates sealed before payload encryption was turned on must still open, for as long
 *   as such a refund may still call apply-abnormal-refund (then WXREFUND_SEAL_KEYS can go); old histories replay
 *   without it, since workflow code only carries the sealed values;
 * - the operator CLI seals only when payloads are NOT encrypted (WXREFUND_PAYLOAD_ENCRYPTION=off or decrypt-only).
 * The sealing keys are deliberately not part of the payload key ring: the codec server offers that ring's decryption
 * over HTTP, and a key serves one purpose.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sealedSecretSchema, type SealedSecret } from '../domain/sealed-secret';

export interface Sealer {
  readonly currentKeyId: string;
  seal(plaintext: string): SealedSecret;
  unseal(sealed: SealedSecret): string;
}

export class SealError extends Error {
  override readonly name = 'SealError';
}

export function parseSealKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [id, b64, ...rest] = part.split(':');
    if (!id || !b64 || rest.length) throw new SealError('WXREFUND_SEAL_KEYS: each entry must be id:base64key');
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
      throw new SealError(`WXREFUND_SEAL_KEYS: key id '${id}' must be 1–32 of A-Z a-z 0-9 _ -`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32)
      throw new SealError(`WXREFUND_SEAL_KEYS: key '${id}' must be 32 bytes (base64 of 32 random bytes)`);
    keys.set(id, key);
  }
  if (keys.size === 0) throw new SealError('WXREFUND_SEAL_KEYS: no key given');
  return keys;
}

export function createSealer(keys: Map<string, Buffer>): Sealer {
  const [currentKeyId] = keys.keys();
  return {
    currentKeyId,
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', keys.get(currentKeyId)!, iv);
      cipher.setAAD(Buffer.from(currentKeyId));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return { alg: 'A256GCM', keyId: currentKeyId, iv: iv.toString('base64'), data: data.toString('base64') };
    },
    unseal(raw) {
      const sealed = sealedSecretSchema.parse(raw);
      const key = keys.get(sealed.keyId);
      if (!key) throw new SealError(`no sealing key '${sealed.keyId}' configured (WXREFUND_SEAL_KEYS)`);
      const data = Buffer.from(sealed.data, 'base64');
      if (data.length < 17) throw new SealError('sealed secret is too short');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(Buffer.from(sealed.keyId));
      decipher.setAuthTag(data.subarray(data.length - 16));
      try {
        return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
      } catch {
        throw new SealError(`sealed secret does not open with key '${sealed.keyId}' (tampered or wrong key)`);
      }
    },
  };
}

/** The sealer configured by WXREFUND_SEAL_KEYS, or undefined when sealing is not set up. */
export function sealerFromEnv(env: NodeJS.ProcessEnv = process.env): Sealer | undefined {
  const spec = env.WXREFUND_SEAL_KEYS;
  return spec ? createSealer(parseSealKeys(spec)) : undefined;
}
