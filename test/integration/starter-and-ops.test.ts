/**
 * The two human-facing entry points on a real dev server with the worker's real activities and the simulator:
 * the order service's starter (library) and the operator CLI (`run()` is what `npm run ops` executes).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { createActivities } from '../../src/activities';
import { createSealer, parseSealKeys } from '../../src/secrets/seal';
import { run as ops } from '../../src/cli/operator';
import { resolveAbnormal } from '../../src/ops/refund-ops';
import { UsageError } from '../../src/cli/support/args';
import type { OrderLedgerInput } from '../../src/domain/schemas';
import type { SimulatorHandle } from '../../src/simulator/server';
import { awaitRefundOutcome, RefundRejected, refundHandle, requestRefund } from '../../src/starter';
import { createDevServerEnv, testDataConverter, uniqueTaskQueue, workflowBundle } from '../harness/temporal';
import { closeGateways, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { storedHistory, storedText, unencryptedPayloads } from '../support/raw-history';
import { receiptIdentity } from '../workflows/helpers';

// The merchant's sealing key, shared by the operator CLI and the worker (WXREFUND_SEAL_KEYS in production).
const sealer = createSealer(parseSealKeys(`k1:${randomBytes(32).toString('base64')}`));

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('starter-ops');
// Query within a second and then every second, so refunds settle by poll without a webhook in this test.
const quickPolling = {
  balance: { initialOffsetsMs: [500], thenEveryMs: 1_000, horizon: { calendarDays: 1, businessDays: 0 } },
  bankCard: { initialOffsetsMs: [500], thenEveryMs: 1_000, horizon: { calendarDays: 30, businessDays: 0 } },
  waitingEveryMs: 1_000,
};

beforeAll(async () => {
  env = await createDevServerEnv();
  // One simulated day per real second: a refund to a bank card (1–3 business days) settles within seconds.
  sim = await startTestSimulator({ timeScale: 86_400, startTime: new Date().toISOString() });
  worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ gateway: v3Gateway(sim), unseal: sealer.unseal }),
    dataConverter: testDataConverter(),
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await closeGateways();
  await sim?.close();
  await env?.teardown();
});

async function paid(totalFen = 10_000): Promise<OrderLedgerInput> {
  const o = await paidOrder(sim, { totalFen });
  return {
    outTradeNo: o.outTradeNo,
    paidTotalFen: totalFen,
    payerBankType: 'OTHERS',
    polling: quickPolling,
  };
}

const starter = () => ({ client: env.client, taskQueue, decisionTimeoutMs: 60_000 });
const no = (p: string) => `${p}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

async function capture(argv: string[]): Promise<string> {
  const lines: string[] = [];
  await ops(argv, env.client, (l) => lines.push(l), sealer);
  return lines.join('\n');
}

describe('starter (order service library)', () => {
  it('accepts a refund through update-with-start, answers repeats with the same receipt, and refuses over-refunds at once', async () => {
    const order = await paid();
    const outRefundNo = no('ST');
    const receipt = await requestRefund(starter(), { order, refund: { outRefundNo, amountFen: 7_000 } });
    expect(receipt).toMatchObject({ outRefundNo, amountFen: 7_000, refundWorkflowId: `refund-${outRefundNo}` });
    const again = await requestRefund(starter(), { order, refund: { outRefundNo, amountFen: 7_000 } });
    expect(receiptIdentity(again)).toEqual(receiptIdentity(receipt));

    const started = Date.now();
    const over = requestRefund(starter(), { order, refund: { outRefundNo: no('ST'), amountFen: 3_001 } });
    await expect(over).rejects.toBeInstanceOf(RefundRejected);
    await expect(over).rejects.toMatchObject({ rule: 'M4' });
    expect(Date.now() - started).toBeLessThan(5_000);

    const outcome = await awaitRefundOutcome(env.client, receipt);
    expect(outcome).toMatchObject({ state: 'SUCCESS', outRefundNo });
  });

  it('rejects malformed input before anything reaches Temporal, naming the field', async () => {
    const order = await paid();
    await expect(
      requestRefund(starter(), { order, refund: { outRefundNo: no('ST'), amountFen: 12.5 } }),
    ).rejects.toMatchObject({ rule: 'INVALID_INPUT', message: expect.stringMatching(/amountFen/) });
    await expect(
      requestRefund(starter(), {
        order: { ...order, paidAt: 'yesterday' },
        refund: { outRefundNo: no('ST'), amountFen: 1 },
      }),
    ).rejects.toMatchObject({ rule: 'INVALID_INPUT', message: expect.stringMatching(/paidAt/) });
  });
});

describe('operator CLI', () => {
  it('lists refunds by status and order, shows a timeline and the order ledger', async () => {
    const order = await paid();
    const outRefundNo = no('OP');
    const receipt = await requestRefund(starter(), { order, refund: { outRefundNo, amountFen: 2_500 } });
    await awaitRefundOutcome(env.client, receipt);

    // Visibility is eventually consistent: wait until the list shows it.
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes(outRefundNo); i++) {
      listed = await capture(['list', '--order', order.outTradeNo]);
      if (!listed.includes(outRefundNo)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toMatch(new RegExp(`${outRefundNo}\\s+${order.outTradeNo}\\s+SUCCESS\\s+25\\.00`));
    expect(await capture(['list', '--status', 'SUCCESS', '--limit', '500'])).toContain(outRefundNo);

    const shown = await capture(['show', outRefundNo]);
    expect(shown).toContain(`refund-${outRefundNo}  SUCCESS`);
    expect(shown).toMatch(/submit\s+create ACCEPTED/);
    // At this simulated speed WeChat may already answer the create with SUCCESS; either way the move is recorded.
    expect(shown).toMatch(/(PENDING|PROCESSING) → SUCCESS \((create|query|notification)\)/);

    const ledger = await capture(['order', order.outTradeNo]);
    expect(ledger).toContain(`order ${order.outTradeNo}: paid 100.00 CNY`);
    expect(ledger).toMatch(new RegExp(`${outRefundNo}\\s+SUCCESS\\s+25\\.00`));
  });

  it('resolves an ABNORMAL refund with bank details stored only encrypted; bad details are refused without touching the refund', async () => {
    const order = await paid();
    const outRefundNo = no('AB');
    await sim.admin.forceOutcome(outRefundNo, { status: 'ABNORMAL', afterSeconds: 0 });
    const receipt = await requestRefund(starter(), { order, refund: { outRefundNo, amountFen: 4_000 } });
    const handle = refundHandle(env.client, receipt);
    // The ledger starts the refund workflow just after answering, so it may not exist at the first look.
    const showOrNothing = () => capture(['show', outRefundNo]).catch(() => '');
    for (let i = 0; i < 100 && !(await showOrNothing()).includes('  ABNORMAL'); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await capture(['show', outRefundNo])).toContain(`refund-${outRefundNo}  ABNORMAL`);

    const bad = [
      'resolve-abnormal',
      outRefundNo,
      '--type',
      'USER_BANK_CARD',
      '--bank-type',
      'CCB_DEBIT',
      '--bank-account',
      '12ab',
      '--real-name',
      '张三',
    ];
    // The CLI refuses before anything is sealed or sent; the workflow's own validator refuses the same at once.
    await expect(capture(bad)).rejects.toThrow(/bankAccount: bankAccount must be the card number/);
    await expect(
      resolveAbnormal(env.client, outRefundNo, {
        type: 'USER_BANK_CARD',
        bankType: 'CCB_DEBIT',
        bankAccount: '12ab',
        realName: '张三',
      }),
    ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(capture(['resolve-abnormal', outRefundNo, '--type', 'CASH'])).rejects.toBeInstanceOf(UsageError);
    expect(await capture(['show', outRefundNo])).toContain('  ABNORMAL');

    const good = await capture([
      'resolve-abnormal',
      outRefundNo,
      '--type',
      'USER_BANK_CARD',
      '--bank-type',
      'CCB_DEBIT',
      '--bank-account',
      '6217000010012345678',
      '--real-name',
      '张三',
      '--operator',
      'alice',
    ]);
    // Payload encryption is on (the run's test ring): the codec encrypts the whole update, so the CLI no longer seals.
    expect(good).toContain('card ****5678, encrypted');
    expect(good).not.toContain('6217000010012345678');
    await expect(handle.result()).resolves.toMatchObject({ state: 'SUCCESS' });
    // The worker sent the real card to WeChat (the simulator saw it); the server stored it only encrypted.
    expect(await sim.admin.refund(outRefundNo)).toMatchObject({ channel: 'OTHER_BANKCARD' });
    const stored = await storedHistory(env.client.workflow.getHandle(receipt.refundWorkflowId));
    expect(unencryptedPayloads(stored)).toEqual([]);
    const history = storedText(stored);
    expect(history).not.toContain('6217000010012345678');
    expect(history).not.toContain('张三');
    expect(history).not.toContain('USER_BANK_CARD');
    expect(await capture(['show', outRefundNo])).toMatch(
      /apply-abnormal-refund USER_BANK_CARD CCB_DEBIT ACCEPTED by alice/,
    );
  });

  it('refuses unknown commands and bad flags with a usage error', async () => {
    await expect(capture(['frobnicate'])).rejects.toThrow(/unknown command 'frobnicate'/);
    await expect(capture(['list', '--status', 'DONE'])).rejects.toThrow(/--status/);
  });
});
