import fc from 'fast-check';
import { DecryptionFailed } from '../../../src/wechatpay/crypto-error';
import { decryptV3Resource, encryptV3Resource } from '../../../src/wechatpay/v3/aes-gcm';
import { fixture } from './helpers/fixtures';

const vector = JSON.parse(fixture('aes_gcm_vector.json')) as {
  apiV3Key: string;
  nonce: string;
  associatedData: string;
  ciphertext: string;
  plaintext: string;
};

describe('AEAD_AES_256_GCM resources', () => {
  it('decrypts the python-cryptography vector', () => {
    const plain = decryptV3Resource(vector);
    expect(plain).toBe(vector.plaintext);
    expect(JSON.parse(plain).user_received_account).toBe('招商银行信用卡0403');
  });

  it('encrypts to the same bytes as python-cryptography (ciphertext ‖ tag)', () => {
    expect(encryptV3Resource({ ...vector, plaintext: vector.plaintext })).toBe(vector.ciphertext);
  });

  it.each([
    ['wrong AAD', { associatedData: 'certificate' }],
    ['empty AAD', { associatedData: '' }],
    ['wrong nonce', { nonce: 'fdasflkja485' }],
    ['wrong key', { apiV3Key: 'b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb' }],
    ['not base64', { ciphertext: '%%%' }],
    ['shorter than a tag', { ciphertext: 'AAAA' }],
  ])('rejects %s with DecryptionFailed', (_n, change) => {
    expect(() => decryptV3Resource({ ...vector, ...change })).toThrow(DecryptionFailed);
  });

  it('refuses an APIv3 key that is not 32 bytes (configuration error, not a bad message)', () => {
    expect(() => decryptV3Resource({ ...vector, apiV3Key: 'short' })).toThrow(TypeError);
  });

  it('round-trips any plaintext, AAD and nonce; any flipped byte of ciphertext or AAD fails', () => {
    const key = 'K'.repeat(32);
    fc.assert(
      fc.property(
        fc.string({ maxLength: 500 }),
        fc.string({ maxLength: 40 }),
        fc.stringMatching(/^[A-Za-z0-9]{12}$/),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (plaintext, associatedData, nonce, pos, xor) => {
          const ciphertext = encryptV3Resource({ plaintext, nonce, associatedData, apiV3Key: key });
          expect(decryptV3Resource({ ciphertext, nonce, associatedData, apiV3Key: key })).toBe(plaintext);

          const bytes = Buffer.from(ciphertext, 'base64');
          bytes[pos % bytes.length] ^= xor;
          expect(() =>
            decryptV3Resource({ ciphertext: bytes.toString('base64'), nonce, associatedData, apiV3Key: key }),
          ).toThrow(DecryptionFailed);

          const aad = Buffer.from(associatedData, 'utf8');
          const badAad =
            aad.length === 0
              ? 'x'
              : (() => {
                  aad[pos % aad.length] ^= xor;
                  return aad.toString('latin1');
                })();
          if (badAad !== associatedData) {
            expect(() => decryptV3Resource({ ciphertext, nonce, associatedData: badAad, apiV3Key: key })).toThrow(
              DecryptionFailed,
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
