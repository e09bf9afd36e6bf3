import {
  Final,
  NeedsOperator,
  RetrySame,
  Throttled,
  UnknownOutcome,
  WechatPayError,
} from '../../../src/wechatpay/errors';
import { mapV2ResultError, mapV2ReturnFail, V2_ERROR_CLASSES } from '../../../src/wechatpay/v2/error-map';
import { mapV3Error, V3_ERROR_CLASSES } from '../../../src/wechatpay/v3/error-map';
import { classifyTransportError } from '../../../src/wechatpay/transport';

const CLASS = { RetrySame, Throttled, Final, NeedsOperator };

// The spec's tables (§3.9 and §5.5/§5.6), written out independently of the implementation's table.
const V3_SPEC: Array<[number, string, keyof typeof CLASS]> = [
  [500, 'SYSTEM_ERROR', 'RetrySame'],
  [503, 'SERVICE_UNAVAILABLE', 'RetrySame'],
  [429, 'FREQUENCY_LIMITED', 'Throttled'],
  [429, 'RATELIMIT_EXCEEDED', 'Throttled'],
  [400, 'PARAM_ERROR', 'NeedsOperator'],
  [400, 'INVALID_REQUEST', 'Final'],
  [401, 'SIGN_ERROR', 'NeedsOperator'],
  [403, 'NOT_ENOUGH', 'NeedsOperator'],
  [403, 'USER_ACCOUNT_ABNORMAL', 'Final'],
  [403, 'NO_AUTH', 'NeedsOperator'],
  [404, 'RESOURCE_NOT_EXISTS', 'Final'],
  [404, 'MCH_NOT_EXISTS', 'NeedsOperator'],
  [404, 'ORDER_NOT_EXIST', 'Final'], // order query (§11.1); the gateway resolves 404 ORDER_NOT_EXIST as null first
  [403, 'TRADE_OVERDUE', 'Final'],
  [403, 'REFUND_FEE_MISMATCH', 'NeedsOperator'],
];

const V2_SPEC: Array<[string, keyof typeof CLASS]> = [
  ['SYSTEMERROR', 'RetrySame'],
  ['BIZERR_NEED_RETRY', 'RetrySame'],
  ['ORDER_NOT_READY', 'RetrySame'],
  ['FREQUENCY_LIMITED', 'Throttled'],
  ['INVALID_REQ_TOO_MUCH', 'Throttled'],
  ['NOTENOUGH', 'NeedsOperator'],
  ['TRADE_OVERDUE', 'Final'],
  ['ERROR', 'Final'],
  ['USER_ACCOUNT_ABNORMAL', 'Final'],
  ['ORDERNOTEXIST', 'Final'],
  ['TRADE_STATE_ERROR', 'Final'],
  ['INVALID_REQUEST', 'Final'],
  ['REFUNDNOTEXIST', 'Final'],
  ['REFUND_FEE_MISMATCH', 'NeedsOperator'],
  ['INVALID_TRANSACTIONID', 'NeedsOperator'],
  ['PARAM_ERROR', 'NeedsOperator'],
  ['APPID_NOT_EXIST', 'NeedsOperator'],
  ['MCHID_NOT_EXIST', 'NeedsOperator'],
  ['REQUIRE_POST_METHOD', 'NeedsOperator'],
  ['SIGNERROR', 'NeedsOperator'],
  ['XML_FORMAT_ERROR', 'NeedsOperator'],
  ['CERT_ERROR', 'NeedsOperator'],
  ['NOAUTH', 'NeedsOperator'],
];

describe('v3 error mapping (§3.9)', () => {
  it.each(V3_SPEC)('HTTP %i %s → %s, carrying code, message, status and request id', (status, code, cls) => {
    const e = mapV3Error({
      httpStatus: status,
      code,
      message: 'msg',
      requestId: 'req-1',
      detail: { field: '/amount' },
    });
    expect(e).toBeInstanceOf(CLASS[cls]);
    expect(e.errorClass).toBe(cls);
    expect(e).toMatchObject({ code, httpStatus: status, requestId: 'req-1', detail: { field: '/amount' } });
    expect(e.message).toBe(`${code}: msg`);
  });

  it('maps by code whatever the status (TRADE_OVERDUE may come as 400 or 403)', () => {
    expect(mapV3Error({ httpStatus: 400, code: 'TRADE_OVERDUE' })).toBeInstanceOf(Final);
    expect(mapV3Error({ httpStatus: 400, code: 'REFUND_FEE_MISMATCH' })).toBeInstanceOf(NeedsOperator);
  });

  it('covers every code of the table and nothing else', () => {
    expect(Object.keys(V3_ERROR_CLASSES).sort()).toEqual(V3_SPEC.map(([, c]) => c).sort());
  });

  it.each([
    [502, undefined, RetrySame, 'SERVICE_UNAVAILABLE'],
    [503, undefined, RetrySame, 'SERVICE_UNAVAILABLE'],
    [429, undefined, Throttled, 'FREQUENCY_LIMITED'],
    [404, undefined, NeedsOperator, 'HTTP_404'],
    [405, undefined, NeedsOperator, 'HTTP_405'],
    [500, 'SOMETHING_NEW', RetrySame, 'SOMETHING_NEW'],
    [400, 'SOMETHING_NEW', NeedsOperator, 'SOMETHING_NEW'],
  ])('HTTP %i with code %s → %p', (status, code, cls, expectedCode) => {
    const e = mapV3Error({ httpStatus: status, code });
    expect(e).toBeInstanceOf(cls);
    expect(e.code).toBe(expectedCode);
  });
});

describe('v2 error mapping (§5.5, §5.6)', () => {
  it.each(V2_SPEC)('err_code %s → %s', (code, cls) => {
    const e = mapV2ResultError(code, '描述');
    expect(e).toBeInstanceOf(CLASS[cls]);
    expect(e).toMatchObject({ code, httpStatus: 200 });
    expect(e.message).toContain('描述');
  });

  it('covers every err_code of the tables and nothing else', () => {
    expect(Object.keys(V2_ERROR_CLASSES).sort()).toEqual(V2_SPEC.map(([c]) => c).sort());
  });

  it('return_code = FAIL is always NeedsOperator; an unknown err_code goes to a human', () => {
    expect(mapV2ReturnFail('签名错误')).toBeInstanceOf(NeedsOperator);
    expect(mapV2ReturnFail('invalid refund_fee').message).toContain('invalid refund_fee');
    expect(mapV2ResultError('BRAND_NEW', '')).toBeInstanceOf(NeedsOperator);
    expect(mapV2ResultError(undefined, '')).toBeInstanceOf(NeedsOperator);
  });
});

describe('transport failures', () => {
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });

  it.each([
    ['connect timeout', err('UND_ERR_CONNECT_TIMEOUT'), UnknownOutcome, 'TIMEOUT'],
    ['headers timeout', err('UND_ERR_HEADERS_TIMEOUT'), UnknownOutcome, 'TIMEOUT'],
    ['body timeout', err('UND_ERR_BODY_TIMEOUT'), UnknownOutcome, 'TIMEOUT'],
    ['reset', err('ECONNRESET'), UnknownOutcome, 'NETWORK_ERROR'],
    ['socket closed', err('UND_ERR_SOCKET', 'other side closed'), UnknownOutcome, 'NETWORK_ERROR'],
    ['refused', err('ECONNREFUSED'), UnknownOutcome, 'NETWORK_ERROR'],
    ['client certificate rejected', err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), NeedsOperator, 'CERT_ERROR'],
    [
      'bad client certificate',
      err('EPROTO', 'SSL alert number 42: sslv3 alert bad certificate'),
      NeedsOperator,
      'CERT_ERROR',
    ],
    ['untrusted server', err('DEPTH_ZERO_SELF_SIGNED_CERT'), NeedsOperator, 'TLS_SERVER_CERTIFICATE'],
  ])('%s → %p', (_n, e, cls, code) => {
    const mapped: WechatPayError = classifyTransportError(e);
    expect(mapped).toBeInstanceOf(cls);
    expect(mapped.code).toBe(code);
  });

  it('looks through wrapped causes', () => {
    const wrapped = Object.assign(new Error('fetch failed'), { cause: err('UND_ERR_HEADERS_TIMEOUT') });
    expect(classifyTransportError(wrapped).code).toBe('TIMEOUT');
  });
});
