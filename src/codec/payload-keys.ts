/**
 * The key ring of payload encryption at rest (docs/encryption.md): which AES-256 keys encrypt and decrypt the payloads
 * every process sends to Temporal.
 *
 * - Format: `id:base64key[,id:base64key…]`, the same as WXREFUND_SEAL_KEYS (`parseKeyRing` reads both). The FIRST key
 *   encrypts every new payload; every listed key decrypts, so a key is rotated by putting the new one first and
 *   keeping the old ones behind it for as long as histories encrypted under them are kept.
 * - Production: WXREFUND_PAYLOAD_KEYS, required. Without it the process refuses to start (a ConfigError naming the
 *   variable) unless WXREFUND_PAYLOAD_ENCRYPTION=off says, explicitly, that payloads are to be stored in clear.
 *   WXREFUND_PAYLOAD_ENCRYPTION=decrypt-only reads encrypted payloads and writes clear ones: the first step of turning
 *   encryption on for processes that restart one by one, so that none receives a payload it cannot read.
 * - Local stack: the same variable when set, else the key file named by the stack file (`codec.devKeyFile`), made on
 *   first start with one random key (mode 0600, as the simulator's keys) and read back on every later start, so the
 *   worker, the API, the webhook, the operator CLI and the codec server of one checkout share it.
 *
 * WXREFUND_SEAL_KEYS is deliberately NOT added to this ring: no payload was ever encrypted under a sealing key, so it
 * would decrypt nothing, and the codec server exposes this ring's decryption over HTTP; a key must serve one purpose.
 * Bank details sealed before payload encryption are opened as before, by the worker's unsealer (src/secrets/seal.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError } from '../config/config-error';

export const PAYLOAD_KEYS_ENV = 'WXREFUND_PAYLOAD_KEYS';
export const PAYLOAD_ENCRYPTION_ENV = 'WXREFUND_PAYLOAD_ENCRYPTION';

/** AES-256: 32 bytes. */
export const PAYLOAD_KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Keys by id, in the order given: the first encrypts, all decrypt. `source` names where they came from (the variable,
 * or the dev key file) so that a message about a missing key says where to add it. `encryptsNew` false is the
 * decrypt-only mode of a rollout (WXREFUND_PAYLOAD_ENCRYPTION=decrypt-only): new payloads go out in clear.
 */
export class PayloadKeyRing {
  readonly currentKeyId: string;
  // A private field, and the two methods below: logging or serialising a ring shows its ids, never a key.
  readonly #keys: ReadonlyMap<string, Buffer>;

  constructor(
    keys: ReadonlyMap<string, Buffer>,
    readonly source: string,
    readonly encryptsNew = true,
  ) {
    const [first] = keys.keys();
    if (first === undefined) throw new ConfigError(`${source}: no key given`);
    this.#keys = new Map(keys);
    this.currentKeyId = first;
  }

  /** The key that encrypts new payloads. */
  get currentKey(): Buffer {
    return this.#keys.get(this.currentKeyId)!;
  }

  /** The key with this id, or undefined when it is not in the ring. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** Every key id, the encrypting one first (ids are not secret: they appear in every payload's metadata). */
  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  toJSON(): { ids: string[]; source: string; encryptsNew: boolean } {
    return { ids: this.ids, source: this.source, encryptsNew: this.encryptsNew };
  }

  toString(): string {
    return `PayloadKeyRing(${this.ids.join(', ')} from ${this.source}${this.encryptsNew ? '' : ', decrypt-only'})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * `id:base64key[,id:base64key…]` (whitespace and empty entries ignored) → keys by id, in order. `setting` names the
 * variable or file in messages; a message never quotes a key. Rules: ids are 1–32 of A-Z a-z 0-9 _ -, unique; each key
 * is the base64 of exactly 32 bytes. The same rules as parseSealKeys in src/secrets/seal.ts.
 */
export function parseKeyRing(spec: string, setting: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  const entries = spec
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const [id, b64, ...rest] = entry.split(':');
    if (!id || !b64 || rest.length) {
      throw new ConfigError(`${setting}: entry ${i + 1} must be id:base64key`);
    }
    if (!KEY_ID.test(id)) throw new ConfigError(`${setting}: key id '${id}' must be 1–32 of A-Z a-z 0-9 _ -`);
    if (keys.has(id)) throw new ConfigError(`${setting}: key id '${id}' is listed twice`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new ConfigError(`${setting}: key '${id}' is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== PAYLOAD_KEY_BYTES) {
      throw new ConfigError(
        `${setting}: key '${id}' must be ${PAYLOAD_KEY_BYTES} bytes ` +
          `(the base64 of ${PAYLOAD_KEY_BYTES} random bytes), got ${key.length}`,
      );
    }
    keys.set(id, key);
  });
  if (keys.size === 0) throw new ConfigError(`${setting}: no key given`);
  return keys;
}

/** A new key entry `id:base64key` under a fresh id (`<prefix><yyyymmdd>-<8 hex>`): the dev key file's. */
export function newKeyEntry(idPrefix = 'k'): string {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const id = `${idPrefix}${day}-${randomBytes(4).toString('hex')}`;
  return `${id}:${randomBytes(PAYLOAD_KEY_BYTES).toString('base64')}`;
}

export interface LoadPayloadKeysOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * The local stack's key file (absolute, or relative to the working directory). Given only by processes of the local
   * stack; absent means production, where WXREFUND_PAYLOAD_KEYS is required.
   */
  devKeyFile?: string;
}

/**
 * The ring every process encrypts and decrypts with, or undefined when WXREFUND_PAYLOAD_ENCRYPTION=off (the caller
 * then logs a loud warning: payloads go to Temporal in clear). Throws a ConfigError naming the setting otherwise.
 *
 * WXREFUND_PAYLOAD_ENCRYPTION: `on` (or unset) encrypts; `decrypt-only` reads encrypted payloads but writes new ones
 * in clear, the first step of turning encryption on across processes that restart one by one (and the way back);
 * `off` neither reads nor writes them.
 */
export function loadPayloadKeys({ env = process.env, devKeyFile }: LoadPayloadKeysOptions = {}):
  PayloadKeyRing | undefined {
  const raw = env[PAYLOAD_ENCRYPTION_ENV]?.trim().toLowerCase() || 'on';
  if (raw !== 'on' && raw !== 'off' && raw !== 'decrypt-only') {
    throw new ConfigError(
      `${PAYLOAD_ENCRYPTION_ENV}: must be on, decrypt-only or off, got ${env[PAYLOAD_ENCRYPTION_ENV]}`,
    );
  }
  const spec = env[PAYLOAD_KEYS_ENV]?.trim();
  if (raw === 'off') {
    // Both at once is a contradiction: histories encrypted under the listed keys could no longer be read.
    if (spec) {
      throw new ConfigError(
        `${PAYLOAD_ENCRYPTION_ENV}=off but ${PAYLOAD_KEYS_ENV} is set: payloads already encrypted need the keys to ` +
          `be read; use ${PAYLOAD_ENCRYPTION_ENV}=decrypt-only to stop encrypting new ones, or unset the keys`,
      );
    }
    return undefined;
  }
  const encryptsNew = raw === 'on';
  if (spec) return new PayloadKeyRing(parseKeyRing(spec, PAYLOAD_KEYS_ENV), PAYLOAD_KEYS_ENV, encryptsNew);
  // The production switch of the worker (worker-settings.ts): a dev key there would encrypt refunds under a key that
  // lives on one machine's disk only, and lose them with it.
  if (devKeyFile !== undefined && env.WECHATPAY_BACKEND !== 'production') {
    const dev = ensureDevPayloadKey(devKeyFile);
    return new PayloadKeyRing(parseKeyRing(dev.spec, dev.file), `${dev.file} (or ${PAYLOAD_KEYS_ENV})`, encryptsNew);
  }
  throw new ConfigError(
    `${PAYLOAD_KEYS_ENV}: required: id:base64key[,id:base64key…] (the first encrypts, all decrypt; a key is ` +
      `32 random bytes, e.g. \`openssl rand -base64 32\`). To store payloads in Temporal in clear instead, set ` +
      `${PAYLOAD_ENCRYPTION_ENV}=off explicitly`,
  );
}

export interface DevPayloadKey {
  file: string;
  /** The file's content: `id:base64key` entries, one a line, the first encrypting. */
  spec: string;
  /** Made on this call (else read back). */
  created: boolean;
}

/**
 * The local stack's key file: read back when it exists, else made once with one key under a fresh id (mode 0600, its
 * folder 0700). Written aside and hard-linked into place, so processes that start together (worker, API, webhook,
 * codec server) never read a half-written file and all end up with the first one's key. An operator may add lines
 * (the first line encrypts) to rehearse a rotation locally.
 */
export function ensureDevPayloadKey(file: string): DevPayloadKey {
  const absolute = path.resolve(file);
  let created = false;
  if (!existsSync(absolute)) {
    mkdirSync(path.dirname(absolute), { recursive: true, mode: 0o700 });
    const aside = `${absolute}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(aside, `${newKeyEntry('dev')}\n`, { mode: 0o600 });
    try {
      linkSync(aside, absolute);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError(`${absolute}: cannot write the dev payload key: ${(e as NodeJS.ErrnoException).code}`);
      }
      // Another process of the stack made it first: use theirs.
    } finally {
      unlinkSync(aside);
    }
  }
  let spec: string;
  try {
    spec = readFileSync(absolute, 'utf8');
  } catch (e) {
    throw new ConfigError(`${absolute}: cannot read the dev payload key: ${(e as NodeJS.ErrnoException).code}`);
  }
  return { file: absolute, spec, created };
}
