import fc from 'fast-check';
import { buildV2Xml, MalformedXml, parseV2Xml } from '../../../src/wechatpay/v2/xml';

function isForbiddenInXml(cp: number): boolean {
  return (cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) || cp === 0xfffe || cp === 0xffff;
}

describe('v2 XML', () => {
  it('builds <xml> with CDATA for strings and bare numbers, skipping undefined', () => {
    expect(buildV2Xml({ appid: 'wx1', total_fee: 100, skip: undefined })).toBe(
      '<xml><appid><![CDATA[wx1]]></appid><total_fee>100</total_fee></xml>',
    );
  });

  it('parses a typical WeChat reply with declaration, whitespace and CDATA', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<xml>
  <return_code><![CDATA[SUCCESS]]></return_code>
  <return_msg><![CDATA[OK]]></return_msg>
  <refund_fee>100</refund_fee>
  <refund_recv_accout_0><![CDATA[支付用户零钱]]></refund_recv_accout_0>
  <empty></empty>
</xml>`;
    expect(parseV2Xml(xml)).toEqual({
      return_code: 'SUCCESS',
      return_msg: 'OK',
      refund_fee: '100',
      refund_recv_accout_0: '支付用户零钱',
      empty: '',
    });
  });

  it('keeps CDATA verbatim (no entity decoding, whitespace kept) and decodes the predefined entities in text', () => {
    expect(parseV2Xml('<xml><a><![CDATA[ a &amp; b ]]></a><b>x &amp; y &lt;z&gt; &#20013;</b></xml>')).toEqual({
      a: ' a &amp; b ',
      b: 'x & y <z> 中',
    });
  });

  it('round-trips "]]>" inside a value', () => {
    expect(parseV2Xml(buildV2Xml({ a: 'x]]>y]]>' }))).toEqual({ a: 'x]]>y]]>' });
  });

  it('parses the <root> document of a decrypted req_info', () => {
    expect(parseV2Xml('<root><out_refund_no><![CDATA[R1]]></out_refund_no></root>')).toEqual({ out_refund_no: 'R1' });
  });

  it.each([
    [
      'an external entity (XXE)',
      '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>',
    ],
    ['entity expansion', '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><a>&lol2;</a></xml>'],
    ['a bare DOCTYPE', '<!doctype xml><xml><a>1</a></xml>'],
    ['an undeclared entity', '<xml><a>&nbsp;</a></xml>'],
    ['mismatched tags', '<xml><a>1</b></xml>'],
    ['nested elements', '<xml><a><b>1</b></a></xml>'],
    ['a repeated element', '<xml><a>1</a><a>2</a></xml>'],
    ['two roots', '<xml><a>1</a></xml><xml><a>2</a></xml>'],
    ['plain text', 'return_code=SUCCESS'],
    ['JSON', '{"code":"SUCCESS"}'],
  ])('rejects %s', (_n, xml) => {
    expect(() => parseV2Xml(xml)).toThrow(MalformedXml);
  });

  it('property: build then parse returns the same strings', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/),
          // XML 1.0 cannot carry most control characters, and WeChat never sends them.
          fc.string({ maxLength: 40 }).filter((s) => ![...s].some((ch) => isForbiddenInXml(ch.codePointAt(0) ?? 0))),
        ),
        (fields) => {
          expect(parseV2Xml(buildV2Xml(fields))).toEqual(fields);
        },
      ),
      { numRuns: 200 },
    );
  });
});
