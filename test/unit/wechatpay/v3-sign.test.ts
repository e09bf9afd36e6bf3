import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import {
  buildSignMessage,
  buildV3Authorization,
  generateNonce,
  MalformedAuthorization,
  parseV3Authorization,
  signSha256Rsa,
  signV3Response,
  verifySha256Rsa,
  verifyV3RequestSignature,
  verifyV3Signature,
} from '../../../src/wechatpay/v3/sign';
import { fixture, fixtureBytes } from './helpers/fixtures';

const merchantKey = fixture('merchant_key.pem');
const merchantCert = fixture('merchant_cert.pem');
const platformKey = fixture('platform_key.pem');
const platformCert = fixture('platform_cert.pem');
const platformPub = fixture('platform_pub.pem');

describe('v3 request signing against openssl vectors', () => {
  it('builds the five-line message, each line newline-terminated', () => {
    expect(buildSignMessage(['POST', '/v3/x', '1', 'n', '{}'])).toBe('POST\n/v3/x\n1\nn\n{}\n');
    expect(fixture('get_message.txt')).toBe(
      buildSignMessage([
        'GET',
        '/v3/refund/domestic/refunds/R20240101000001?sub_mchid=1900000109',
        '1554208460',
        '593BEC0C930BF1AFEB40B4A08C8FB242',
        '',
      ]),
    );
  });

  it('reproduces the openssl signature of a POST (PKCS#1 v1.5 is deterministic)', () => {
    const header = buildV3Authorization({
      method: 'POST',
      url: '/v3/refund/domestic/refunds',
      body: fixture('request_body.json'),
      mchid: '1900000109',
      serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      privateKey: merchantKey,
      timestamp: 1554208460,
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    expect(header).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",` +
        `signature="${fixture('request_signature.b64')}",timestamp="1554208460",` +
        `serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"`,
    );
  });

  it('reproduces the openssl signature of a GET with an empty body and a string timestamp', () => {
    const header = buildV3Authorization({
      method: 'GET',
      url: '/v3/refund/domestic/refunds/R20240101000001?sub_mchid=1900000109',
      mchid: '1900000109',
      serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      privateKey: merchantKey,
      timestamp: '1554208460',
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    expect(parseV3Authorization(header).signature).toBe(fixture('get_signature.b64'));
  });

  it('verifies the openssl request signature with the merchant certificate (simulator side)', () => {
    expect(
      verifyV3RequestSignature({
        method: 'POST',
        url: '/v3/refund/domestic/refunds',
        body: fixtureBytes('request_body.json'),
        timestamp: '1554208460',
        nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
        signature: fixture('request_signature.b64'),
        publicKey: merchantCert,
      }),
    ).toBe(true);
  });
});

describe('v3 response signatures against openssl vectors', () => {
  const base = {
    timestamp: 1554209980,
    nonce: 'c5ac7061fccab6bf3e254dcf98995b8c',
    body: fixtureBytes('response_body.json'),
    signature: fixture('response_signature.b64'),
  };

  it('accepts the openssl signature with the platform certificate and with the bare public key', () => {
    expect(verifyV3Signature({ ...base, publicKey: platformCert })).toBe(true);
    expect(verifyV3Signature({ ...base, publicKey: platformPub })).toBe(true);
    expect(verifyV3Signature({ ...base, timestamp: '1554209980', publicKey: platformPub })).toBe(true);
  });

  it('reproduces the openssl signature with signV3Response', () => {
    expect(signV3Response({ ...base, privateKey: platformKey })).toBe(base.signature);
  });

  it('rejects the signature under another key, a SIGNTEST probe and garbage', () => {
    expect(verifyV3Signature({ ...base, publicKey: merchantCert })).toBe(false);
    expect(
      verifyV3Signature({ ...base, signature: `WECHATPAY/SIGNTEST/${base.signature}`, publicKey: platformPub }),
    ).toBe(false);
    expect(verifyV3Signature({ ...base, signature: 'not base64!', publicKey: platformPub })).toBe(false);
    expect(verifyV3Signature({ ...base, signature: '', publicKey: platformPub })).toBe(false);
  });

  it('treats a string body as its UTF-8 bytes', () => {
    expect(verifyV3Signature({ ...base, body: base.body.toString('utf8'), publicKey: platformPub })).toBe(true);
  });

  it('throws on an unusable key rather than reporting a forged message', () => {
    expect(() => verifyV3Signature({ ...base, publicKey: 'not a key' })).toThrow();
  });
});

describe('parseV3Authorization', () => {
  const ok = 'WECHATPAY2-SHA256-RSA2048 mchid="1900",nonce_str="n1",signature="c2ln",timestamp="12",serial_no="AB"';

  it('parses the five fields', () => {
    expect(parseV3Authorization(ok)).toEqual({
      mchid: '1900',
      nonceStr: 'n1',
      signature: 'c2ln',
      timestamp: '12',
      serialNo: 'AB',
    });
  });

  it('accepts any order and whitespace after commas', () => {
    const shuffled =
      'WECHATPAY2-SHA256-RSA2048 serial_no="AB", timestamp="12",  signature="c2ln",nonce_str="n1", mchid="1900"';
    expect(parseV3Authorization(shuffled)).toEqual(parseV3Authorization(ok));
  });

  it.each([
    ['wrong scheme', ok.replace('WECHATPAY2-SHA256-RSA2048', 'Bearer')],
    ['missing field', ok.replace(',serial_no="AB"', '')],
    ['empty field', ok.replace('mchid="1900"', 'mchid=""')],
    ['duplicate field', `${ok},mchid="1"`],
    ['unknown field', `${ok},extra="1"`],
    ['unquoted value', ok.replace('mchid="1900"', 'mchid=1900')],
    ['empty header', ''],
  ])('throws MalformedAuthorization on %s', (_name, header) => {
    expect(() => parseV3Authorization(header)).toThrow(MalformedAuthorization);
  });
});

describe('properties', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherPub = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;

  it('a signed reply verifies; any flipped byte of body, timestamp, nonce or signature does not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }),
        fc.stringMatching(/^[A-Za-z0-9]{1,32}$/),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bodyArr, ts, nonce, pos, xor) => {
          const body = Buffer.from(bodyArr);
          const signature = signV3Response({ timestamp: ts, nonce, body, privateKey });
          expect(verifyV3Signature({ timestamp: ts, nonce, body, signature, publicKey })).toBe(true);
          expect(verifyV3Signature({ timestamp: ts, nonce, body, signature, publicKey: otherPub })).toBe(false);

          if (body.length > 0) {
            const tampered = Buffer.from(body);
            tampered[pos % body.length] ^= xor;
            expect(verifyV3Signature({ timestamp: ts, nonce, body: tampered, signature, publicKey })).toBe(false);
          }
          const tsText = String(ts);
          const i = pos % tsText.length;
          const otherDigit = String((Number(tsText[i]) + 1 + (xor % 9)) % 10);
          const badTs = tsText.slice(0, i) + otherDigit + tsText.slice(i + 1);
          expect(verifyV3Signature({ timestamp: badTs, nonce, body, signature, publicKey })).toBe(false);
          const j = pos % nonce.length;
          const badNonce = nonce.slice(0, j) + String.fromCharCode(nonce.charCodeAt(j) ^ 1) + nonce.slice(j + 1);
          expect(verifyV3Signature({ timestamp: ts, nonce: badNonce, body, signature, publicKey })).toBe(false);
          const sig = Buffer.from(signature, 'base64');
          sig[pos % sig.length] ^= xor;
          expect(verifyV3Signature({ timestamp: ts, nonce, body, signature: sig.toString('base64'), publicKey })).toBe(
            false,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('buildV3Authorization round-trips through parseV3Authorization and verifies on the simulator side', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST'),
        fc.stringMatching(/^\/v3\/[A-Za-z0-9/_%?=&-]{0,40}$/),
        fc.string({ maxLength: 200 }),
        fc.stringMatching(/^\d{1,10}$/),
        (method, url, body, mchid) => {
          const nonce = generateNonce();
          const header = buildV3Authorization({
            method,
            url,
            body,
            mchid,
            serialNo: 'ABC123',
            privateKey,
            timestamp: 1700000000,
            nonce,
          });
          const p = parseV3Authorization(header);
          expect(p).toMatchObject({ mchid, nonceStr: nonce, timestamp: '1700000000', serialNo: 'ABC123' });
          expect(
            verifyV3RequestSignature({
              method,
              url,
              body,
              timestamp: p.timestamp,
              nonce,
              signature: p.signature,
              publicKey,
            }),
          ).toBe(true);
          expect(
            verifyV3RequestSignature({
              method,
              url: `${url}x`,
              body,
              timestamp: p.timestamp,
              nonce,
              signature: p.signature,
              publicKey,
            }),
          ).toBe(false);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('signSha256Rsa/verifySha256Rsa round-trip for arbitrary messages', () => {
    fc.assert(
      fc.property(fc.string(), (msg) => {
        const s = signSha256Rsa(msg, privateKey);
        expect(verifySha256Rsa(msg, s, publicKey)).toBe(true);
        expect(verifySha256Rsa(`${msg} `, s, publicKey)).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('nonces are 32 alphanumerics and do not repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const n = generateNonce();
      expect(n).toMatch(/^[A-Za-z0-9]{32}$/);
      seen.add(n);
    }
    expect(seen.size).toBe(200);
  });
});
