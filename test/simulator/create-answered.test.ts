/**
 * The in-process observer of new refunds (`core.service.onCreateAnswered`): benchmarks learn from it that WeChat has
 * accepted a refund, instead of asking the workflow they measure. It must fire once per new refund, only after the
 * create was answered, never for a replay or a refusal, and an observer must never change an answer.
 */
import type { SimRefund } from '../../src/simulator/model';
import type { SimulatorHandle } from '../../src/simulator/server';
import { errorOf, paidOrder, shareSimulator, storedSoon, v3Gateway } from './support';

let sim: SimulatorHandle;
shareSimulator((s) => (sim = s));

const heard: Array<Pick<SimRefund, 'outRefundNo' | 'status'>> = [];
let unsubscribe: () => void = () => undefined;
beforeEach(() => {
  heard.length = 0;
  unsubscribe = sim.core.service.onCreateAnswered((r) => heard.push({ outRefundNo: r.outRefundNo, status: r.status }));
});
afterEach(() => unsubscribe());

async function create(outRefundNo: string, outTradeNo: string, totalFen: number, refundFen = 100) {
  return v3Gateway(sim).createRefund({ outRefundNo, outTradeNo, refundFen, totalFen });
}

it('tells each new refund once, PROCESSING, and not again for an identical resend', async () => {
  const order = await paidOrder(sim);
  await create('R-OBS-1', order.outTradeNo, order.totalFen);
  await create('R-OBS-1', order.outTradeNo, order.totalFen); // idempotent replay (M8): the same refund
  expect(heard).toEqual([{ outRefundNo: 'R-OBS-1', status: 'PROCESSING' }]);
});

it('waits for the answer: a refund stored but still being answered is not told yet', async () => {
  await sim.admin.patchSettings({ rules: { createProcessingMs: 400 } });
  const order = await paidOrder(sim);
  const answered = create('R-OBS-SLOW', order.outTradeNo, order.totalFen);
  await storedSoon(sim, 'R-OBS-SLOW');
  expect(heard).toEqual([]);
  await answered;
  expect(heard.map((r) => r.outRefundNo)).toEqual(['R-OBS-SLOW']);
});

it('is not told about a refused create', async () => {
  const order = await paidOrder(sim);
  // The client cannot know the order's total: WeChat refuses the wrong one (M3).
  const err = await errorOf(create('R-OBS-WRONG-TOTAL', order.outTradeNo, order.totalFen + 1));
  expect(String(err.message)).toMatch(/total/i);
  await expect(sim.admin.refunds()).resolves.toEqual([]);
  expect(heard).toEqual([]);
});

it('an observer that throws changes no answer, and an unsubscribed one hears nothing', async () => {
  const stop = sim.core.service.onCreateAnswered(() => {
    throw new Error('observer broken');
  });
  const order = await paidOrder(sim);
  await expect(create('R-OBS-2', order.outTradeNo, order.totalFen)).resolves.toMatchObject({ status: 'PROCESSING' });
  stop();
  unsubscribe();
  const other = await paidOrder(sim);
  await create('R-OBS-3', other.outTradeNo, other.totalFen);
  expect(heard.map((r) => r.outRefundNo)).toEqual(['R-OBS-2']);
});
