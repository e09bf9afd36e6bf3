/**
 * Payload encryption at rest (docs/encryption.md): a PayloadCodec that encrypts every payload a process sends to
 * Temporal and decrypts what it reads back, so Temporal's database, its backups and its Web UI (without the codec
 * server) hold only ciphertext.
 *
 * encode: the WHOLE Payload proto (its metadata, e.g. `encoding: json/plain`, and its data) is serialised and
 * encrypted with AES-256-GCM under the ring's first key: a fresh random 12-byte nonce per payload, the key id as
 * associated data (so a payload cannot be relabelled to another key), the 16-byte tag appended. The new payload's
 * data is `nonce || ciphertext || tag` (the layout of Temporal's TypeScript encryption sample); its metadata says
 * `encoding: binary/encrypted`, `encryption-key-id: <id>`, `encryption-cipher: AES-256-GCM`.
 *
 * decode: a payload that is not `binary/encrypted` passes through unchanged, so histories written before encryption
 * was turned on still replay and read. An encrypted one is opened with the key its metadata names, from any position
 * in the ring (rotation). A key that is not configured, or a payload that fails authentication (tampered data, or
 * metadata pointing at another key), throws a PayloadDecryptionError naming the key id and where keys are configured:
 * a worker then fails the workflow task and retries it, loudly, instead of running on wrong input.
 *
 * Synchronous node:crypto: for payloads of a few hundred bytes it is several times faster than WebCrypto's promises.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { PayloadKeyRing } from './payload-keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_CIPHER = 'encryption-cipher';
export const CIPHER_NAME = 'AES-256-GCM';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const ProtoPayload = temporal.api.common.v1.Payload;
// Metadata values are the same bytes for every payload: made once, shared (protobuf never mutates them).
const ENCRYPTED_ENCODING_BYTES = Buffer.from(ENCRYPTED_ENCODING);
const CIPHER_NAME_BYTES = Buffer.from(CIPHER_NAME);

export type PayloadDecryptionProblem = 'missing-key' | 'tampered' | 'malformed';

/** A payload that cannot be opened. Its message names the key id and where keys are configured, never a key. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';

  constructor(
    readonly problem: PayloadDecryptionProblem,
    readonly keyId: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class EncryptionCodec implements PayloadCodec {
  private readonly keyIdBytes = new Map<string, Buffer>();

  constructor(private readonly keys: PayloadKeyRing) {
    for (const id of keys.ids) this.keyIdBytes.set(id, Buffer.from(id));
  }

  /** The id new payloads are encrypted under. */
  get currentKeyId(): string {
    return this.keys.currentKeyId;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    // Decrypt-only (a rollout's first step): every process must read encrypted payloads before any writes them.
    if (!this.keys.encryptsNew) return payloads;
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  encrypt(payload: Payload): Payload {
    const keyId = this.keys.currentKeyId;
    const aad = this.keyIdBytes.get(keyId)!;
    const plain = ProtoPayload.encode(payload).finish();
    const out = Buffer.allocUnsafe(NONCE_BYTES + plain.length + TAG_BYTES);
    const nonce = randomFillSync(out.subarray(0, NONCE_BYTES));
    const cipher = createCipheriv('aes-256-gcm', this.keys.currentKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plain);
    body.copy(out, NONCE_BYTES);
    // GCM is a stream mode: final() returns nothing more; the tag comes after.
    cipher.final();
    cipher.getAuthTag().copy(out, NONCE_BYTES + body.length);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: ENCRYPTED_ENCODING_BYTES,
        [METADATA_KEY_ID]: aad,
        [METADATA_CIPHER]: CIPHER_NAME_BYTES,
      },
      data: out,
    };
  }

  decrypt(payload: Payload): Payload {
    const metadata = payload.metadata;
    const encoding = metadata?.[METADATA_ENCODING_KEY];
    if (!encoding || !ENCRYPTED_ENCODING_BYTES.equals(encoding)) return payload;

    const keyIdBytes = metadata[METADATA_KEY_ID];
    if (!keyIdBytes || keyIdBytes.length === 0) {
      throw new PayloadDecryptionError('malformed', undefined, `encrypted payload has no ${METADATA_KEY_ID} metadata`);
    }
    const keyId = Buffer.from(keyIdBytes).toString('utf8');
    const cipherName = metadata[METADATA_CIPHER];
    if (cipherName && !CIPHER_NAME_BYTES.equals(cipherName)) {
      throw new PayloadDecryptionError(
        'malformed',
        keyId,
        `payload encrypted under key '${keyId}' with cipher '${Buffer.from(cipherName).toString('utf8')}', ` +
          `but only ${CIPHER_NAME} is supported`,
      );
    }
    const key = this.keys.key(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        'missing-key',
        keyId,
        `payload was encrypted with key '${keyId}', which is not configured: add it to ${this.keys.source} ` +
          `(configured: ${this.keys.ids.join(', ')})`,
      );
    }
    const data = payload.data;
    if (!data || data.length < NONCE_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(
        'tampered',
        keyId,
        `payload encrypted with key '${keyId}' is truncated (${data?.length ?? 0} bytes)`,
      );
    }
    const tagAt = data.length - TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(keyIdBytes);
    decipher.setAuthTag(data.subarray(tagAt));
    let plain: Buffer;
    try {
      const body = decipher.update(data.subarray(NONCE_BYTES, tagAt));
      decipher.final();
      plain = body;
    } catch {
      throw new PayloadDecryptionError(
        'tampered',
        keyId,
        `payload encrypted with key '${keyId}' failed authentication: it was altered, or '${keyId}' in ` +
          `${this.keys.source} is not the key it was encrypted with`,
      );
    }
    try {
      return ProtoPayload.decode(plain);
    } catch {
      // Authenticated yet not a Payload: written by something else under our key. Never quote the plaintext.
      throw new PayloadDecryptionError('malformed', keyId, `payload decrypted with key '${keyId}' is not a Payload`);
    }
  }
}
