import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { createSealer, parseSealKeys, SealError, sealerFromEnv } from '../../../src/secrets/seal';

const key = () => randomBytes(32).toString('base64');

describe('sealing bank details before they reach Temporal', () => {
  it('round-trips any text, and the sealed form does not contain it', () => {
    const sealer = createSealer(parseSealKeys(`k1:${key()}`));
    fc.assert(
      fc.property(fc.string({ minLength: 4 }), (text) => {
        const sealed = sealer.seal(text);
        expect(JSON.stringify(sealed)).not.toContain(JSON.stringify(text).slice(1, -1));
        expect(sealer.unseal(sealed)).toBe(text);
      }),
    );
  });

  it('refuses a sealed value with any flipped byte', () => {
    const sealer = createSealer(parseSealKeys(`k1:${key()}`));
    const sealed = sealer.seal('6217000010012345678');
    const data = Buffer.from(sealed.data, 'base64');
    for (let i = 0; i < data.length; i++) {
      const bad = Buffer.from(data);
      bad[i] ^= 0x01;
      expect(() => sealer.unseal({ ...sealed, data: bad.toString('base64') })).toThrow(SealError);
    }
  });

  it('binds the key id: relabelling a sealed value with another configured key fails', () => {
    const sealer = createSealer(parseSealKeys(`k2:${key()},k1:${key()}`));
    const sealed = sealer.seal('张三');
    expect(() => sealer.unseal({ ...sealed, keyId: 'k1' })).toThrow(/does not open with key 'k1'/);
  });

  it('rotation: seals with the first key, still opens values sealed with older keys', () => {
    const old = key();
    const before = createSealer(parseSealKeys(`k1:${old}`)).seal('6222020200112233445');
    const after = createSealer(parseSealKeys(`k2:${key()},k1:${old}`));
    expect(after.currentKeyId).toBe('k2');
    expect(after.unseal(before)).toBe('6222020200112233445');
    expect(after.seal('x').keyId).toBe('k2');
    expect(() => createSealer(parseSealKeys(`k3:${key()}`)).unseal(before)).toThrow(/no sealing key 'k1'/);
  });

  it.each([
    ['k1', /each entry must be id:base64key/],
    ['k1:c2hvcnQ=', /must be 32 bytes/],
    ['bad id!:AAAA', /key id 'bad id!'/],
    [',', /no key given/],
  ])('rejects the key spec %s with a clear message', (spec, message) => {
    expect(() => parseSealKeys(spec)).toThrow(message);
  });

  it('is off without WXREFUND_SEAL_KEYS', () => {
    expect(sealerFromEnv({})).toBeUndefined();
    expect(sealerFromEnv({ WXREFUND_SEAL_KEYS: `k1:${key()}` })?.currentKeyId).toBe('k1');
  });
});
