import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  Final,
  InvalidRequest,
  NeedsOperator,
  RetrySame,
  Throttled,
  UnknownOutcome,
} from '../../../src/wechatpay/errors';
import { createV3Gateway, V3Gateway, V3GatewayConfigInput } from '../../../src/wechatpay/v3/gateway';
import { decryptSensitiveField } from '../../../src/wechatpay/v3/rsa-oaep';
import { certificatesReply, FakeV3, refundObject, Reply, RecordedRequest, startFakeV3 } from './helpers/fake-v3-server';
import { refundToCreate, thrown } from './helpers/gateway-calls';
import { API_V3_KEY, MCHID, SP_MCHID, SUB_MCHID, testKeys } from './helpers/wechat-keys';

const k = testKeys();
let server: FakeV3;
let gateways: V3Gateway[] = [];
let respond: (req: RecordedRequest) => Reply | Promise<Reply>;

beforeAll(async () => {
  server = await startFakeV3((req) => respond(req));
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
  respond = () => ({ status: 200, body: refundObject() });
});
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

function gateway(overrides: Partial<V3GatewayConfigInput> = {}): V3Gateway {
  const g = createV3Gateway({
    baseUrl: server.url,
    mchid: MCHID,
    merchantSerialNo: k.merchant.serial,
    merchantPrivateKey: k.merchant.privateKeyPem,
    apiV3Key: API_V3_KEY,
    platformCertificates: [k.platform.certPem],
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    ...overrides,
  });
  gateways.push(g);
  return g;
}

const createInput = refundToCreate('https://merchant.example/wechat/refund');

describe('v3 create refund (direct mode)', () => {
  it('signs the request, sends the exact body, verifies the reply and maps the Refund object', async () => {
    const record = await gateway().createRefund(createInput);
    const [req] = server.requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v3/refund/domestic/refunds');
    expect(req.authValid).toBe(true);
    expect(req.auth?.mchid).toBe(MCHID);
    expect(req.headers['user-agent']).toBeTruthy();
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.json).toEqual({
      out_trade_no: 'T20240101000001',
      out_refund_no: 'R20240101000001',
      reason: '退货',
      notify_url: 'https://merchant.example/wechat/refund',
      amount: { refund: 100, total: 300, currency: 'CNY' },
    });
    expect(record).toEqual({
      outRefundNo: 'R20240101000001',
      outTradeNo: 'T20240101000001',
      transactionId: '4200000001202401010000000001',
      refundId: '50000000382019052709732678859',
      status: 'PROCESSING',
      channel: 'ORIGINAL',
      userReceivedAccount: '支付用户零钱',
      amounts: {
        totalFen: 300,
        refundFen: 100,
        payerRefundFen: 100,
        payerTotalFen: 300,
        settlementRefundFen: 100,
        settlementTotalFen: 300,
        discountRefundFen: 0,
        currency: 'CNY',
      },
      createTime: '2024-01-01T12:00:00+08:00',
      successTime: undefined,
      apiVersion: 'v3',
    });
  });

  it('sends only transaction_id when both order ids are given (preferred id)', async () => {
    await gateway().createRefund({ ...createInput, transactionId: '4200000001202401010000000001' });
    expect(server.requests[0].json).toMatchObject({ transaction_id: '4200000001202401010000000001' });
    expect(server.requests[0].json).not.toHaveProperty('out_trade_no');
  });

  it('keeps connections alive: many sequential calls use at most two sockets', async () => {
    const before = server.connections;
    const g = gateway();
    for (let i = 0; i < 6; i++) await g.createRefund(createInput);
    await g.queryRefund({ outRefundNo: 'R20240101000001' });
    // undici may open a second socket while the first is finishing its reply; it never opens one per call.
    expect(server.connections - before).toBeLessThanOrEqual(2);
  });

  it('accepts a reply signed with the WeChat Pay public key when it is configured', async () => {
    respond = () => ({ status: 200, body: refundObject(), sign: 'publicKey' });
    const g = gateway({ wechatpayPublicKeys: [{ id: k.publicKey.id, publicKey: k.publicKey.publicKeyPem }] });
    await expect(g.createRefund(createInput)).resolves.toMatchObject({ status: 'PROCESSING' });
  });
});

describe('v3 partner mode', () => {
  it('signs as the service provider and puts sub_mchid in the body', async () => {
    await gateway({ mode: 'partner', mchid: SP_MCHID }).createRefund({ ...createInput, subMchid: SUB_MCHID });
    const [req] = server.requests;
    expect(req.auth?.mchid).toBe(SP_MCHID);
    expect(req.authValid).toBe(true);
    expect(req.json).toMatchObject({ sub_mchid: SUB_MCHID });
  });

  it('queries with ?sub_mchid= inside the signed URL, using the default sub-merchant', async () => {
    await gateway({ mode: 'partner', mchid: SP_MCHID, defaultSubMchid: SUB_MCHID }).queryRefund({
      outRefundNo: 'R20240101000001',
    });
    expect(server.requests[0].url).toBe(`/v3/refund/domestic/refunds/R20240101000001?sub_mchid=${SUB_MCHID}`);
    expect(server.requests[0].authValid).toBe(true);
  });

  it('refuses a call without sub_mchid before any network call', async () => {
    const e = await thrown(gateway({ mode: 'partner', mchid: SP_MCHID }).createRefund(createInput));
    expect(e).toBeInstanceOf(InvalidRequest);
    expect(e.message).toContain('sub_mchid: is required in partner mode');
    expect(server.requests).toHaveLength(0);
  });
});

describe('v3 query refund', () => {
  it('returns the record on 200 and null on 404 RESOURCE_NOT_EXISTS', async () => {
    respond = () => ({
      status: 200,
      body: refundObject({ status: 'SUCCESS', success_time: '2024-01-01T12:00:30+08:00' }),
    });
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toMatchObject({
      status: 'SUCCESS',
      successTime: '2024-01-01T12:00:30+08:00',
    });
    respond = () => ({ status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '退款单不存在' } });
    await expect(gateway().queryRefund({ outRefundNo: 'R20240101000001' })).resolves.toBeNull();
    expect(server.requests.every((r) => r.method === 'GET' && r.body.length === 0 && r.authValid)).toBe(true);
  });

  it('percent-encodes "|" in the path and signs exactly what is sent', async () => {
    respond = () => ({ status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '' } });
    await gateway().queryRefund({ outRefundNo: 'R1|a*b@c' });
    expect(server.requests[0].url).toBe('/v3/refund/domestic/refunds/R1%7Ca*b@c');
    expect(server.requests[0].authValid).toBe(true);
  });

  it('a 404 with an empty body (wrong path) is NeedsOperator, not "no refund"', async () => {
    respond = () => ({ status: 404 });
    expect(await thrown(gateway().queryRefund({ outRefundNo: 'R1' }))).toBeInstanceOf(NeedsOperator);
  });
});

describe('v3 apply abnormal refund', () => {
  const input = {
    refundId: '50000000382019052709732678859',
    outRefundNo: 'R20240101000001',
    type: 'USER_BANK_CARD' as const,
    bankType: 'ICBC_DEBIT',
    bankAccount: '6222021234567890123',
    realName: '张三',
  };

  it('encrypts bank_account and real_name with the WeChat Pay public key and names it in Wechatpay-Serial', async () => {
    respond = () => ({ status: 200, body: refundObject({ status: 'PROCESSING' }) });
    const g = gateway({ wechatpayPublicKeys: [{ id: k.publicKey.id, publicKey: k.publicKey.publicKeyPem }] });
    await g.applyAbnormalRefund(input);
    const [req] = server.requests;
    expect(req.url).toBe('/v3/refund/domestic/refunds/50000000382019052709732678859/apply-abnormal-refund');
    expect(req.headers['wechatpay-serial']).toBe(k.publicKey.id);
    const body = req.json as Record<string, string>;
    expect(body).toMatchObject({ out_refund_no: 'R20240101000001', type: 'USER_BANK_CARD', bank_type: 'ICBC_DEBIT' });
    expect(body.bank_account).not.toContain('6222');
    expect(decryptSensitiveField(body.bank_account, k.publicKey.privateKeyPem)).toBe('6222021234567890123');
    expect(decryptSensitiveField(body.real_name, k.publicKey.privateKeyPem)).toBe('张三');
  });

  it('falls back to the platform certificate when no public key is configured', async () => {
    await gateway().applyAbnormalRefund(input);
    const req = server.requests[0];
    expect(req.headers['wechatpay-serial']).toBe(k.platform.serial);
    expect(decryptSensitiveField((req.json as Record<string, string>).real_name, k.platform.privateKeyPem)).toBe(
      '张三',
    );
  });

  it('sends MERCHANT_BANK_CARD without bank fields', async () => {
    await gateway().applyAbnormalRefund({
      refundId: input.refundId,
      outRefundNo: input.outRefundNo,
      type: 'MERCHANT_BANK_CARD',
    });
    expect(server.requests[0].json).toEqual({ out_refund_no: 'R20240101000001', type: 'MERCHANT_BANK_CARD' });
  });

  it('rejects a missing bank type before any network call', async () => {
    const e = await thrown(gateway().applyAbnormalRefund({ ...input, bankType: 'VISA_CREDIT' }));
    expect(e).toBeInstanceOf(InvalidRequest);
    expect(e.message).toContain('bank_type');
    expect(server.requests).toHaveLength(0);
  });
});

describe('v3 reply verification: unverifiable 2xx is UnknownOutcome, never success', () => {
  it.each([
    ['unsigned', 'none', 'UNVERIFIABLE_RESPONSE_MISSING_HEADERS'],
    ['SIGNTEST probe', 'signtest', 'UNVERIFIABLE_RESPONSE_SIGNTEST_PROBE'],
    ['stale timestamp (10 min)', 'stale', 'UNVERIFIABLE_RESPONSE_STALE_TIMESTAMP'],
    ['wrong key for the serial', 'wrongKey', 'UNVERIFIABLE_RESPONSE_BAD_SIGNATURE'],
  ] as const)('%s', async (_n, sign, code) => {
    respond = () => ({ status: 200, body: refundObject(), sign });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe(code);
    expect((e as UnknownOutcome).requestId).toBe('req-1');
  });

  it('uses the injected clock for the timestamp window', async () => {
    // The fake server signs with the real time; a client whose clock is 301 s ahead must refuse the reply.
    await expect(gatewayAt(Date.now() + 299_000).createRefund(createInput)).resolves.toBeDefined();
    const e = await thrown(gatewayAt(Date.now() + 301_000).createRefund(createInput));
    expect((e as UnknownOutcome).code).toBe('UNVERIFIABLE_RESPONSE_STALE_TIMESTAMP');
  });

  it('unknown serial: downloads platform certificates once, then accepts the rotated certificate', async () => {
    respond = (req) =>
      req.url === '/v3/certificates'
        ? { status: 200, body: certificatesReply([k.platform, k.rotatedPlatform]), sign: 'platform' }
        : { status: 200, body: refundObject(), sign: 'rotated' };
    const g = gateway();
    await expect(g.createRefund(createInput)).resolves.toMatchObject({ status: 'PROCESSING' });
    await expect(g.createRefund(createInput)).resolves.toMatchObject({ status: 'PROCESSING' });
    const downloads = server.requests.filter((r) => r.url === '/v3/certificates');
    expect(downloads).toHaveLength(1);
    expect(downloads[0].authValid).toBe(true);
    expect(g.keyring.has(k.rotatedPlatform.serial)).toBe(true);
  });

  it('unknown serial still unknown after the refresh: UnknownOutcome, one download only', async () => {
    respond = (req) =>
      req.url === '/v3/certificates'
        ? { status: 200, body: certificatesReply([k.platform]), sign: 'platform' }
        : { status: 200, body: refundObject(), sign: 'rotated' };
    const e = await thrown(gateway().createRefund(createInput));
    expect((e as UnknownOutcome).code).toBe('UNVERIFIABLE_RESPONSE_UNKNOWN_SERIAL');
    expect(server.requests.filter((r) => r.url === '/v3/certificates')).toHaveLength(1);
  });

  it('bootstraps from an empty keyring: the certificate list verifies with a certificate it carries', async () => {
    respond = (req) =>
      req.url === '/v3/certificates'
        ? { status: 200, body: certificatesReply([k.rotatedPlatform]), sign: 'rotated' }
        : { status: 200, body: refundObject(), sign: 'rotated' };
    await expect(gateway({ platformCertificates: [] }).createRefund(createInput)).resolves.toBeDefined();
  });

  it('refuses a certificate list whose ciphertext was not made with our APIv3 key', async () => {
    respond = (req) =>
      req.url === '/v3/certificates'
        ? { status: 200, body: certificatesReply([k.rotatedPlatform]), sign: 'rotated' }
        : { status: 200, body: refundObject(), sign: 'rotated' };
    const g = gateway({ platformCertificates: [], apiV3Key: 'Z'.repeat(32) });
    expect(await thrown(g.createRefund(createInput))).toBeInstanceOf(UnknownOutcome);
    expect(g.keyring.has(k.rotatedPlatform.serial)).toBe(false);
  });

  it('a verified reply with an unknown status goes to a human', async () => {
    respond = () => ({ status: 200, body: refundObject({ status: 'REVERSED' }) });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect((e as NeedsOperator).code).toBe('UNRECOGNISED_STATUS');
  });

  it('a verified 2xx body that is not JSON is UnknownOutcome', async () => {
    respond = () => ({ status: 200, body: '<html>oops</html>' });
    expect(await thrown(gateway().createRefund(createInput))).toBeInstanceOf(UnknownOutcome);
  });
});

describe('v3 error replies map to classes with code, status and request id', () => {
  it.each([
    [
      400,
      {
        code: 'PARAM_ERROR',
        message: '参数错误',
        detail: { field: '/amount/currency', value: 'USD', issue: 'x', location: 'body' },
      },
      NeedsOperator,
    ],
    [400, { code: 'INVALID_REQUEST', message: '退款金额超过可退金额' }, Final],
    [401, { code: 'SIGN_ERROR', message: '签名错误' }, NeedsOperator],
    [403, { code: 'NOT_ENOUGH', message: '余额不足' }, NeedsOperator],
    [403, { code: 'USER_ACCOUNT_ABNORMAL', message: '用户账户异常' }, Final],
    [404, { code: 'RESOURCE_NOT_EXISTS', message: '订单不存在' }, Final],
    [429, { code: 'FREQUENCY_LIMITED', message: '频率限制' }, Throttled],
    [500, { code: 'SYSTEM_ERROR', message: '系统错误' }, RetrySame],
  ])('HTTP %i %j', async (status, body, cls) => {
    respond = () => ({ status, body });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(cls);
    expect(e).toMatchObject({ code: body.code, httpStatus: status, requestId: 'req-1' });
    if ('detail' in body) expect((e as NeedsOperator).detail).toEqual(body.detail);
  });

  it('502 with an HTML body is RetrySame (gateway failure)', async () => {
    respond = () => ({ status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } });
    expect(await thrown(gateway().createRefund(createInput))).toBeInstanceOf(RetrySame);
  });

  it('202 means "repeat the same request later": RetrySame', async () => {
    respond = () => ({ status: 202 });
    expect(await thrown(gateway().createRefund(createInput))).toBeInstanceOf(RetrySame);
  });

  it('a signed error reply that fails verification is not trusted', async () => {
    respond = () => ({ status: 400, body: { code: 'INVALID_REQUEST', message: 'x' }, sign: 'wrongKey' });
    expect(await thrown(gateway().createRefund(createInput))).toBeInstanceOf(UnknownOutcome);
  });
});

describe('v3 network failures are UnknownOutcome', () => {
  it('connection reset after the request was sent', async () => {
    respond = () => ({ status: 200, destroy: true });
    const e = await thrown(gateway().createRefund(createInput));
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe('NETWORK_ERROR');
  });

  it('headers timeout', async () => {
    // undici's timers tick about once a second, so the reply is held well past the 200 ms budget.
    respond = () => ({ status: 200, body: refundObject(), delayMs: 2000 });
    const e = await thrown(
      gateway({ timeouts: { connectMs: 1000, headersMs: 200, bodyMs: 1000 } }).createRefund(createInput),
    );
    expect(e).toBeInstanceOf(UnknownOutcome);
    expect((e as UnknownOutcome).code).toBe('TIMEOUT');
  });

  it('connection refused', async () => {
    const e = await thrown(gateway({ baseUrl: 'http://127.0.0.1:1' }).createRefund(createInput));
    expect(e).toBeInstanceOf(UnknownOutcome);
  });
});

describe('v3 input validation happens before any network call', () => {
  it.each([
    [{ refundFen: 1.5 }, 'amount.refund: must be a positive integer number of fen'],
    [{ refundFen: 0 }, 'amount.refund: must be a positive integer number of fen'],
    [{ totalFen: Number.MAX_SAFE_INTEGER + 1 }, 'amount.total: must be a positive integer number of fen'],
    [{ refundFen: 301 }, 'amount.refund: must not exceed amount.total'],
    [{ reason: 'x'.repeat(81) }, 'reason: must be at most 80 characters'],
    [{ outRefundNo: 'has space' }, 'out_refund_no: must be 1-64 characters'],
    [{ outTradeNo: undefined }, 'one of transaction_id or out_trade_no is required'],
    [{ subMchid: SUB_MCHID }, 'sub_mchid: only allowed in partner mode'],
    [{ notifyUrl: 'https://x.example/cb?a=1' }, 'notify_url: must be an http(s) URL'],
  ])('%j', async (change, message) => {
    const e = await thrown(gateway().createRefund({ ...createInput, ...change }));
    expect(e).toBeInstanceOf(InvalidRequest);
    expect(e.message).toContain(message);
    expect(server.requests).toHaveLength(0);
  });
});

describe('v3 gateway configuration', () => {
  it('reads keys from PEM file paths', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wxkeys-'));
    writeFileSync(path.join(dir, 'apiclient_key.pem'), k.merchant.privateKeyPem);
    writeFileSync(path.join(dir, 'platform.pem'), k.platform.certPem);
    const g = gateway({
      merchantPrivateKey: path.join(dir, 'apiclient_key.pem'),
      platformCertificates: [path.join(dir, 'platform.pem')],
    });
    await expect(g.createRefund(createInput)).resolves.toBeDefined();
    expect(server.requests[0].authValid).toBe(true);
  });

  it.each([
    [{ apiV3Key: 'short' }, 'apiV3Key: must be exactly 32 bytes'],
    [{ merchantPrivateKey: '/nonexistent/key.pem' }, 'merchantPrivateKey: cannot read PEM file'],
    [{ merchantPrivateKey: k.merchant.certPem }, 'merchantPrivateKey: must contain a PEM PRIVATE KEY block'],
    [{ baseUrl: 'ftp://x' }, 'baseUrl: must be an http(s) URL'],
    [
      { wechatpayPublicKeys: [{ id: 'KEY1', publicKey: k.publicKey.publicKeyPem }] },
      'wechatpayPublicKeys.0.id: must start with PUB_KEY_ID_',
    ],
  ])('rejects %j', (change, message) => {
    expect(() =>
      createV3Gateway({
        baseUrl: server.url,
        mchid: MCHID,
        merchantSerialNo: k.merchant.serial,
        merchantPrivateKey: k.merchant.privateKeyPem,
        apiV3Key: API_V3_KEY,
        ...change,
      } as V3GatewayConfigInput),
    ).toThrow(message);
  });
});

function gatewayAt(nowMs: number): V3Gateway {
  const g = createV3Gateway(
    {
      baseUrl: server.url,
      mchid: MCHID,
      merchantSerialNo: k.merchant.serial,
      merchantPrivateKey: k.merchant.privateKeyPem,
      apiV3Key: API_V3_KEY,
      platformCertificates: [k.platform.certPem],
    },
    { now: () => nowMs },
  );
  gateways.push(g);
  return g;
}

describe('v3 abnormal refund without any WeChat key', () => {
  it('tries one certificate download, then asks a human (the refund itself is not judged)', async () => {
    respond = (req) =>
      req.url === '/v3/certificates'
        ? { status: 404, body: { code: 'RESOURCE_NOT_EXISTS', message: '无可用的平台证书' } }
        : { status: 200, body: refundObject() };
    const e = await thrown(
      gateway({ platformCertificates: [] }).applyAbnormalRefund({
        refundId: '50000000382019052709732678859',
        outRefundNo: 'R20240101000001',
        type: 'USER_BANK_CARD',
        bankType: 'ICBC_DEBIT',
        bankAccount: '6222021234567890123',
        realName: '张三',
      }),
    );
    expect(e).toBeInstanceOf(NeedsOperator);
    expect((e as NeedsOperator).code).toBe('NO_WECHATPAY_KEY');
    expect(server.requests.map((r) => r.url)).toEqual(['/v3/certificates']);
  });
});
