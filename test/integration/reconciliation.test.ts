/**
 * The daily reconciliation end to end (docs/reconciliation.md) on the real dev server: refunds made through the
 * engine, one made in the merchant portal, the simulated WeChat's refund bill (signed, gzip, SHA1), the workflow and
 * its activity, the report outside history; and the schedule, made once however many workers start.
 *
 * The simulator's clock is frozen at real time and moved by the test: bills are published at 10:00 Beijing time the
 * day after (§12.1).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { createActivities } from '../../src/activities';
import { refundWorkflowId } from '../../src/domain/ids';
import { reconcileNow } from '../../src/ops/reconcile';
import { beijingDate, type Finding } from '../../src/reconciliation/compare';
import { ensureReconciliationSchedules, reconciliationRunId } from '../../src/reconciliation/schedules';
import type { SimulatorHandle } from '../../src/simulator/server';
import { retryNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { createDevServerEnv, startBundledWorker, uniqueTaskQueue } from '../harness/temporal';
import { closeGateways, DIRECT, paidOrder, startTestSimulator, v3Gateway } from '../simulator/support';
import { newRefundNo, recordHistory, requestRefund } from '../workflows/helpers';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let sim: SimulatorHandle;
let worker: Awaited<ReturnType<typeof startBundledWorker>>;
let reportsDir: string;
const sentEvents: Array<{ id: string; body: string }> = [];
const taskQueue = uniqueTaskQueue('reconcile');

beforeAll(async () => {
  env = await createDevServerEnv();
  sim = await startTestSimulator({ startTime: new Date().toISOString() });
  reportsDir = mkdtempSync(path.join(tmpdir(), 'wxrefund-reconcile-'));
  worker = await startBundledWorker(
    env,
    taskQueue,
    createActivities({
      gateway: v3Gateway(sim),
      // DIRECT is not this deployment's default merchant here: its refunds' IDs name it (refund-<mchid>.<no>), so the
      // engine's view of the day holds this test's refunds only, not those other tests make on the same server.
      reconciliation: { client: env.client, reportsDir, isDefault: () => false, queriesPerSecond: 50 },
      // The order service's endpoint, played by a recorder: what the alert event says.
      events: {
        url: 'http://order-service.invalid/refund-events',
        secret: 'reconciliation-test-secret',
        timeoutMs: 1_000,
        retry: { initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 1_000, giveUpAfterMs: 10_000 },
      },
      postEvent: async (_target, event) => {
        sentEvents.push(event);
        return { ok: true, statusCode: 204, durationMs: 0 };
      },
    }),
  );
});

afterAll(async () => {
  await worker?.stop();
  await closeGateways();
  await sim?.close();
  await env?.teardown();
  rmSync(reportsDir, { recursive: true, force: true });
});

async function refundThroughEngine(amountFen: number): Promise<string> {
  const o = await paidOrder(sim, { mchid: DIRECT, totalFen: 10_000 });
  const paidAt = new Date(Date.parse((await sim.admin.clock()).now)).toISOString();
  const outRefundNo = newRefundNo('RC');
  await requestRefund(
    env,
    taskQueue,
    { mchid: DIRECT, outTradeNo: o.outTradeNo, transactionId: o.transactionId, paidAt },
    {
      outRefundNo,
      amountFen,
    },
  );
  await until(outRefundNo, (s) => s !== 'PENDING');
  return outRefundNo;
}

async function until(outRefundNo: string, ok: (state: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const handle = env.client.workflow.getHandle(refundWorkflowId(outRefundNo, { mchid: DIRECT }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await handle.query(statusQuery).catch(() => undefined))?.state;
    if (state && ok(state)) return state;
    if (Date.now() > deadline) throw new Error(`${outRefundNo} stayed ${state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Asks the refund's workflow to query WeChat now, and waits for the state the engine then holds. */
async function settleByOperator(outRefundNo: string): Promise<string> {
  await env.client.workflow
    .getHandle(refundWorkflowId(outRefundNo, { mchid: DIRECT }))
    .executeUpdate(retryNowUpdate, { args: [{ operator: 'reconciliation-test' }] });
  return until(outRefundNo, (s) => s === 'SUCCESS');
}

/** Waits until the reconciliation's pending activity last failed with this code (decoded: failures are encrypted). */
async function lastFailureMentions(handle: WorkflowHandle, code: string): Promise<void> {
  const converter = env.client.options.loadedDataConverter;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const described = await handle.describe().catch(() => undefined);
    const failure = described?.raw.pendingActivities?.[0]?.lastFailure;
    const error = await decodeOptionalFailureToOptionalError(converter, failure);
    if (error?.message.includes(code)) return;
    if (Date.now() > deadline)
      throw new Error(`the reconciliation never failed with ${code} (last: ${error?.message})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const findingsOf = (reportFile: string): Finding[] =>
  readFileSync(reportFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Finding);

test("a day's bill against the engine: not published yet, a bad SHA1 refused and retried, matched rows, a portal refund flagged, a snapshot settled by a query", async () => {
  const billDate = beijingDate((await sim.admin.clock()).nowMs);
  const settled = await refundThroughEngine(1_000);
  const snapshot = await refundThroughEngine(2_500);
  await sim.admin.forceOutcome(settled, { status: 'SUCCESS', afterSeconds: 60 });
  // Still PROCESSING when the bill is made (the bill keeps the status of that moment), SUCCESS by the time it is read.
  await sim.admin.forceOutcome(snapshot, { status: 'SUCCESS', afterSeconds: 36 * 3_600 });
  const portalOrder = await paidOrder(sim, { mchid: DIRECT, totalFen: 3_000 });
  const portal = newRefundNo('PORTAL');
  await sim.admin.portalRefund({
    mchid: DIRECT,
    outTradeNo: portalOrder.outTradeNo,
    outRefundNo: portal,
    refundFen: 700,
  });
  // Every download of this bill is corrupted until the fault is lifted: its SHA1 disagrees with hash_value.
  await sim.admin.addBillFault({ kind: 'CORRUPT', mchid: DIRECT, billDate });

  const run = reconcileNow(env.client, { mchid: DIRECT, billDate, taskQueue, retryIntervalMs: 1_000 });
  const handle = env.client.workflow.getHandle(reconciliationRunId({ mchid: DIRECT }, billDate));
  // Before 10:00 Beijing time the next day there is no bill: the run waits for it.
  await lastFailureMentions(handle, 'BILL_NOT_READY');
  // Published (and made, with the first refund settled and the second still PROCESSING): the file fails its SHA1
  // check, so it is refused, never reconciled, and fetched again.
  await sim.admin.advance({ to: new Date(Date.parse(`${billDate}T10:05:00+08:00`) + 86_400_000).toISOString() });
  await lastFailureMentions(handle, 'BILL_HASH_MISMATCH');

  // The engine learns both outcomes (an operator's retry-now queries at once); then the good file is served.
  expect(await settleByOperator(settled)).toBe('SUCCESS');
  await sim.admin.advance({ days: 2 });
  expect(await settleByOperator(snapshot)).toBe('SUCCESS');
  await sim.admin.clearBillFaults();
  const result = await run;
  expect(result.counts).toMatchObject({ MATCHED: 1, STATUS_DIFFERENCE: 1, MISSING_LOCALLY: 1, resolved: 1 });
  expect(result.totals).toMatchObject({ billRows: 3, billSumFen: 4_200, engineSumFen: 3_500 });
  const findings = findingsOf(result.report.report);
  expect(findings.find((f) => f.outRefundNo === settled)?.kind).toBe('MATCHED');
  expect(findings.find((f) => f.outRefundNo === snapshot)).toMatchObject({
    kind: 'STATUS_DIFFERENCE',
    resolved: { by: 'query' },
  });
  expect(findings.find((f) => f.outRefundNo === portal)).toMatchObject({
    kind: 'MISSING_LOCALLY',
    bill: { refundFen: 700 },
  });
  expect(findings.find((f) => f.kind === 'TOTAL_MISMATCH')?.detail).toMatch(/4200 fen .* 3500 fen/);
  expect(readFileSync(result.report.summary, 'utf8')).toMatch(/missing locally +1/);

  // The history keeps the counts and the report's reference, not the rows: a handful of events whatever the bill's
  // length (the activity's retries add none), and a result whose only list is the first 20 open findings.
  const { events } = await handle.fetchHistory();
  expect(events?.length ?? 0).toBeLessThan(20);
  expect(Object.keys(result).sort()).toEqual(
    ['billDate', 'billSha1', 'counts', 'mchid', 'open', 'report', 'totals'].sort(),
  );
  expect(result.open.map((f) => f.outRefundNo)).toEqual(expect.arrayContaining([portal]));

  // The order service was told, with a signed event of its own kind: counts and the open findings, no rows.
  const alerts = sentEvents.filter((e) => e.id.startsWith('reconcile-')); // the refunds' own events go there too
  expect(alerts.map((e) => e.id)).toEqual([`reconcile-${DIRECT}-${billDate}:discrepancies`]);
  const event = JSON.parse(alerts[0].body);
  expect(event).toMatchObject({
    object: 'event',
    type: 'reconciliation.discrepancies',
    data: { reconciliation: { mchid: DIRECT, bill_date: billDate, counts: { MISSING_LOCALLY: 1, MATCHED: 1 } } },
  });
  await recordHistory('reconciliation-portal-refund-flagged', handle);
  expect(event.data.reconciliation.open).toEqual(
    expect.arrayContaining([expect.objectContaining({ kind: 'MISSING_LOCALLY', out_refund_no: portal })]),
  );
}, 120_000);

test('the schedule exists once per merchant however many workers make sure of it at once', async () => {
  const merchants = [{ mchid: '1900000911' }, { mchid: '1900000912', subMchid: '1900000913' }];
  await Promise.all(
    Array.from({ length: 4 }, () => ensureReconciliationSchedules(env.client, merchants, { taskQueue, hour: 10 })),
  );
  // Later workers with another time of day update it rather than adding one.
  await ensureReconciliationSchedules(env.client, merchants, { taskQueue, hour: 11, minute: 0 });
  const ids: string[] = [];
  for await (const s of env.client.schedule.list()) ids.push(s.scheduleId);
  expect(ids.filter((id) => id.startsWith('reconcile-19000009'))).toEqual(
    expect.arrayContaining(['reconcile-1900000911', 'reconcile-1900000912-1900000913']),
  );
  expect(ids.filter((id) => id.startsWith('reconcile-19000009')).length).toBe(2);
  const described = await env.client.schedule.getHandle('reconcile-1900000911').describe();
  expect(described.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 11, end: 11, step: 1 }] });
  expect(described.spec.timezone).toBe('Asia/Shanghai');
  for (const id of ['reconcile-1900000911', 'reconcile-1900000912-1900000913']) {
    await env.client.schedule.getHandle(id).delete();
  }
});
