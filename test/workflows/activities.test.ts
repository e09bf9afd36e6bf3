/**
 * Activities over the fake gateway, run in Temporal's MockActivityEnvironment (a real activity context, no server).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../src/activities';
import type { CreateRefundInput } from '../../src/wechatpay/gateway';
import { Final, InvalidRequest, NeedsOperator, RetrySame, Throttled, UnknownOutcome } from '../../src/wechatpay/errors';
import { FakeGateway } from '../support/fake-gateway';

const request: CreateRefundInput = {
  outRefundNo: 'R-act-1',
  outTradeNo: 'T20240501001',
  refundFen: 100,
  totalFen: 1_000,
};
const run = <T>(fn: () => Promise<T>) => new MockActivityEnvironment().run(fn) as Promise<T>;

describe('submitRefund', () => {
  test('sends the create and returns WeChat’s record', async () => {
    const gateway = new FakeGateway();
    const { submitRefund } = createActivities({ gateway });
    const result = await run(() => submitRefund({ request, queryFirst: false }));
    expect(result).toMatchObject({ adopted: false, record: { outRefundNo: 'R-act-1', status: 'PROCESSING' } });
    expect(gateway.calls.map((c) => c.method)).toEqual(['createRefund']);
  });

  test('after an unknown outcome: queries first and adopts the refund WeChat already has (RETRY_SAME advice)', async () => {
    const gateway = new FakeGateway();
    gateway.failNext('createRefund', { acceptedButThrow: new RetrySame({ code: 'SYSTEM_ERROR', message: 'timeout' }) });
    const { submitRefund } = createActivities({ gateway });
    await expect(run(() => submitRefund({ request, queryFirst: false }))).rejects.toMatchObject({ type: 'RetrySame' });
    const result = await run(() => submitRefund({ request, queryFirst: true }));
    expect(result.adopted).toBe(true);
    expect(gateway.calls.map((c) => c.method)).toEqual(['createRefund', 'queryRefund']);
  });

  test('after an unknown outcome: resends the identical create when WeChat has nothing (404)', async () => {
    const gateway = new FakeGateway();
    const { submitRefund } = createActivities({ gateway });
    const result = await run(() => submitRefund({ request, queryFirst: true }));
    expect(result.adopted).toBe(false);
    expect(gateway.calls.map((c) => c.method)).toEqual(['queryRefund', 'createRefund']);
    expect(gateway.calls[1].input).toEqual(request);
  });
});

describe('errors become ApplicationFailures typed by class', () => {
  test.each([
    [
      'RetrySame',
      new RetrySame({ code: 'SYSTEM_ERROR', message: 'system timeout', httpStatus: 500, requestId: 'r1' }),
      false,
    ],
    ['UnknownOutcome', new UnknownOutcome({ code: 'NETWORK_ERROR', message: 'socket hang up' }), false],
    ['Throttled', new Throttled({ code: 'FREQUENCY_LIMITED', message: 'slow down', httpStatus: 429 }), false],
    ['Final', new Final({ code: 'USER_ACCOUNT_ABNORMAL', message: 'closed account', httpStatus: 403 }), true],
    [
      'NeedsOperator',
      new NeedsOperator({ code: 'NOT_ENOUGH', message: 'balance short', httpStatus: 403, requestId: 'r2' }),
      true,
    ],
  ])('%s', async (_name, error, nonRetryable) => {
    const gateway = new FakeGateway().failNext('createRefund', error);
    const { submitRefund } = createActivities({ gateway });
    const failure = await run(() => submitRefund({ request, queryFirst: false })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: error.errorClass,
      nonRetryable,
      details: [
        {
          code: error.code,
          message: error.message.replace(`${error.code}: `, ''),
          httpStatus: error.httpStatus,
          requestId: error.requestId,
        },
      ],
    });
  });

  test('InvalidRequest (nothing was sent) is not retryable', async () => {
    const gateway = new FakeGateway().failNext(
      'createRefund',
      new InvalidRequest('reason too long', [{ path: 'reason', message: 'max 80' }]),
    );
    const { submitRefund } = createActivities({ gateway });
    await expect(run(() => submitRefund({ request, queryFirst: false }))).rejects.toMatchObject({
      type: 'InvalidRequest',
      nonRetryable: true,
    });
  });

  test('an unexpected exception is an unknown outcome, retried with the same number', async () => {
    const gateway = new FakeGateway();
    gateway.createRefund = async () => {
      throw new TypeError('cannot read properties of undefined');
    };
    const { submitRefund } = createActivities({ gateway });
    await expect(run(() => submitRefund({ request, queryFirst: false }))).rejects.toMatchObject({
      type: 'UnknownOutcome',
      nonRetryable: false,
      details: [{ code: 'UNEXPECTED_ERROR' }],
    });
  });

  test('a throttled query asks Temporal to wait a minute before retrying (§3.7)', async () => {
    const gateway = new FakeGateway().failNext(
      'queryRefund',
      new Throttled({ code: 'FREQUENCY_LIMITED', message: 'slow', httpStatus: 429 }),
    );
    const { queryRefund } = createActivities({ gateway });
    await expect(run(() => queryRefund({ outRefundNo: 'R1' }))).rejects.toMatchObject({
      type: 'Throttled',
      nextRetryDelay: 60_000,
    });
  });
});

test('applyAbnormalRefund passes the bank details to the gateway and returns the new record', async () => {
  const gateway = new FakeGateway();
  const { submitRefund, applyAbnormalRefund } = createActivities({ gateway });
  gateway.progress(request.outRefundNo, [{ afterMs: 0, status: 'ABNORMAL' }]);
  const { record } = await run(() => submitRefund({ request, queryFirst: false }));
  const after = await run(() =>
    applyAbnormalRefund({
      refundId: record.refundId!,
      outRefundNo: request.outRefundNo,
      type: 'USER_BANK_CARD',
      bankType: 'ICBC_DEBIT',
      bankAccount: '6222020202020202021',
      realName: '张三',
    }),
  );
  expect(after).toMatchObject({ status: 'PROCESSING', channel: 'OTHER_BANKCARD' });
});
