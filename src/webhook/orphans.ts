/**
 * Notifications for refunds we have no workflow for. WeChat's retries cannot fix that, so we acknowledge them, but
 * only after this record is on disk: an operator reconciles from it (reference §4.5 "persist as orphan, alert").
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { RefundAmounts, RefundNotification } from '../wechatpay/gateway';

/** Everything needed to find the refund at WeChat and in our books; deliberately no recipient account text. */
export interface OrphanRecord {
  recordedAt: string;
  requestId: string;
  workflowId: string;
  notificationId: string;
  apiVersion: 'v3' | 'v2';
  mchid: string;
  subMchid?: string;
  outRefundNo: string;
  outTradeNo: string;
  transactionId: string;
  refundId: string;
  status: RefundNotification['status'];
  amounts: RefundAmounts;
  successTime?: string;
  receivedAt: string;
}

export function orphanRecordOf(
  n: RefundNotification,
  ctx: { requestId: string; workflowId: string; now: Date },
): OrphanRecord {
  return {
    recordedAt: ctx.now.toISOString(),
    requestId: ctx.requestId,
    workflowId: ctx.workflowId,
    notificationId: n.notificationId,
    apiVersion: n.apiVersion,
    mchid: n.mchid,
    ...(n.subMchid !== undefined ? { subMchid: n.subMchid } : {}),
    outRefundNo: n.outRefundNo,
    outTradeNo: n.outTradeNo,
    transactionId: n.transactionId,
    refundId: n.refundId,
    status: n.status,
    amounts: n.amounts,
    ...(n.successTime !== undefined ? { successTime: n.successTime } : {}),
    receivedAt: n.receivedAt,
  };
}

export interface OrphanSink {
  /** Resolves only once the record is durable; rejects if it could not be stored (the caller answers 5xx). */
  record(entry: OrphanRecord): Promise<void>;
  /** The most recent records written by this process (newest last), for tests and the dev console. */
  recent(): readonly OrphanRecord[];
}

/** Appends one JSON line per orphan; the file is only ever appended to, never rewritten. */
export class JsonlOrphanLog implements OrphanSink {
  private readonly memory: OrphanRecord[] = [];
  private dirReady: Promise<unknown> | undefined;
  /** Appends are chained so concurrent orphans never interleave within a line. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly filePath: string,
    private readonly keepInMemory = 1000,
  ) {}

  record(entry: OrphanRecord): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    const write = this.tail.then(async () => {
      this.dirReady ??= mkdir(path.dirname(this.filePath), { recursive: true });
      await this.dirReady;
      await appendFile(this.filePath, line, { encoding: 'utf8', flush: true });
      this.memory.push(entry);
      if (this.memory.length > this.keepInMemory) this.memory.shift();
    });
    // A failed append must not poison the chain for later records.
    this.tail = write.catch(() => undefined);
    return write;
  }

  recent(): readonly OrphanRecord[] {
    return this.memory;
  }
}
