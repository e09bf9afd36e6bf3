/**
 * The webhook's outbox on disk (src/webhook/outbox.ts) and its relay (src/webhook/outbox-relay.ts), without Temporal:
 * entries survive a new process (encrypted like Temporal payloads), redeliveries do not add entries, a full outbox
 * refuses, an interrupted write is dropped; the relay signals oldest first within its concurrency, pauses and retries
 * what Temporal did not take, records orphans, and removes an entry only once its outcome is final.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DefaultFailureConverter, defaultPayloadConverter, type LoadedDataConverter } from '@temporalio/common';
import pino from 'pino';
import type { RefundNotification } from '../../../src/wechatpay/gateway';
import { NotificationOutbox, OutboxFull, type OutboxEntry } from '../../../src/webhook/outbox';
import { OutboxRelay } from '../../../src/webhook/outbox-relay';
import type { OrphanRecord, OrphanSink } from '../../../src/webhook/orphans';
import type { SignalOutcome } from '../../../src/webhook/signal-refund';
import { testDataConverter } from '../../harness/temporal';

const converter = (): LoadedDataConverter => ({
  payloadConverter: defaultPayloadConverter,
  failureConverter: new DefaultFailureConverter(),
  payloadCodecs: testDataConverter().payloadCodecs ?? [],
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outbox-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function entry(n: number, storedAt = new Date(Date.UTC(2026, 11, 3, 12, 0, n)).toISOString()): OutboxEntry {
  const notification: RefundNotification = {
    notificationId: `EV-${n}`,
    apiVersion: 'v3',
    mchid: '1900000109',
    outTradeNo: `T${n}`,
    transactionId: `4200000${n}`,
    outRefundNo: `R-secret-${n}`,
    refundId: `5030000${n}`,
    status: 'SUCCESS',
    userReceivedAccount: '招商银行信用卡0403',
    successTime: '2026-12-03T12:00:00+08:00',
    amounts: { totalFen: 100, refundFen: 60, currency: 'CNY' },
    receivedAt: '2026-12-03T12:00:00+08:00',
  };
  return {
    key: `1900000109:EV-${n}`,
    workflowId: `refund:R-secret-${n}`,
    notification,
    requestId: `req-${n}`,
    storedAt,
  };
}

const outbox = (maxEntries = 100) => new NotificationOutbox({ dir, dataConverter: converter(), maxEntries });

describe('NotificationOutbox', () => {
  it('keeps entries across processes, oldest first, encrypted at rest', async () => {
    const first = outbox();
    await first.put(entry(2));
    await first.put(entry(1));
    expect(first.size).toBe(2);

    const files = readdirSync(dir);
    expect(files).toHaveLength(2);
    for (const f of files) {
      const bytes = readFileSync(path.join(dir, f));
      expect(bytes.includes('R-secret')).toBe(false);
      expect(bytes.includes('招商银行')).toBe(false);
    }

    const second = outbox();
    expect(await second.load()).toEqual([entry(1), entry(2)]);
    expect(second.size).toBe(2);
  });

  it('a redelivery replaces its own entry; remove forgets it on disk too', async () => {
    const box = outbox();
    await box.put(entry(1));
    await box.put(entry(1, '2026-12-03T13:00:00.000Z'));
    expect(readdirSync(dir)).toHaveLength(1);
    expect(box.size).toBe(1);
    await box.remove(entry(1).key);
    expect(readdirSync(dir)).toEqual([]);
    expect(await outbox().load()).toEqual([]);
  });

  it('refuses new entries when full, still takes a redelivery of one it holds', async () => {
    const box = outbox(2);
    await box.put(entry(1));
    await box.put(entry(2));
    await expect(box.put(entry(3))).rejects.toThrow(OutboxFull);
    await expect(box.put(entry(2))).resolves.toBeUndefined();
  });

  it('drops the temporary file of an interrupted write (that notification was never acknowledged)', async () => {
    const box = outbox();
    await box.put(entry(1));
    writeFileSync(path.join(dir, 'abc.entry.1234.tmp'), 'half');
    expect(await outbox().load()).toEqual([entry(1)]);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('an entry that cannot be read back is set aside and reported; the others still load', async () => {
    await outbox().put(entry(1));
    await outbox().put(entry(2));
    const [victim] = readdirSync(dir).sort();
    writeFileSync(path.join(dir, victim!), Buffer.from('not a payload'));
    const reported: string[] = [];
    const loaded = await outbox().load((file) => reported.push(path.basename(file)));
    expect(loaded).toHaveLength(1);
    expect(reported).toEqual([`${victim}.unreadable`]);
    expect(readdirSync(dir)).toHaveLength(2);
    expect(readdirSync(dir)).toContain(`${victim}.unreadable`);
  });

  it('puts at the same time share directory flushes, and none resolves before a flush that saw its entry', async () => {
    /** Records, for each directory flush, the entries on disk when it started and whether it has finished. */
    class FlushRecordingOutbox extends NotificationOutbox {
      readonly flushes: Array<{ saw: Set<string>; finished: boolean }> = [];
      protected override async syncDir(): Promise<void> {
        const flush = { saw: new Set(readdirSync(dir).filter((f) => f.endsWith('.entry'))), finished: false };
        this.flushes.push(flush);
        await super.syncDir();
        flush.finished = true;
      }
    }
    const box = new FlushRecordingOutbox({ dir, dataConverter: converter(), maxEntries: 100 });
    // The on-disk name of an entry: a hash of its key (src/webhook/outbox.ts).
    const fileOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 40) + '.entry';
    const unflushed: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const e = entry(i);
        await box.put(e);
        // Durable when it resolves: a finished flush started after its rename.
        if (!box.flushes.some((f) => f.finished && f.saw.has(fileOf(e.key)))) unflushed.push(e.key);
      }),
    );
    expect(unflushed).toEqual([]);
    expect(box.flushes.length).toBeGreaterThanOrEqual(1);
    expect(box.flushes.length).toBeLessThan(40);
    expect(await outbox().load()).toHaveLength(40);

    // One at a time, each put has a flush of its own.
    const before = box.flushes.length;
    for (const i of [40, 41, 42]) await box.put(entry(i));
    expect(box.flushes.length - before).toBe(3);
  });

  it('a missing directory is an empty outbox', async () => {
    expect(
      await new NotificationOutbox({ dir: path.join(dir, 'none'), dataConverter: converter(), maxEntries: 1 }).load(),
    ).toEqual([]);
  });
});

class MemoryOrphans implements OrphanSink {
  readonly records: OrphanRecord[] = [];
  async record(r: OrphanRecord) {
    this.records.push(r);
  }
  recent() {
    return this.records;
  }
}

const silent = pino({ level: 'silent' });

describe('OutboxRelay', () => {
  it('signals oldest first, never more than its concurrency at once, and empties the outbox', async () => {
    const box = outbox();
    for (let i = 0; i < 10; i++) await box.put(entry(i));
    let inFlight = 0;
    let peak = 0;
    const order: string[] = [];
    const relayed: string[] = [];
    const relay = new OutboxRelay({
      outbox: box,
      async signal(e) {
        order.push(e.key);
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return { kind: 'signalled' };
      },
      orphans: new MemoryOrphans(),
      concurrency: 3,
      maxBackoffMs: 1_000,
      log: silent,
      onRelayed: (outcome) => relayed.push(outcome),
    });
    await relay.start();
    await relay.idle();
    expect(order).toEqual(Array.from({ length: 10 }, (_, i) => entry(i).key));
    expect(peak).toBe(3);
    expect(relayed).toEqual(Array(10).fill('signalled'));
    expect(readdirSync(dir)).toEqual([]);
    expect(box.size).toBe(0);
  });

  it('when Temporal does not take a signal: keeps the entry, pauses, retries it first, and loses nothing', async () => {
    const box = outbox();
    const attempts: string[] = [];
    let down = true;
    const relay = new OutboxRelay({
      outbox: box,
      async signal(e): Promise<SignalOutcome> {
        attempts.push(e.key);
        if (down) throw new Error('14 UNAVAILABLE');
        return { kind: 'signalled' };
      },
      orphans: new MemoryOrphans(),
      concurrency: 1,
      maxBackoffMs: 200,
      log: silent,
    });
    for (const i of [1, 2]) {
      await box.put(entry(i));
      relay.enqueue(entry(i));
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(attempts).toEqual([entry(1).key]); // paused after the first failure
    expect(readdirSync(dir)).toHaveLength(2);
    down = false;
    await relay.idle();
    expect(attempts.slice(-2)).toEqual([entry(1).key, entry(2).key]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('records an orphan before removing its entry; a closed workflow is final too', async () => {
    const box = outbox();
    const orphans = new MemoryOrphans();
    const outcomes: Record<string, SignalOutcome> = {
      [entry(1).key]: { kind: 'orphaned' },
      [entry(2).key]: { kind: 'workflow_closed', workflowStatus: 'COMPLETED' },
    };
    const relay = new OutboxRelay({
      outbox: box,
      signal: async (e) => outcomes[e.key]!,
      orphans,
      concurrency: 2,
      maxBackoffMs: 100,
      log: silent,
    });
    for (const i of [1, 2]) await box.put(entry(i));
    await relay.start();
    await relay.idle();
    expect(orphans.records).toEqual([
      expect.objectContaining({ outRefundNo: 'R-secret-1', workflowId: 'refund:R-secret-1', requestId: 'req-1' }),
    ]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an orphan log that cannot store keeps the entry for the next try', async () => {
    const box = outbox();
    let failing = true;
    const orphans: OrphanSink = {
      async record() {
        if (failing) throw new Error('disk full');
      },
      recent: () => [],
    };
    const relay = new OutboxRelay({
      outbox: box,
      signal: async () => ({ kind: 'orphaned' }),
      orphans,
      concurrency: 1,
      maxBackoffMs: 50,
      log: silent,
    });
    await box.put(entry(1));
    relay.enqueue(entry(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(dir)).toHaveLength(1);
    failing = false;
    await relay.idle();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stop leaves what was not relayed on disk for the next run', async () => {
    const box = outbox();
    const relay = new OutboxRelay({
      outbox: box,
      signal: () => new Promise<SignalOutcome>((r) => setTimeout(() => r({ kind: 'signalled' }), 30)),
      orphans: new MemoryOrphans(),
      concurrency: 1,
      maxBackoffMs: 50,
      log: silent,
    });
    for (const i of [1, 2, 3]) {
      await box.put(entry(i));
      relay.enqueue(entry(i));
    }
    await relay.stop();
    expect((await outbox().load()).map((e) => e.key)).toEqual([entry(2).key, entry(3).key]);
  });
});
