import { createPrivateKey, createPublicKey, KeyObject, X509Certificate } from 'node:crypto';

/** Anything node:crypto accepts as key material: PEM text, PEM bytes or an already parsed KeyObject. */
export type KeyLike = string | Buffer | KeyObject;

/**
 * Parsing a PEM into a KeyObject costs far more than one RSA verify, so parsed keys are memoised by their PEM text.
 * The cache is bounded because callers may (wrongly) pass freshly generated keys in a loop; eviction is FIFO.
 */
const MAX_CACHED = 256;
const publicCache = new Map<string, KeyObject>();
const privateCache = new Map<string, KeyObject>();

function remember(cache: Map<string, KeyObject>, pem: string, key: KeyObject): KeyObject {
  if (cache.size >= MAX_CACHED) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(pem, key);
  return key;
}

/** A public KeyObject from a PEM public key, a PEM X.509 certificate, a private key, or a KeyObject. */
export function toPublicKey(key: KeyLike): KeyObject {
  if (key instanceof KeyObject) {
    return key.type === 'private' ? createPublicKey(key) : key;
  }
  const pem = typeof key === 'string' ? key : key.toString('utf8');
  const cached = publicCache.get(pem);
  if (cached) return cached;
  // X509Certificate gives a clear error for a broken certificate, rather than createPublicKey's generic decoder message.
  const parsed = pem.includes('-----BEGIN CERTIFICATE-----')
    ? new X509Certificate(pem).publicKey
    : createPublicKey(pem);
  return remember(publicCache, pem, parsed);
}

/** A private KeyObject from PEM (PKCS#8 or PKCS#1) or a KeyObject. */
export function toPrivateKey(key: KeyLike): KeyObject {
  if (key instanceof KeyObject) {
    if (key.type !== 'private') throw new TypeError('expected a private key');
    return key;
  }
  const pem = typeof key === 'string' ? key : key.toString('utf8');
  const cached = privateCache.get(pem);
  if (cached) return cached;
  return remember(privateCache, pem, createPrivateKey(pem));
}
