import { bankCardPollsWithin, project, type ScaleFigures } from '../../../bench/support/projection';

const measured: ScaleFigures = {
  count: 10_000,
  workers: 3,
  workerSettings: {
    maxCachedWorkflows: 64,
    maxOldSpaceSizeMB: 256,
    budget: { createsPerSecond: 100, queriesPerSecond: 200 },
  },
  start: { requestsPerSecond: 3 },
  drain: { refundsPerSecond: 6, deliveriesPerNotification: 2 },
  memory: {
    workers: [{ peakMiB: 590 }, { peakMiB: 601 }, { peakMiB: 598 }],
    servers: [
      { process: 'history', miBPer1kRefunds: 100 },
      { process: 'ui', miBPer1kRefunds: 0 },
    ],
  },
  storage: {
    historyEventBytesPerRefund: 12_000,
    perRefundInFlight: [
      { table: 'temporal_visibility.executions_visibility', rowsPerRefund: 2, bytesPerRefund: 40_000 },
      { table: 'temporal.history_node', rowsPerRefund: 20, bytesPerRefund: 20_000 },
    ],
  },
};

describe('the projection to 1,000,000 refunds in flight', () => {
  it("counts a bank-card refund's polls from the engine's own schedule (about 11 by day 3, as documented)", () => {
    expect(bankCardPollsWithin(3)).toBe(11);
    expect(bankCardPollsWithin(1)).toBe(7); // +1, +5, +30 min, +2, +6, +12 h, then +24 h
  });

  it('scales the measured per-refund figures and sizes workers and WeChat calls from them', () => {
    const p = project(measured);
    expect(p.storage.postgresGiB).toBe(55.9); // 60,000 B × 1e6
    expect(p.storage.visibilityGiB).toBe(37.3);
    expect(p.storage.historyNodeRows).toBe(20_000_000);
    expect(p.serverMiBLinear).toEqual([{ process: 'history', gib: 97.7 }]);
    expect(p.workers).toMatchObject({ peakMiB: 601, drainPerWorker: 2, forDrainInOneHour: 139, forAcceptInOneDay: 12 });
    // 1e6 over 3 days = 3.9 new refunds/s, 11 polls each; a burst is created at the queue's 50/s, 3 early polls each.
    expect(p.wechat).toEqual({
      pollsPerRefund: 11,
      steadyArrivalsPerSecond: 3.9,
      steadyQueriesPerSecond: 42.4,
      queryQueuePerSecond: 100,
      burstCreateHours: 5.6,
      burstQueriesPerSecond: 150,
    });
  });
});
