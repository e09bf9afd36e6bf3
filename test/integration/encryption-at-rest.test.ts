/**
 * Payload encryption at rest (issue 20, docs/encryption.md) on the real stack: the shared Temporal dev server, workers
 * of the project's workflows with the real activities, the simulated WeChat Pay (clock frozen: a refund stays
 * PROCESSING until the test forces its outcome and asks for a query with the operator's retryNow).
 *
 * What is checked is what the server STORES: `fetchHistory()` returns the history as the server keeps it in its
 * database, so every payload there (inputs, results, signals, updates, markers, failures, memo, user metadata) must be
 * `binary/encrypted` and no order number, amount, reason, receiving account or bank detail may appear in clear, while
 * clients with the key ring read everything decoded. Search attributes stay clear by design and are not checked here.
 */
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import { createActivities } from '../../src/activities';
import { EncryptionCodec, PayloadDecryptionError } from '../../src/codec/encryption-codec';
import { loadPayloadKeys, PAYLOAD_KEYS_ENV } from '../../src/codec/payload-keys';
import { orderWorkflowId } from '../../src/domain/ids';
import { resolveAbnormal, retryNow } from '../../src/ops/refund-ops';
import type { SimulatorHandle } from '../../src/simulator/server';
import type { RefundGateway } from '../../src/wechatpay/gateway';
import { awaitRefundOutcome, refundHandle, requestRefund, type OrderParams } from '../../src/starter';
import { statusQuery } from '../../src/workflows/definitions';
import { TEST_PAYLOAD_KEY_ID } from '../harness/paths';
import { createDevServerEnv, startBundledWorker, testDataConverter, uniqueTaskQueue } from '../harness/temporal';
import { recordHistory } from '../replay/record';
import { closeGateways, DIRECT, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { keyIdOf, storedHistory, storedText, unencryptedPayloads, type StoredHistory } from '../support/raw-history';
import { newRefundNo } from '../workflows/helpers';

jest.setTimeout(90_000);

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
const taskQueue = uniqueTaskQueue('encryption');

// Amounts and texts no ciphertext would spell by chance, so "not in the stored history" means something.
const TOTAL_FEN = 98_761;
const AMOUNT_FEN = 43_217;
const REASON = '商品质量问题-加密核对';

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  worker = await startBundledWorker(env, taskQueue, createActivities({ gateway: v3Gateway(sim) }));
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await closeGateways();
  await sim?.close();
  await env?.teardown();
});

/** A paid order, paid with a China Merchants Bank credit card: WeChat then names the card in user_received_account. */
async function cardOrder(): Promise<OrderParams> {
  const o = await paidOrder(sim, { mchid: DIRECT, totalFen: TOTAL_FEN, payer: { bankType: 'CMB_CREDIT' } });
  return { outTradeNo: o.outTradeNo, paidTotalFen: TOTAL_FEN, payerBankType: 'CMB_CREDIT' };
}

async function eventually<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** WeChat settles the refund; the worker learns it from the query an operator asks for (no webhook runs here). */
async function settleAtWechat(client: Client, outRefundNo: string): Promise<void> {
  await eventually('the refund at WeChat', () => sim.admin.refund(outRefundNo));
  await sim.admin.forceOutcome(outRefundNo, { status: 'SUCCESS', channel: 'ORIGINAL' });
  await retryNow(client, outRefundNo, { operator: 'test' });
}

function expectNothingInClear(stored: StoredHistory, secrets: string[]): void {
  expect(stored.payloads.length).toBeGreaterThan(0);
  expect(unencryptedPayloads(stored)).toEqual([]);
  const text = storedText(stored);
  for (const secret of secrets) expect({ secret, inClear: text.includes(secret) }).toEqual({ secret, inClear: false });
}

const ring = (...ids: string[]): Record<string, string> =>
  Object.fromEntries(ids.map((id) => [id, `${id}:${randomBytes(32).toString('base64')}`]));

function clientWith(keys: string): Client {
  return new Client({
    connection: env.connection,
    namespace: env.namespace ?? 'default',
    dataConverter: testDataConverter({ [PAYLOAD_KEYS_ENV]: keys }),
  });
}

describe('payloads at rest', () => {
  test('a refund to SUCCESS: the stored histories of the refund and its ledger hold only ciphertext; the client reads it all', async () => {
    const order = await cardOrder();
    const outRefundNo = newRefundNo('ENC');
    const receipt = await requestRefund(
      { client: env.client, taskQueue, decisionTimeoutMs: 20_000 },
      { order, refund: { outRefundNo, amountFen: AMOUNT_FEN, reason: REASON, requestedBy: 'order-service' } },
    );
    await settleAtWechat(env.client, outRefundNo);
    const outcome = await awaitRefundOutcome(env.client, receipt, { pollMs: 100 });

    // The client with the ring reads everything decoded.
    expect(outcome).toMatchObject({ state: 'SUCCESS', outRefundNo, outTradeNo: order.outTradeNo });
    const account = (await sim.admin.refund(outRefundNo)).userReceivedAccount;
    expect(account).toMatch(/招商银行信用卡\d{4}/);
    const view = await refundHandle(env.client, receipt).query(statusQuery);
    expect(JSON.stringify(view)).toContain(account);

    const secrets = [order.outTradeNo, outRefundNo, String(AMOUNT_FEN), String(TOTAL_FEN), REASON, account];
    const refund = await storedHistory(refundHandle(env.client, receipt));
    expectNothingInClear(refund, secrets);
    // The walk saw every kind of payload a refund stores: its input, its summary, an update, activity inputs and
    // results, local activity results and its own result. (It reports its end as its result: no signal here.)
    const kinds = refund.payloads.map((p) => p.path.split('.')[2]);
    for (const kind of [
      'workflowExecutionStartedEventAttributes',
      'workflowExecutionUpdateAcceptedEventAttributes',
      'activityTaskScheduledEventAttributes',
      'activityTaskCompletedEventAttributes',
      'markerRecordedEventAttributes',
      'workflowExecutionCompletedEventAttributes',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(refund.payloads.some((p) => p.path.includes('userMetadata'))).toBe(true);
    // Every payload under the run's key, named in its metadata.
    expect(new Set(refund.payloads.map((p) => keyIdOf(p.payload)))).toEqual(new Set([TEST_PAYLOAD_KEY_ID]));
    // Search attributes are the one thing left in clear, by design (README lists them).
    expect(refund.searchAttributes.length).toBeGreaterThan(0);

    const ledger = await storedHistory(env.client.workflow.getHandle(orderWorkflowId(order.outTradeNo)));
    expectNothingInClear(ledger, secrets);
    // The ledger's: the request (an update), the order read by a local activity, the refund's input and its result.
    const ledgerKinds = ledger.payloads.map((p) => p.path.split('.')[2]);
    for (const kind of [
      'workflowExecutionUpdateAcceptedEventAttributes',
      'markerRecordedEventAttributes',
      'startChildWorkflowExecutionInitiatedEventAttributes',
      'childWorkflowExecutionCompletedEventAttributes',
    ]) {
      expect(ledgerKinds).toContain(kind);
    }

    await recordHistory('refund-encrypted-success', refundHandle(env.client, receipt));
  });

  test('a failure stored in the history (an activity attempt that failed) keeps its message and stack trace encrypted', async () => {
    const failingQueue = uniqueTaskQueue('encryption-failure');
    const gateway = v3Gateway(sim);
    const failed = new Set<string>();
    // WeChat's connection drops on the first create of each refund; the activity's retry then goes through.
    const flaky: RefundGateway = {
      ...gateway,
      queryRefund: (input) => gateway.queryRefund(input),
      queryOrder: (input) => gateway.queryOrder(input),
      applyAbnormalRefund: (input) => gateway.applyAbnormalRefund(input),
      async createRefund(input) {
        if (!failed.has(input.outRefundNo)) {
          failed.add(input.outRefundNo);
          throw new Error(
            `socket hang up creating ${input.outRefundNo} (${input.refundFen} fen) for ${input.outTradeNo}`,
          );
        }
        return gateway.createRefund(input);
      },
    };
    const failingWorker = await startBundledWorker(env, failingQueue, createActivities({ gateway: flaky }));
    try {
      const order = await cardOrder();
      const outRefundNo = newRefundNo('ENF');
      const receipt = await requestRefund(
        { client: env.client, taskQueue: failingQueue, decisionTimeoutMs: 20_000 },
        {
          // After an unknown outcome the workflow queries and resends: within 200 ms here, not WeChat's seconds.
          order: { ...order, submitRetry: { retrySame: { initialMs: 200, maxMs: 200, coefficient: 1 } } },
          refund: { outRefundNo, amountFen: AMOUNT_FEN, reason: REASON },
        },
      );
      await settleAtWechat(env.client, outRefundNo);
      await expect(awaitRefundOutcome(env.client, receipt, { pollMs: 100 })).resolves.toMatchObject({
        state: 'SUCCESS',
      });
      expect(failed.has(outRefundNo)).toBe(true);
      const stored = await storedHistory(refundHandle(env.client, receipt));
      // The failed attempt is stored (ActivityTaskFailed), its message and stack moved into encrypted attributes.
      expect(stored.failureTexts).toContain('Encoded failure');
      expectNothingInClear(stored, [order.outTradeNo, outRefundNo, String(AMOUNT_FEN), 'socket hang up', REASON]);
      // With the key, the failure reads again: its encrypted attributes hold the message and the stack trace.
      const failedEvent = stored.history.events?.find((e) => e.activityTaskFailedEventAttributes);
      const encodedAttributes = failedEvent?.activityTaskFailedEventAttributes?.failure?.encodedAttributes;
      expect(encodedAttributes).toBeTruthy();
      const [decoded] = await new EncryptionCodec(loadPayloadKeys({ env: process.env })!).decode([
        encodedAttributes as Payload,
      ]);
      const attributes = JSON.parse(Buffer.from(decoded.data!).toString('utf8')) as Record<string, string>;
      expect(attributes.message).toContain(`socket hang up creating ${outRefundNo}`);
      expect(attributes.stack_trace).toContain('submitRefund');
    } finally {
      await failingWorker.stop();
    }
  });

  test("an ABNORMAL refund resolved to the user's bank card: card number and name never stored in clear", async () => {
    const order = await cardOrder();
    const outRefundNo = newRefundNo('ENA');
    await sim.admin.forceOutcome(outRefundNo, { status: 'ABNORMAL', afterSeconds: 0 });
    const receipt = await requestRefund(
      { client: env.client, taskQueue, decisionTimeoutMs: 20_000 },
      { order, refund: { outRefundNo, amountFen: AMOUNT_FEN } },
    );
    await eventually('the refund ABNORMAL', async () => {
      await retryNow(env.client, outRefundNo, { operator: 'test' }).catch(() => undefined);
      const view = await refundHandle(env.client, receipt).query(statusQuery);
      return view.state === 'ABNORMAL' ? view : undefined;
    });
    const card = '6217000010098765432';
    const name = '欧阳娜娜';
    await resolveAbnormal(env.client, outRefundNo, {
      type: 'USER_BANK_CARD',
      bankType: 'CCB_DEBIT',
      bankAccount: card,
      realName: name,
      operator: 'alice',
    });
    // The worker sent the real details to WeChat (the simulator saw the card); the server stored them encrypted.
    await eventually('WeChat paying to the card', async () => {
      const r = await sim.admin.refund(outRefundNo);
      return r.channel === 'OTHER_BANKCARD' ? r : undefined;
    });
    const stored = await storedHistory(refundHandle(env.client, receipt));
    expectNothingInClear(stored, [card, name, card.slice(0, 12), order.outTradeNo, String(AMOUNT_FEN)]);
  });
});

describe('key rotation and failures', () => {
  const keys = ring('keyA', 'keyB', 'keyC');
  const ringA = keys.keyA;
  const ringBA = `${keys.keyB},${keys.keyA}`;

  test('a refund started under key A finishes under [B, A]: new payloads under B, A still decrypts; a ring without B cannot read the result', async () => {
    const rotationQueue = uniqueTaskQueue('rotation');
    const clientA = clientWith(ringA);
    const workerA = await startBundledWorker(
      env,
      rotationQueue,
      createActivities({ gateway: v3Gateway(sim) }),
      testDataConverter({ [PAYLOAD_KEYS_ENV]: ringA }),
    );
    const order = await cardOrder();
    const outRefundNo = newRefundNo('ROT');
    let receipt;
    try {
      receipt = await requestRefund(
        { client: clientA, taskQueue: rotationQueue, decisionTimeoutMs: 20_000 },
        { order, refund: { outRefundNo, amountFen: AMOUNT_FEN, reason: REASON } },
      );
      // Submitted to WeChat and waiting there (PROCESSING) under key A.
      await eventually('the refund at WeChat', () => sim.admin.refund(outRefundNo));
      await eventually('PROCESSING', async () => {
        const view = await refundHandle(clientA, receipt!).query(statusQuery);
        return view.state === 'PROCESSING' ? view : undefined;
      });
    } finally {
      await workerA.stop();
    }
    const underA = await storedHistory(refundHandle(env.client, receipt));
    expect(new Set(underA.payloads.map((p) => keyIdOf(p.payload)))).toEqual(new Set(['keyA']));

    // Rotation: every process restarts with B first and A behind it.
    const clientBA = clientWith(ringBA);
    const workerBA = await startBundledWorker(
      env,
      rotationQueue,
      createActivities({ gateway: v3Gateway(sim) }),
      testDataConverter({ [PAYLOAD_KEYS_ENV]: ringBA }),
    );
    try {
      await settleAtWechat(clientBA, outRefundNo);
      const outcome = await awaitRefundOutcome(clientBA, receipt, { pollMs: 100 });
      expect(outcome).toMatchObject({ state: 'SUCCESS', outRefundNo });
      // The history under A still reads: the whole history replays (a query on a closed workflow) through the ring.
      expect((await refundHandle(clientBA, receipt).query(statusQuery)).state).toBe('SUCCESS');
    } finally {
      await workerBA.stop();
    }

    const stored = await storedHistory(refundHandle(env.client, receipt));
    expect(unencryptedPayloads(stored)).toEqual([]);
    const ids = stored.payloads.map((p) => keyIdOf(p.payload));
    expect(new Set(ids)).toEqual(new Set(['keyA', 'keyB']));
    // Old payloads keep their key; everything written after the rotation is under B (the result is the last).
    expect(ids[0]).toBe('keyA');
    expect(ids[ids.length - 1]).toBe('keyB');

    // A process whose ring lacks the key fails loudly, naming the key it needs.
    await expect(refundHandle(clientWith(keys.keyC), receipt).result()).rejects.toThrow(
      /key 'keyB', which is not configured/,
    );
    await expect(refundHandle(clientA, receipt).result()).rejects.toThrow(/'keyB'/);
  });

  test('a tampered payload fails loudly, naming its key; so does one relabelled to another key', async () => {
    const outRefundNo = newRefundNo('TMP');
    const order = await cardOrder();
    await requestRefund(
      { client: env.client, taskQueue, decisionTimeoutMs: 20_000 },
      { order, refund: { outRefundNo, amountFen: 100 } },
    );
    const stored = await storedHistory(env.client.workflow.getHandle(orderWorkflowId(order.outTradeNo)));
    const original = stored.payloads[0].payload;
    const codec = new EncryptionCodec(loadPayloadKeys({ env: process.env })!);
    // Untouched, it decodes.
    await expect(codec.decode([original])).resolves.toHaveLength(1);

    const data = Buffer.from(original.data!);
    data[data.length - 20] ^= 0x01; // one bit of the ciphertext
    const tampered = { metadata: original.metadata, data };
    const failure = await codec.decode([tampered]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PayloadDecryptionError);
    expect(failure).toMatchObject({ problem: 'tampered', keyId: TEST_PAYLOAD_KEY_ID });
    expect((failure as Error).message).toMatch(/key 'test1' failed authentication: it was altered/);

    // The key id is authenticated too: relabelling the payload to another configured key does not open it.
    const rotated = new EncryptionCodec(
      loadPayloadKeys({ env: { [PAYLOAD_KEYS_ENV]: `${ring('other').other},${process.env[PAYLOAD_KEYS_ENV]}` } })!,
    );
    const relabelled = {
      metadata: { ...original.metadata, 'encryption-key-id': Buffer.from('other') },
      data: original.data,
    };
    await expect(rotated.decode([relabelled])).rejects.toMatchObject({ problem: 'tampered', keyId: 'other' });
  });
});
