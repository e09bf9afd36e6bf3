/**
 * WeChat publishes no refund bill for a day without refunds (the simulator answers NO_STATEMENT_EXIST for good):
 * long after publication time, "no bill" with no refund of the engine either is an empty day, reconciled as such;
 * with refunds of the engine that day it stays "not ready" (retried, then an operator looks). Pure unit test: the
 * gateway and visibility are stand-ins.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { billLongOverdue, reconcileDay } from '../../../src/reconciliation/reconcile-day';
import { RetrySame } from '../../../src/wechatpay/errors';
import type { RefundGateway } from '../../../src/wechatpay/gateway';
import { OutRefundNoKey, RefundAmountFenKey, RefundStatusKey } from '../../../src/domain/search-attributes';

const DAY = '2026-11-30';
let dir: string;
beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'wxrefund-empty-day-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noBill = {
  apiVersion: 'v3',
  downloadRefundBill: async () => {
    throw new RetrySame({ code: 'BILL_NOT_READY', message: 'NO_STATEMENT_EXIST: no bill' });
  },
} as unknown as RefundGateway;

/** Visibility with these refunds of the day (ID, state). */
function visibility(refunds: Array<[string, string]>): Client {
  const started = new Date(`${DAY}T12:00:00+08:00`);
  return {
    workflow: {
      async *list() {
        for (const [no, state] of refunds) {
          const attributes = new Map<unknown, unknown>([
            [OutRefundNoKey, no],
            [RefundAmountFenKey, 100],
            [RefundStatusKey, state],
          ]);
          yield {
            workflowId: `refund-${no}`,
            startTime: started,
            typedSearchAttributes: { get: (k: unknown) => attributes.get(k) },
          };
        }
      },
    },
  } as unknown as Client;
}

const deps = (client: Client, nowIso: string) => ({
  gateway: noBill,
  client,
  isDefault: true,
  reportsDir: dir,
  now: () => Date.parse(nowIso),
});

test('a bill is long overdue six hours after its 10:00 publication the next day', () => {
  expect(billLongOverdue(DAY, Date.parse('2026-12-01T15:59:00+08:00'))).toBe(false);
  expect(billLongOverdue(DAY, Date.parse('2026-12-01T16:01:00+08:00'))).toBe(true);
});

test('no bill and no refund of the engine, long after publication: an empty day, every count zero', async () => {
  const result = await reconcileDay(deps(visibility([['GONE', 'REJECTED']]), '2026-12-02T09:00:00+08:00'), {
    mchid: '1900000109',
    billDate: DAY,
  });
  expect(result.totals).toEqual({ billRows: 0, billSumFen: 0, engineSumFen: 0 });
  expect(result.counts).toMatchObject({ MATCHED: 0, unresolved: 0 });
});

test('no bill while the engine has refunds that day: still "not ready", never reconciled as empty', async () => {
  await expect(
    reconcileDay(deps(visibility([['HAS', 'SUCCESS']]), '2026-12-02T09:00:00+08:00'), {
      mchid: '1900000109',
      billDate: DAY,
    }),
  ).rejects.toMatchObject({ code: 'BILL_NOT_READY' });
});

test('no bill before it is overdue: "not ready", whatever the engine has', async () => {
  await expect(
    reconcileDay(deps(visibility([]), '2026-12-01T11:00:00+08:00'), { mchid: '1900000109', billDate: DAY }),
  ).rejects.toMatchObject({ code: 'BILL_NOT_READY' });
});
