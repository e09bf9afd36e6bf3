/**
 * API keys: `Authorization: Bearer <key>`. Only SHA-256 hashes of the keys are configured; a presented key is hashed
 * and compared with every configured hash in constant time (crypto.timingSafeEqual), all of them every time, so
 * neither the answer's timing nor which key matched leaks anything. Keys and hashes are never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { ApiKeyConfig } from './config';

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export class KeyVerifier {
  private readonly keys: Array<{ name: string; hash: Buffer }>;

  constructor(keys: readonly ApiKeyConfig[]) {
    if (keys.length === 0) throw new Error('api.keys: at least one key hash is required');
    this.keys = keys.map((k) => ({ name: k.name, hash: Buffer.from(k.sha256, 'hex') }));
  }

  /** The key's name, or undefined when the header carries no configured key. */
  verify(authorization: string | undefined): string | undefined {
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
    const presented = createHash('sha256')
      .update(match?.[1] ?? '', 'utf8')
      .digest();
    let found: string | undefined;
    for (const k of this.keys) {
      // No early exit: every hash is compared whether or not one matched.
      if (timingSafeEqual(presented, k.hash) && match) found ??= k.name;
    }
    return found;
  }
}

export interface DevApiKey {
  name: string;
  sha256: string;
  keyFile: string;
  hashFile: string;
  /** Made on this start (else read from keyFile). */
  created: boolean;
}

/**
 * The local stack's key when none is configured: made once (32 random bytes, base64url) and kept in `keyFile`
 * (mode 0600) with its SHA-256 in `<keyFile>.sha256` beside it; later starts read it back.
 */
export function ensureDevApiKey(keyFile: string): DevApiKey {
  const hashFile = `${keyFile}.sha256`;
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim();
    if (key.length > 0) {
      const sha256 = sha256Hex(key);
      if (!existsSync(hashFile)) writeFileSync(hashFile, `${sha256}\n`);
      return { name: 'dev', sha256, keyFile, hashFile, created: false };
    }
  }
  mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const key = `wxr_dev_${randomBytes(32).toString('base64url')}`;
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const sha256 = sha256Hex(key);
  writeFileSync(hashFile, `${sha256}\n`);
  return { name: 'dev', sha256, keyFile, hashFile, created: true };
}
