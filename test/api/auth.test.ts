import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDevApiKey, KeyVerifier, sha256Hex } from '../../src/api/auth';

describe('API keys', () => {
  const verifier = new KeyVerifier([
    { name: 'order-service', sha256: sha256Hex('key-one') },
    { name: 'reporting', sha256: sha256Hex('key-two') },
  ]);

  it('accepts any configured key as a bearer token and names its holder', () => {
    expect(verifier.verify('Bearer key-one')).toBe('order-service');
    expect(verifier.verify('Bearer key-two')).toBe('reporting');
  });

  it.each([undefined, '', 'key-one', 'Bearer ', 'Bearer key-on', 'Bearer key-one ', 'Basic key-one', 'bearer key-one'])(
    'refuses %p',
    (header) => {
      expect(verifier.verify(header)).toBeUndefined();
    },
  );

  it('needs at least one key hash', () => {
    expect(() => new KeyVerifier([])).toThrow(/at least one key/);
  });

  it('makes a dev key once, with its SHA-256 beside it, and reads it back on later starts', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'api-key-')), '.data', 'api', 'dev-api-key');
    const made = ensureDevApiKey(file);
    expect(made.created).toBe(true);
    const key = readFileSync(file, 'utf8').trim();
    expect(key).toMatch(/^wxr_dev_[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${file}.sha256`, 'utf8').trim()).toBe(sha256Hex(key));
    expect(made.sha256).toBe(sha256Hex(key));

    const again = ensureDevApiKey(file);
    expect(again).toMatchObject({ created: false, sha256: made.sha256 });
    expect(new KeyVerifier([again]).verify(`Bearer ${key}`)).toBe('dev');
  });
});
