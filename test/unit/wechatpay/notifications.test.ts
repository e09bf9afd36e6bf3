import { createHash } from 'node:crypto';
import {
  decodeV2Notification,
  NotificationRejected,
  verifyV3Notification,
  looksLikeXml,
} from '../../../src/wechatpay/notifications';
import { buildV2Xml } from '../../../src/wechatpay/v2/xml';
import { encryptV2ReqInfo } from '../../../src/wechatpay/v2/req-info';
import { WechatPayKeyring } from '../../../src/wechatpay/v3/keyring';
import {
  API_V3_KEY,
  MCHID,
  notificationBody,
  SAMPLE_RESOURCE,
  signedHeaders,
  SP_MCHID,
  SUB_MCHID,
  testKeys,
} from './helpers/wechat-keys';
import { fixture } from './helpers/fixtures';

const NOW_S = 1_700_000_000;
const now = () => NOW_S * 1000;

function keyring(): WechatPayKeyring {
  const k = testKeys();
  return new WechatPayKeyring({
    platformCertificates: [k.platform.certPem],
    publicKeys: [{ id: k.publicKey.id, publicKey: k.publicKey.publicKeyPem }],
    now,
  });
}

async function rejection(p: Promise<unknown>): Promise<NotificationRejected> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NotificationRejected);
    return e as NotificationRejected;
  }
  throw new Error('expected NotificationRejected');
}

describe('verifyV3Notification', () => {
  const k = testKeys();
  const body = notificationBody(SAMPLE_RESOURCE);
  const platformSigner = { privateKeyPem: k.platform.privateKeyPem, serial: k.platform.serial };
  const rotatedSigner = { privateKeyPem: k.rotatedPlatform.privateKeyPem, serial: k.rotatedPlatform.serial };

  it('verifies and decrypts a notification signed with a platform certificate', async () => {
    const n = await verifyV3Notification({
      headers: signedHeaders(body, platformSigner, NOW_S),
      rawBody: Buffer.from(body),
      keyring: keyring(),
      apiV3Key: API_V3_KEY,
      now,
    });
    expect(n).toEqual({
      notificationId: 'EV-2018022511223320873',
      apiVersion: 'v3',
      mchid: MCHID,
      subMchid: undefined,
      outTradeNo: '20150806125346',
      transactionId: '1008450740201411110005820873',
      outRefundNo: '7752501201407033233368018',
      refundId: '50200207182018070300011301001',
      status: 'SUCCESS',
      userReceivedAccount: '招商银行信用卡0403',
      successTime: '2018-06-08T10:34:56+08:00',
      amounts: { totalFen: 999, refundFen: 999, payerTotalFen: 999, payerRefundFen: 999, currency: 'CNY' },
      receivedAt: '2018-06-08T10:34:56+08:00',
    });
  });

  it('accepts the WeChat Pay public key (PUB_KEY_ID_…) in the same keyring (migration)', async () => {
    const headers = signedHeaders(body, { privateKeyPem: k.publicKey.privateKeyPem, serial: k.publicKey.id }, NOW_S);
    await expect(
      verifyV3Notification({ headers, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now }),
    ).resolves.toMatchObject({ status: 'SUCCESS' });
  });

  it('maps partner-mode resources and the CLOSE alias', async () => {
    const partner = {
      ...SAMPLE_RESOURCE,
      mchid: undefined,
      sp_mchid: SP_MCHID,
      sub_mchid: SUB_MCHID,
      refund_status: 'CLOSE',
      success_time: undefined,
    };
    const b = notificationBody(partner, { eventType: 'REFUND.CLOSED' });
    const n = await verifyV3Notification({
      headers: signedHeaders(b, platformSigner, NOW_S),
      rawBody: b,
      keyring: keyring(),
      apiV3Key: API_V3_KEY,
      now,
    });
    expect(n).toMatchObject({ mchid: SP_MCHID, subMchid: SUB_MCHID, status: 'CLOSED' });
  });

  it('reports a currency the resource names, CNY when it names none', async () => {
    const b = notificationBody({ ...SAMPLE_RESOURCE, amount: { ...SAMPLE_RESOURCE.amount, currency: 'USD' } });
    const n = await verifyV3Notification({
      headers: signedHeaders(b, platformSigner, NOW_S),
      rawBody: b,
      keyring: keyring(),
      apiV3Key: API_V3_KEY,
      now,
    });
    expect(n.amounts.currency).toBe('USD');
  });

  it('accepts an empty associated_data, used verbatim', async () => {
    const b = notificationBody(SAMPLE_RESOURCE, { associatedData: '' });
    await expect(
      verifyV3Notification({
        headers: signedHeaders(b, platformSigner, NOW_S),
        rawBody: b,
        keyring: keyring(),
        apiV3Key: API_V3_KEY,
        now,
      }),
    ).resolves.toBeDefined();
  });

  it('verifies the openssl-signed fixture body with the fixture platform certificate', async () => {
    // response_body.json carries an empty ciphertext: the signature verifies, decryption then fails as BAD_CIPHERTEXT.
    const ring = new WechatPayKeyring({
      platformCertificates: [fixture('platform_cert.pem')],
      now: () => 1554209980_000,
    });
    const headers = {
      'Wechatpay-Timestamp': '1554209980',
      'Wechatpay-Nonce': 'c5ac7061fccab6bf3e254dcf98995b8c',
      'Wechatpay-Signature': fixture('response_signature.b64'),
      'Wechatpay-Serial': '3775B6A45ACD588826D15E583A95F5DD2C4A3E21',
    };
    const e = await rejection(
      verifyV3Notification({
        headers,
        rawBody: fixture('response_body.json'),
        keyring: ring,
        apiV3Key: API_V3_KEY,
        now: () => 1554209980_000,
      }),
    );
    expect(e.reason).toBe('MALFORMED');
    expect(e.authentic).toBe(true);
  });

  describe('rejections carry a reason and the right reply status', () => {
    const headers = () => signedHeaders(body, platformSigner, NOW_S);

    it('BAD_SIGNATURE when one byte of the body changes', async () => {
      const tampered = Buffer.from(body);
      tampered[20] ^= 1;
      const e = await rejection(
        verifyV3Notification({ headers: headers(), rawBody: tampered, keyring: keyring(), apiV3Key: API_V3_KEY, now }),
      );
      expect(e.reason).toBe('BAD_SIGNATURE');
      expect(e.suggestedHttpStatus).toBe(401);
    });

    it('BAD_SIGNATURE when re-serialised JSON is verified instead of the raw bytes', async () => {
      const reserialised = JSON.stringify(JSON.parse(body), null, 1);
      const e = await rejection(
        verifyV3Notification({
          headers: headers(),
          rawBody: reserialised,
          keyring: keyring(),
          apiV3Key: API_V3_KEY,
          now,
        }),
      );
      expect(e.reason).toBe('BAD_SIGNATURE');
    });

    it('takes the clock as a function, a Date or epoch milliseconds', async () => {
      const h = headers();
      for (const clock of [now, new Date(NOW_S * 1000), NOW_S * 1000]) {
        await expect(
          verifyV3Notification({ headers: h, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now: clock }),
        ).resolves.toBeDefined();
      }
      const late = new Date((NOW_S + 301) * 1000);
      expect(
        (
          await rejection(
            verifyV3Notification({ headers: h, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now: late }),
          )
        ).reason,
      ).toBe('STALE_TIMESTAMP');
    });

    it('STALE_TIMESTAMP beyond ±300 s, accepted at exactly 300 s', async () => {
      const old = signedHeaders(body, platformSigner, NOW_S - 301);
      expect(
        (
          await rejection(
            verifyV3Notification({ headers: old, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now }),
          )
        ).reason,
      ).toBe('STALE_TIMESTAMP');
      const future = signedHeaders(body, platformSigner, NOW_S + 301);
      expect(
        (
          await rejection(
            verifyV3Notification({ headers: future, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now }),
          )
        ).reason,
      ).toBe('STALE_TIMESTAMP');
      const edge = signedHeaders(body, platformSigner, NOW_S - 300);
      await expect(
        verifyV3Notification({ headers: edge, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now }),
      ).resolves.toBeDefined();
    });

    it.each([
      [
        'SIGNTEST_PROBE',
        'for WECHATPAY/SIGNTEST/ signatures',
        () => ({ ...headers(), 'wechatpay-signature': 'WECHATPAY/SIGNTEST/abcdefg' }),
      ],
      [
        'UNKNOWN_SERIAL',
        'for a serial in no keyring (no refresher configured)',
        () => signedHeaders(body, rotatedSigner, NOW_S),
      ],
      [
        'MISSING_HEADERS',
        'when a Wechatpay-* header is absent',
        () => {
          const { ['wechatpay-nonce']: _drop, ...h } = headers();
          return h;
        },
      ],
    ])('%s %s', async (reason, _when, headersOf) => {
      const h = headersOf();
      const e = await rejection(
        verifyV3Notification({ headers: h, rawBody: body, keyring: keyring(), apiV3Key: API_V3_KEY, now }),
      );
      expect(e.reason).toBe(reason);
    });

    it('UNKNOWN_SERIAL is resolved by one refresh when a refresher knows the new certificate', async () => {
      const ring = keyring();
      const refresher = jest.fn(async () => [{ serial: k.rotatedPlatform.serial, certPem: k.rotatedPlatform.certPem }]);
      ring.setRefresher(refresher);
      const h = signedHeaders(body, rotatedSigner, NOW_S);
      await expect(
        verifyV3Notification({ headers: h, rawBody: body, keyring: ring, apiV3Key: API_V3_KEY, now }),
      ).resolves.toBeDefined();
      expect(refresher).toHaveBeenCalledTimes(1);
    });

    it('BAD_CIPHERTEXT (authentic, 500) when the resource does not decrypt', async () => {
      const parsed = JSON.parse(body);
      const ct = Buffer.from(parsed.resource.ciphertext, 'base64');
      ct[ct.length - 1] ^= 1;
      parsed.resource.ciphertext = ct.toString('base64');
      const b = JSON.stringify(parsed);
      const e = await rejection(
        verifyV3Notification({
          headers: signedHeaders(b, platformSigner, NOW_S),
          rawBody: b,
          keyring: keyring(),
          apiV3Key: API_V3_KEY,
          now,
        }),
      );
      expect(e.reason).toBe('BAD_CIPHERTEXT');
      expect(e.authentic).toBe(true);
      expect(e.suggestedHttpStatus).toBe(500);
    });

    it('BAD_CIPHERTEXT when the AAD was changed', async () => {
      const parsed = JSON.parse(body);
      parsed.resource.associated_data = 'transaction';
      const b = JSON.stringify(parsed);
      expect(
        (
          await rejection(
            verifyV3Notification({
              headers: signedHeaders(b, platformSigner, NOW_S),
              rawBody: b,
              keyring: keyring(),
              apiV3Key: API_V3_KEY,
              now,
            }),
          )
        ).reason,
      ).toBe('BAD_CIPHERTEXT');
    });

    it('MALFORMED for a signed body that is not a refund notification, naming the field', async () => {
      const b = notificationBody({ ...SAMPLE_RESOURCE, amount: { ...SAMPLE_RESOURCE.amount, refund: 9.5 } });
      const e = await rejection(
        verifyV3Notification({
          headers: signedHeaders(b, platformSigner, NOW_S),
          rawBody: b,
          keyring: keyring(),
          apiV3Key: API_V3_KEY,
          now,
        }),
      );
      expect(e.reason).toBe('MALFORMED');
      expect(e.message).toContain('amount.refund: must be a positive integer number of fen');
    });
  });
});

describe('decodeV2Notification', () => {
  const API_KEY = '192006250b4c09247ec02edce69f6a2d';
  const reqInfo = fixture('req_info.b64');
  const outer = (fields: Record<string, string | undefined>) =>
    buildV2Xml({
      return_code: 'SUCCESS',
      appid: 'wx2421b1c4370ec43b',
      mch_id: '10000100',
      nonce_str: 'TeqClE3i0mvn3DrK',
      req_info: reqInfo,
      ...fields,
    });

  it('decrypts req_info and maps it (status, amounts, Beijing time, stable id)', () => {
    const n = decodeV2Notification({
      rawBody: outer({}),
      apiKey: API_KEY,
      mchid: '10000100',
      now: () => Date.UTC(2024, 0, 1, 4, 0, 6),
    });
    expect(n).toEqual({
      notificationId: `V2-${createHash('sha256').update(reqInfo).digest('hex').slice(0, 32)}`,
      apiVersion: 'v2',
      mchid: '10000100',
      subMchid: undefined,
      outTradeNo: 'T20240101000001',
      transactionId: '4200000001202401010000000001',
      outRefundNo: 'R20240101000001',
      refundId: '50000000382019052709732678859',
      status: 'SUCCESS',
      userReceivedAccount: '支付用户零钱',
      successTime: '2024-01-01T12:00:05+08:00',
      amounts: {
        totalFen: 300,
        refundFen: 100,
        payerRefundFen: undefined,
        settlementRefundFen: 100,
        settlementTotalFen: 300,
        currency: 'CNY',
      },
      receivedAt: '2024-01-01T12:00:06+08:00',
    });
  });

  it.each([
    ['CHANGE', 'ABNORMAL'],
    ['REFUNDCLOSE', 'CLOSED'],
  ])('maps refund_status %s to %s', (v2, internal) => {
    const xml = buildV2Xml(
      {
        transaction_id: '42',
        out_trade_no: 'T1',
        refund_id: '50',
        out_refund_no: 'R1',
        total_fee: 3,
        refund_fee: 1,
        refund_status: v2,
      },
      'root',
    );
    const body = outer({ req_info: encryptV2ReqInfo(xml, API_KEY), sub_mch_id: '1900000111' });
    expect(decodeV2Notification({ rawBody: body, apiKey: API_KEY })).toMatchObject({
      status: internal,
      subMchid: '1900000111',
    });
  });

  it.each([
    ['a wrong API key', { apiKey: 'x'.repeat(32) }, {}, 'BAD_CIPHERTEXT'],
    ['another merchant', { mchid: '99' }, {}, 'MERCHANT_MISMATCH'],
    ['return_code FAIL', {}, { return_code: 'FAIL', return_msg: 'x' }, 'MALFORMED'],
    ['no req_info', {}, { req_info: undefined }, 'MALFORMED'],
  ])('rejects %s', (_n, inputChange, fieldChange, reason) => {
    try {
      decodeV2Notification({ rawBody: outer(fieldChange), apiKey: API_KEY, ...inputChange });
      throw new Error('expected rejection');
    } catch (e) {
      expect(e).toBeInstanceOf(NotificationRejected);
      expect((e as NotificationRejected).reason).toBe(reason);
    }
  });

  it('reports a currency req_info names (refund_fee_type, else fee_type), CNY when it names none', () => {
    const info = (extra: Record<string, string>) =>
      outer({
        req_info: encryptV2ReqInfo(
          buildV2Xml(
            {
              transaction_id: '42',
              out_trade_no: 'T1',
              refund_id: '50',
              out_refund_no: 'R1',
              total_fee: 3,
              refund_fee: 1,
              refund_status: 'SUCCESS',
              ...extra,
            },
            'root',
          ),
          API_KEY,
        ),
      });
    const currency = (extra: Record<string, string>) =>
      decodeV2Notification({ rawBody: info(extra), apiKey: API_KEY }).amounts.currency;
    expect(currency({ refund_fee_type: 'USD', fee_type: 'HKD' })).toBe('USD');
    expect(currency({ fee_type: 'HKD' })).toBe('HKD');
    expect(currency({})).toBe('CNY');
  });

  it('rejects XML with a DOCTYPE and non-XML as MALFORMED', () => {
    for (const body of ['<!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>', '{"id":"EV-1"}']) {
      expect(() => decodeV2Notification({ rawBody: body, apiKey: API_KEY })).toThrow(
        expect.objectContaining({ reason: 'MALFORMED' }),
      );
    }
  });

  it('looksLikeXml tells v2 XML from v3 JSON (§4.9)', () => {
    expect(looksLikeXml(outer({}))).toBe(true);
    expect(looksLikeXml('  {"id":1}')).toBe(false);
    expect(looksLikeXml('{"id":1}', 'text/xml')).toBe(true);
  });
});
