import fc from 'fast-check';
import { buildV2SignString, signV2, verifyV2Sign } from '../../../src/wechatpay/v2/sign';

// The example of WeChat Pay's v2 "安全规范" (security rules) page: these params and key give published signs.
const DOC_PARAMS = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const DOC_KEY = '192006250b4c09247ec02edce69f6a2d';

describe('v2 signatures', () => {
  it('builds the documented string: ASCII order, raw values, &key= appended', () => {
    expect(buildV2SignString(DOC_PARAMS, DOC_KEY)).toBe(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d',
    );
  });

  it('gives the published MD5 sign (default sign type)', () => {
    expect(signV2(DOC_PARAMS, DOC_KEY)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(signV2(DOC_PARAMS, DOC_KEY, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('gives the published HMAC-SHA256 sign', () => {
    expect(signV2(DOC_PARAMS, DOC_KEY, 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('drops empty values, undefined and the sign field itself; numbers are signed as text', () => {
    const withNoise = { ...DOC_PARAMS, sign: 'XYZ', empty: '', missing: undefined };
    expect(signV2(withNoise, DOC_KEY)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(signV2({ ...DOC_PARAMS, mch_id: 10000100 }, DOC_KEY)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('sorts names by ASCII byte order (upper case before lower case, "_" between)', () => {
    expect(buildV2SignString({ b: '1', B: '2', a_b: '3', ab: '4', a: '5' }, 'k')).toBe('B=2&a=5&a_b=3&ab=4&b=1&key=k');
  });

  it('verifyV2Sign uses sign_type from the params, MD5 when absent', () => {
    expect(verifyV2Sign({ ...DOC_PARAMS, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' }, DOC_KEY)).toBe(true);
    const hmacParams = { ...DOC_PARAMS, sign_type: 'HMAC-SHA256' };
    const sign = signV2(hmacParams, DOC_KEY, 'HMAC-SHA256');
    expect(verifyV2Sign({ ...hmacParams, sign }, DOC_KEY)).toBe(true);
    expect(verifyV2Sign({ ...hmacParams, sign }, DOC_KEY, 'MD5')).toBe(false);
    expect(verifyV2Sign({ ...DOC_PARAMS, sign: '9a0a8659f005d6984697e2ca0a9cf3b7' }, DOC_KEY)).toBe(true);
  });

  it('verifyV2Sign rejects missing signs, unknown sign types and wrong keys', () => {
    expect(verifyV2Sign(DOC_PARAMS, DOC_KEY)).toBe(false);
    expect(verifyV2Sign({ ...DOC_PARAMS, sign: '9A0A8659F005D6984697E2CA0A9CF3B7', sign_type: 'SHA1' }, DOC_KEY)).toBe(
      false,
    );
    expect(verifyV2Sign({ ...DOC_PARAMS, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' }, 'x'.repeat(32))).toBe(false);
  });

  it('property: order of insertion never matters, and any changed value breaks the sign', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z_]{1,12}$/), fc.string({ minLength: 1, maxLength: 20 }), { minKeys: 1 }),
        fc.constantFrom('MD5' as const, 'HMAC-SHA256' as const),
        fc.nat(),
        (params, type, pick) => {
          delete (params as Record<string, string>).sign;
          const keys = Object.keys(params);
          if (keys.length === 0) return;
          const reversed = Object.fromEntries(Object.entries(params).reverse());
          const sign = signV2(params, DOC_KEY, type);
          expect(signV2(reversed, DOC_KEY, type)).toBe(sign);
          expect(sign).toMatch(type === 'MD5' ? /^[0-9A-F]{32}$/ : /^[0-9A-F]{64}$/);
          expect(verifyV2Sign({ ...params, sign }, DOC_KEY, type)).toBe(true);
          const k = keys[pick % keys.length];
          expect(verifyV2Sign({ ...params, [k]: `${params[k]}x`, sign }, DOC_KEY, type)).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});
