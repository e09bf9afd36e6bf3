/**
 * A merchant's WeChat call budget holds across worker processes (docs/merchants.md "Call budgets"): two independent
 * sets of budgeted queue workers (as two worker processes run them) serve one merchant whose budget is 4 creates/s,
 * and a burst of refunds accepted at once reaches WeChat at that rate, never faster, without one FREQUENCY_LIMITED.
 * The rate is Temporal's (maxTaskQueueActivitiesPerSecond, enforced by the server per task queue), so the test runs
 * on the real dev server; WeChat is the simulator, with its own limit set to the budget.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { Runtime } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { MerchantQueueWorkers } from '../../src/merchants/merchant-queue-workers';
import type { MerchantEntry } from '../../src/merchants/types';
import type { SimulatorHandle } from '../../src/simulator/server';
import type { RefundGateway } from '../../src/wechatpay/gateway';
import { createDevServerEnv, startBundledWorker, testDataConverter, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { newRefundNo, requestRefund } from '../workflows/helpers';

jest.setTimeout(120_000);

const CREATES_PER_SECOND = 4;
const REFUNDS = 12;

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
const stopAll: Array<() => Promise<void>> = [];

beforeAll(async () => {
  env = await createDevServerEnv();
  // WeChat's own limit set to the budget: a second with more creates than the budget is answered FREQUENCY_LIMITED.
  sim = await startTestSimulator({
    startTime: new Date().toISOString(),
    rateLimits: { create: CREATES_PER_SECOND },
  });
});

afterAll(async () => {
  for (const stop of stopAll.reverse()) await stop().catch(() => undefined);
  await closeGateways();
  await sim?.close();
  await env?.teardown();
});

/** The merchant's gateway, noting when each create reaches it. */
function timedGateway(inner: RefundGateway, createdAt: number[]): RefundGateway {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'createRefund') {
        return (input: Parameters<RefundGateway['createRefund']>[0]) => {
          createdAt.push(Date.now());
          return target.createRefund(input);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

test(`a burst of ${REFUNDS} refunds of one merchant reaches WeChat at its budget of ${CREATES_PER_SECOND} creates/s, served by two worker processes`, async () => {
  const createdAt: number[] = [];
  const gateway = timedGateway(v3Gateway(sim), createdAt);
  const activities = createActivities({ merchantQueues: true, gateways: { forMerchant: () => gateway } });
  const taskQueue = uniqueTaskQueue('budget');
  const main = await startBundledWorker(env, taskQueue, activities);
  stopAll.push(() => main.stop());
  const merchant = {
    mchid: DIRECT,
    budget: { createsPerSecond: CREATES_PER_SECOND, queriesPerSecond: 50 },
  } as unknown as MerchantEntry;
  // Two "processes": each its own connection and its own MerchantQueueWorkers, as two src/worker.ts would run.
  for (let i = 0; i < 2; i++) {
    const connection = await NativeConnection.connect({ address: env.connection.options.address });
    const queues = new MerchantQueueWorkers({
      connection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      dataConverter: testDataConverter(),
      activities,
      log: Runtime.instance().logger,
      onFatal: (err) => {
        throw err;
      },
    });
    await queues.serve([merchant]);
    expect(queues.size).toBe(2);
    stopAll.push(async () => {
      await queues.stop();
      await connection.close();
    });
  }

  const orders = await Promise.all(
    Array.from({ length: REFUNDS }, () => paidOrder(sim, { mchid: DIRECT, totalFen: 1_000 })),
  );
  const paidAt = new Date(Date.parse((await sim.admin.clock()).now)).toISOString();
  const receipts = await Promise.all(
    orders.map((o) =>
      requestRefund(
        env,
        taskQueue,
        { outTradeNo: o.outTradeNo, transactionId: o.transactionId, paidTotalFen: 1_000, paidAt },
        { outRefundNo: newRefundNo('B'), amountFen: 500 },
      ),
    ),
  );
  expect(receipts).toHaveLength(REFUNDS);

  const deadline = Date.now() + 60_000;
  while (createdAt.length < REFUNDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(createdAt).toHaveLength(REFUNDS);

  // Never more than the budget in any one second, the first second of the burst included (the queue runs at half the
  // budget because the server's token bucket can release twice its rate in one second after a quiet spell), and the
  // burst is spread over seconds instead of arriving at once.
  const sorted = [...createdAt].sort((a, b) => a - b);
  const mostInOneSecond = Math.max(...sorted.map((t) => sorted.filter((u) => u >= t && u < t + 1_000).length));
  const averagePerSecond = (REFUNDS - 1) / ((sorted[sorted.length - 1] - sorted[0]) / 1_000);
  console.log(
    `budget ${CREATES_PER_SECOND}/s: average ${averagePerSecond.toFixed(2)}/s, most in one second ${mostInOneSecond}`,
  );
  expect(mostInOneSecond).toBeLessThanOrEqual(CREATES_PER_SECOND);
  expect(averagePerSecond).toBeLessThanOrEqual(CREATES_PER_SECOND);
  // WeChat never had to refuse one for frequency.
  const calls = await sim.admin.calls();
  expect(calls['v3.create']?.byCode?.FREQUENCY_LIMITED ?? 0).toBe(0);
  expect(calls['v3.create']?.total).toBe(REFUNDS);
});
