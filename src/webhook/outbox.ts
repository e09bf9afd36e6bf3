/**
 * The webhook's outbox: verified notifications it acknowledged to WeChat before Temporal took them. When a burst of
 * settlements (or a Temporal outage) leaves no time to signal within WeChat's 5 s answer budget, answering 503 makes
 * WeChat deliver again and again (4.6 deliveries per notification when 2,000 refunds settled at once, bench 5); instead
 * the notification is written here, durably, and answered 200; outbox-relay.ts signals it when Temporal can take it.
 *
 * One file per notification, named by a hash of its merchant and notification id (so a redelivery overwrites its own
 * entry instead of adding one), written the maildir way: to a temporary name, flushed, renamed, and the directory
 * flushed, so a crash leaves the whole entry or none. The entry is a Temporal payload made by the client's own data
 * converter: with payload encryption on (docs/encryption.md), the outbox is encrypted at rest with the same keys as
 * Temporal's history; it holds what the signal would carry (amounts, the recipient account text).
 *
 * If the disk is lost with entries on it, those refunds still settle: every refund in PROCESSING polls WeChat on its
 * own schedule (README, "How a refund runs"), so the outbox shortens the wait, it is not the only path.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedDataConverter, Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { RefundNotification } from '../wechatpay/gateway';

const ENTRY_SUFFIX = '.entry';
const TEMP_SUFFIX = '.tmp';
/** An entry that could not be read back (e.g. its payload key was retired): kept for an operator, never retried. */
const UNREADABLE_SUFFIX = '.unreadable';

export interface OutboxEntry {
  /** `<mchid>:<notification id>`: the webhook's duplicate key, also the entry's identity on disk. */
  key: string;
  /** The refund workflow to signal. */
  workflowId: string;
  notification: RefundNotification;
  /** The request that brought it (log correlation). */
  requestId: string;
  storedAt: string;
}

export class OutboxFull extends Error {
  override readonly name = 'OutboxFull';
}

/** The payload converter, then each codec in order (as the client encodes a signal's argument). */
async function encodeEntry(converter: LoadedDataConverter, entry: OutboxEntry): Promise<Payload> {
  let payloads = [converter.payloadConverter.toPayload(entry)];
  for (const codec of converter.payloadCodecs) payloads = await codec.encode(payloads);
  return payloads[0]!;
}

async function decodeEntry(converter: LoadedDataConverter, payload: Payload): Promise<OutboxEntry> {
  let payloads = [payload];
  for (const codec of [...converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  return converter.payloadConverter.fromPayload<OutboxEntry>(payloads[0]!);
}

function fileNameOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 40) + ENTRY_SUFFIX;
}

export interface NotificationOutboxOptions {
  dir: string;
  /** The Temporal client's loaded data converter: entries are encoded (and encrypted) exactly like signal payloads. */
  dataConverter: LoadedDataConverter;
  /** Entries kept at most; past it `put` refuses (the caller answers 503 as without an outbox). */
  maxEntries: number;
}

export class NotificationOutbox {
  private readonly keys = new Set<string>();
  private dirReady: Promise<unknown> | undefined;
  /** The directory flush under way, and the one queued behind it (flushDir). */
  private runningDirFlush: Promise<void> | undefined;
  private queuedDirFlush: Promise<void> | undefined;

  constructor(private readonly opts: NotificationOutboxOptions) {}

  get dir(): string {
    return this.opts.dir;
  }

  /** Entries stored and not yet removed, as this process knows them (`load` first after a start). */
  get size(): number {
    return this.keys.size;
  }

  /** Resolves once the entry is on disk (file and directory flushed); rejects when full or the write failed. */
  async put(entry: OutboxEntry): Promise<void> {
    if (!this.keys.has(entry.key) && this.keys.size >= this.opts.maxEntries) {
      throw new OutboxFull(`outbox holds ${this.keys.size} entries (webhook.outbox.maxEntries)`);
    }
    this.dirReady ??= mkdir(this.opts.dir, { recursive: true });
    await this.dirReady;
    const payload = await encodeEntry(this.opts.dataConverter, entry);
    const bytes = temporal.api.common.v1.Payload.encode(payload).finish();
    const final = path.join(this.opts.dir, fileNameOf(entry.key));
    const temp = `${final}.${randomUUID()}${TEMP_SUFFIX}`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, final);
    await this.flushDir();
    this.keys.add(entry.key);
  }

  /** Forgets an entry once its notification reached its workflow (or was recorded as an orphan). */
  async remove(key: string): Promise<void> {
    await rm(path.join(this.opts.dir, fileNameOf(key)), { force: true });
    this.keys.delete(key);
  }

  /**
   * Every entry on disk, oldest first (after a restart: what the last process acknowledged and had not signalled).
   * Leftover temporary files of an interrupted write are deleted: their notification was never acknowledged. An entry
   * that cannot be read is renamed `*.unreadable` and reported through `onUnreadable`, so one bad file neither stops
   * the webhook from starting nor is retried for ever; its refund still settles by its polls.
   */
  async load(onUnreadable: (file: string, err: Error) => void = () => undefined): Promise<OutboxEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: OutboxEntry[] = [];
    for (const name of names) {
      const file = path.join(this.opts.dir, name);
      if (name.endsWith(TEMP_SUFFIX)) {
        await rm(file, { force: true });
        continue;
      }
      if (!name.endsWith(ENTRY_SUFFIX)) continue;
      let entry: OutboxEntry;
      try {
        entry = await decodeEntry(this.opts.dataConverter, temporal.api.common.v1.Payload.decode(await readFile(file)));
      } catch (err) {
        await rename(file, `${file}${UNREADABLE_SUFFIX}`);
        onUnreadable(`${file}${UNREADABLE_SUFFIX}`, err as Error);
        continue;
      }
      entries.push(entry);
      this.keys.add(entry.key);
    }
    return entries.sort((a, b) => a.storedAt.localeCompare(b.storedAt));
  }

  /**
   * A rename is durable only once its directory is flushed too. Puts at the same time share the flush (a group
   * commit): a flush that starts after a rename covers it, so a put joins the flush queued behind the running one, or
   * queues one. A burst of deferred notifications then costs a few directory flushes instead of one each, on the
   * same 4 libuv threads that write the entries (bench 5: 2,000 settled at once).
   */
  private flushDir(): Promise<void> {
    if (this.queuedDirFlush) return this.queuedDirFlush;
    const queued = (this.runningDirFlush ?? Promise.resolve())
      .catch(() => undefined) // that flush's failure is its own puts'
      .then(() => {
        this.queuedDirFlush = undefined;
        const running = this.syncDir();
        this.runningDirFlush = running;
        return running.finally(() => {
          if (this.runningDirFlush === running) this.runningDirFlush = undefined;
        });
      });
    this.queuedDirFlush = queued;
    return queued;
  }

  /** One flush of the directory (fsync of its file descriptor). */
  protected async syncDir(): Promise<void> {
    const dir = await open(this.opts.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
