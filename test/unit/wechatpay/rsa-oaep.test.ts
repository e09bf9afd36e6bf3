import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { DecryptionFailed } from '../../../src/wechatpay/crypto-error';
import { decryptSensitiveField, encryptSensitiveField } from '../../../src/wechatpay/v3/rsa-oaep';
import { fixture, FIXTURES } from './helpers/fixtures';

const platformKey = fixture('platform_key.pem');
const platformCert = fixture('platform_cert.pem');
const platformPub = fixture('platform_pub.pem');

describe('RSA-OAEP (SHA-1) sensitive fields', () => {
  it('decrypts a ciphertext made by openssl pkeyutl with OAEP SHA-1', () => {
    expect(decryptSensitiveField(fixture('oaep_bank_account.b64'), platformKey)).toBe('6225880137006543');
  });

  it('produces ciphertext openssl decrypts with OAEP SHA-1 (checked the other way)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oaep-'));
    const file = path.join(dir, 'ct.bin');
    writeFileSync(file, Buffer.from(encryptSensitiveField('张三', platformCert), 'base64'));
    const plain = execFileSync('openssl', [
      'pkeyutl',
      '-decrypt',
      '-inkey',
      path.join(FIXTURES, 'platform_key.pem'),
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      'rsa_oaep_md:sha1',
      '-pkeyopt',
      'rsa_mgf1_md:sha1',
      '-in',
      file,
    ]);
    expect(plain.toString('utf8')).toBe('张三');
  });

  it('round-trips with a certificate or a bare public key, randomised each time', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), (text) => {
        const a = encryptSensitiveField(text, platformCert);
        const b = encryptSensitiveField(text, platformPub);
        expect(a).not.toBe(b);
        expect(decryptSensitiveField(a, platformKey)).toBe(text);
        expect(decryptSensitiveField(b, platformKey)).toBe(text);
      }),
      { numRuns: 20 },
    );
  });

  it('fails with DecryptionFailed on a flipped byte', () => {
    const ct = Buffer.from(encryptSensitiveField('6225880137006543', platformPub), 'base64');
    ct[10] ^= 0x01;
    expect(() => decryptSensitiveField(ct.toString('base64'), platformKey)).toThrow(DecryptionFailed);
  });
});
