import fc from 'fast-check';
import { DecryptionFailed } from '../../../src/wechatpay/crypto-error';
import { decryptV2ReqInfo, encryptV2ReqInfo } from '../../../src/wechatpay/v2/req-info';
import { fixture } from './helpers/fixtures';

const API_KEY = '192006250b4c09247ec02edce69f6a2d';

describe('v2 req_info (AES-256-ECB, key = md5(apiKey) hex)', () => {
  it('decrypts the openssl vector', () => {
    expect(decryptV2ReqInfo(fixture('req_info.b64'), API_KEY)).toBe(fixture('req_info_plain.xml'));
  });

  it('encrypts to exactly the openssl bytes (ECB with PKCS#7 is deterministic)', () => {
    expect(encryptV2ReqInfo(fixture('req_info_plain.xml'), API_KEY)).toBe(fixture('req_info.b64'));
  });

  it('tolerates line breaks inside the base64 (as some gateways wrap it)', () => {
    const wrapped = fixture('req_info.b64').replace(/(.{76})/g, '$1\n');
    expect(decryptV2ReqInfo(wrapped, API_KEY)).toBe(fixture('req_info_plain.xml'));
  });

  it.each([
    ['a wrong key', fixture('req_info.b64'), 'x'.repeat(32)],
    ['non-base64 input', '***', API_KEY],
    ['a partial block', Buffer.alloc(15).toString('base64'), API_KEY],
    ['an empty string', '', API_KEY],
  ])('rejects %s with DecryptionFailed', (_n, input, key) => {
    expect(() => decryptV2ReqInfo(input, key)).toThrow(DecryptionFailed);
  });

  it('property: round-trips any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ minLength: 1, maxLength: 32 }), (text, key) => {
        expect(decryptV2ReqInfo(encryptV2ReqInfo(text, key), key)).toBe(text);
      }),
      { numRuns: 100 },
    );
  });

  it('property: a flipped byte in the last block never yields the original plaintext', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 100 }),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(15),
        (text, xor, off) => {
          const ct = Buffer.from(encryptV2ReqInfo(text, API_KEY), 'base64');
          ct[ct.length - 16 + off] ^= xor;
          let result: string | Error;
          try {
            result = decryptV2ReqInfo(ct.toString('base64'), API_KEY);
          } catch (e) {
            result = e as Error;
          }
          // ECB has no authentication: either the padding check fails or the plaintext is visibly different.
          if (result instanceof Error) expect(result).toBeInstanceOf(DecryptionFailed);
          else expect(result).not.toBe(text);
        },
      ),
      { numRuns: 100 },
    );
  });
});
