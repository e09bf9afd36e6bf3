import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError } from '../../../src/config/config-error';
import { describePayloadEncryption } from '../../../src/codec/data-converter';
import { ensureDevPayloadKey, loadPayloadKeys, parseKeyRing } from '../../../src/codec/payload-keys';

const b64 = () => randomBytes(32).toString('base64');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'payload-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseKeyRing (the format of WXREFUND_PAYLOAD_KEYS and WXREFUND_SEAL_KEYS)', () => {
  it('keeps the order given: the first encrypts', () => {
    const [a, b] = [b64(), b64()];
    const keys = parseKeyRing(` k2:${a} , k1:${b},`, 'WXREFUND_PAYLOAD_KEYS');
    expect([...keys.keys()]).toEqual(['k2', 'k1']);
    expect(keys.get('k2')).toEqual(Buffer.from(a, 'base64'));
  });

  it.each([
    ['', /no key given/],
    ['k1', /entry 1 must be id:base64key/],
    [`k1:${b64()}:x`, /entry 1 must be id:base64key/],
    [`bad id!:${b64()}`, /key id 'bad id!' must be 1–32/],
    [`${'x'.repeat(33)}:${b64()}`, /must be 1–32/],
    [`k1:${randomBytes(16).toString('base64')}`, /key 'k1' must be 32 bytes .* got 16/],
    ['k1:not*base64', /key 'k1' is not base64/],
  ])('refuses %j, naming the setting', (spec, message) => {
    const msg = configError(() => parseKeyRing(spec, 'WXREFUND_PAYLOAD_KEYS'));
    expect(msg).toMatch(/^WXREFUND_PAYLOAD_KEYS: /);
    expect(msg).toMatch(message);
  });

  it('a ring never shows its keys when logged or serialised, only their ids', () => {
    const key = b64();
    const ring = loadPayloadKeys({ env: { WXREFUND_PAYLOAD_KEYS: `k1:${key}` } })!;
    const hex = Buffer.from(key, 'base64').toString('hex');
    for (const shown of [inspect(ring, { depth: 10, showHidden: true }), JSON.stringify(ring), String(ring)]) {
      expect(shown).toContain('k1');
      expect(shown).not.toContain(key);
      expect(shown).not.toContain(hex.slice(0, 16));
      expect(shown).not.toMatch(/\b\d{1,3}, \d{1,3}, \d{1,3}, \d{1,3}/); // Buffer bytes as a list
    }
  });

  it('refuses an id listed twice, and never quotes a key in a message', () => {
    const key = b64();
    const msg = configError(() => parseKeyRing(`k1:${key},k1:${b64()}`, 'WXREFUND_PAYLOAD_KEYS'));
    expect(msg).toMatch(/'k1' is listed twice/);
    expect(msg).not.toContain(key);
  });
});

describe('loadPayloadKeys', () => {
  it('production: reads WXREFUND_PAYLOAD_KEYS; the first key encrypts, every key decrypts', () => {
    const ring = loadPayloadKeys({ env: { WXREFUND_PAYLOAD_KEYS: `new:${b64()},old:${b64()}` } })!;
    expect(ring.currentKeyId).toBe('new');
    expect(ring.ids).toEqual(['new', 'old']);
    expect(ring.key('old')).toHaveLength(32);
    expect(ring.key('gone')).toBeUndefined();
    expect(describePayloadEncryption(ring)).toMatch(/key new from WXREFUND_PAYLOAD_KEYS; 1 older key decrypt only/);
  });

  it('production without keys refuses to start, naming the setting and how to turn encryption off', () => {
    const msg = configError(() => loadPayloadKeys({ env: {} }));
    expect(msg).toMatch(/^WXREFUND_PAYLOAD_KEYS: required/);
    expect(msg).toContain('WXREFUND_PAYLOAD_ENCRYPTION=off');
  });

  it('WXREFUND_PAYLOAD_ENCRYPTION=off, explicitly: no keys, and a warning line for the log', () => {
    expect(loadPayloadKeys({ env: { WXREFUND_PAYLOAD_ENCRYPTION: 'off' } })).toBeUndefined();
    expect(loadPayloadKeys({ env: { WXREFUND_PAYLOAD_ENCRYPTION: 'OFF' }, devKeyFile: path.join(dir, 'k') })).toBe(
      undefined,
    );
    expect(describePayloadEncryption(undefined)).toMatch(/^WARNING: payload encryption is OFF/);
  });

  it('refuses off together with keys, and any other value of the switch', () => {
    expect(
      configError(() =>
        loadPayloadKeys({ env: { WXREFUND_PAYLOAD_ENCRYPTION: 'off', WXREFUND_PAYLOAD_KEYS: `k1:${b64()}` } }),
      ),
    ).toMatch(
      /WXREFUND_PAYLOAD_ENCRYPTION=off but WXREFUND_PAYLOAD_KEYS is set: .* use WXREFUND_PAYLOAD_ENCRYPTION=decrypt-only/,
    );
    expect(configError(() => loadPayloadKeys({ env: { WXREFUND_PAYLOAD_ENCRYPTION: 'false' } }))).toMatch(
      /^WXREFUND_PAYLOAD_ENCRYPTION: must be on, decrypt-only or off, got false/,
    );
    const on = loadPayloadKeys({ env: { WXREFUND_PAYLOAD_ENCRYPTION: 'on', WXREFUND_PAYLOAD_KEYS: `k1:${b64()}` } });
    expect(on?.currentKeyId).toBe('k1');
  });

  it('decrypt-only (a rollout step): the keys are loaded but new payloads are not encrypted, and the log says so', () => {
    const ring = loadPayloadKeys({
      env: { WXREFUND_PAYLOAD_ENCRYPTION: 'decrypt-only', WXREFUND_PAYLOAD_KEYS: `k1:${b64()}` },
    })!;
    expect(ring.encryptsNew).toBe(false);
    expect(describePayloadEncryption(ring)).toMatch(/^WARNING: payloads are DECRYPT-ONLY/);
    expect(loadPayloadKeys({ env: { WXREFUND_PAYLOAD_KEYS: `k1:${b64()}` } })!.encryptsNew).toBe(true);
    // Decrypt-only still needs keys: it is meant to read what is already encrypted.
    expect(configError(() => loadPayloadKeys({ env: { WXREFUND_PAYLOAD_ENCRYPTION: 'decrypt-only' } }))).toMatch(
      /^WXREFUND_PAYLOAD_KEYS: required/,
    );
  });

  it('local stack: makes a key on first start (mode 0600, folder 0700) and reuses it after', () => {
    const file = path.join(dir, '.data', 'codec', 'payload-keys');
    const first = loadPayloadKeys({ env: {}, devKeyFile: file })!;
    expect(first.currentKeyId).toMatch(/^dev\d{8}-[0-9a-f]{8}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(first.source).toContain(file);

    const again = loadPayloadKeys({ env: {}, devKeyFile: file })!;
    expect(again.currentKeyId).toBe(first.currentKeyId);
    expect(again.currentKey.equals(first.currentKey)).toBe(true);
    expect(ensureDevPayloadKey(file).created).toBe(false);
  });

  it('local stack: two stacks get different keys and ids', () => {
    const a = loadPayloadKeys({ env: {}, devKeyFile: path.join(dir, 'a') })!;
    const b = loadPayloadKeys({ env: {}, devKeyFile: path.join(dir, 'b') })!;
    expect(a.currentKeyId).not.toBe(b.currentKeyId);
    expect(a.currentKey.equals(b.currentKey)).toBe(false);
  });

  it('local stack: WXREFUND_PAYLOAD_KEYS wins over the key file, which is then not made', () => {
    const file = path.join(dir, 'payload-keys');
    const ring = loadPayloadKeys({ env: { WXREFUND_PAYLOAD_KEYS: `env1:${b64()}` }, devKeyFile: file })!;
    expect(ring.currentKeyId).toBe('env1');
    expect(() => statSync(file)).toThrow();
  });

  it('local stack: lines added to the key file rehearse a rotation (first line encrypts)', () => {
    const file = path.join(dir, 'payload-keys');
    writeFileSync(file, `new:${b64()}\nold:${b64()}\n`, { mode: 0o600 });
    const ring = loadPayloadKeys({ env: {}, devKeyFile: file })!;
    expect(ring.ids).toEqual(['new', 'old']);
  });

  it('a damaged key file is named in the error', () => {
    const file = path.join(dir, 'payload-keys');
    writeFileSync(file, 'dev1:tooshort\n');
    expect(configError(() => loadPayloadKeys({ env: {}, devKeyFile: file }))).toContain(file);
  });

  it('never makes a dev key for a production worker (WECHATPAY_BACKEND=production), even given a key file', () => {
    const file = path.join(dir, 'payload-keys');
    const msg = configError(() => loadPayloadKeys({ env: { WECHATPAY_BACKEND: 'production' }, devKeyFile: file }));
    expect(msg).toMatch(/^WXREFUND_PAYLOAD_KEYS: required/);
    expect(() => readFileSync(file)).toThrow();
  });
});
