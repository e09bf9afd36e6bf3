/**
 * The part of a bill download (§12) the v3 and v2 paths share: stream the reply body to a file, decompressing it when
 * it is gzip, hashing (SHA1) and counting the decompressed bytes on the way, without ever holding the bill in memory.
 * The file is written next to its destination and only renamed into place once it is accepted (v3: its SHA1 equals
 * WeChat's hash_value), so a refused or half-written bill never sits where the reconciliation would read it.
 *
 * Errors are WechatPayErrors whose class says what the caller does next. A bill download changes nothing at WeChat,
 * so a transport failure is not an "unknown outcome" as it is for a refund: it is a failed read, fetch again
 * (RetrySame). A broken file (truncated gzip, hash mismatch) is also fetched again; the local disk refusing the write
 * (permissions, full disk) and absurd sizes need a human.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { NeedsOperator, RetrySame, UnknownOutcome, WechatPayError } from './errors';
import { classifyTransportError } from './transport';

/** Error codes of the bill download, for callers that branch on them (the reconciliation workflow). */
export const BILL_ERROR_CODES = {
  /** The day's bill does not exist yet (before 10:00 Beijing time of the next day) or is being generated: later. */
  notReady: 'BILL_NOT_READY',
  /** SHA1 of the decompressed file differs from hash_value: refused, never reconciled; a retry gets a fresh URL. */
  hashMismatch: 'BILL_HASH_MISMATCH',
  /** The body is not a gzip stream it claims to be (truncated or corrupt): fetch again. */
  corrupt: 'BILL_CORRUPT',
  /** The decompressed file exceeds the size limit: nothing a retry fixes. */
  tooLarge: 'BILL_TOO_LARGE',
  /** The local file could not be written (directory, permissions, disk space). */
  writeFailed: 'BILL_WRITE_FAILED',
} as const;

/** No refund bill comes near this; a bigger stream is a gzip bomb or the wrong file, and it would fill the disk. */
export const MAX_BILL_BYTES = 2 * 1024 ** 3;

/** Whole-download deadline. The pool's body timeout catches a stalled stream; this bounds a slow one. */
export const BILL_DOWNLOAD_DEADLINE_MS = 10 * 60_000;

const GZIP_MAGIC = [0x1f, 0x8b];

export interface PeekedBody {
  /** The first bytes of the body (at least `n` unless the body is shorter). */
  head: Buffer;
  /** The whole body, `head` included, as one stream. */
  body: AsyncIterable<Buffer>;
}

/**
 * Read the first `n` bytes of a stream without losing them, so the caller can tell gzip from text (and, for v2, an
 * XML failure from a bill) before choosing how to read the rest. Transport errors are classified here, at the
 * source, so that later stages can tell them from decompression and disk errors.
 */
export async function peekBody(source: AsyncIterable<Buffer | Uint8Array>, n: number): Promise<PeekedBody> {
  const it = source[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await readClassified(it);
    if (r.done) {
      done = true;
      break;
    }
    held.push(r.value);
    size += r.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* held;
    if (done) return;
    for (;;) {
      const r = await readClassified(it);
      if (r.done) return;
      yield r.value;
    }
  }
  return { head: Buffer.concat(held), body: all() };
}

async function readClassified(
  it: AsyncIterator<Buffer | Uint8Array>,
): Promise<{ done: true } | { done: false; value: Buffer }> {
  try {
    const r = await it.next();
    if (r.done) return { done: true };
    return { done: false, value: Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value) };
  } catch (e) {
    throw asReadFailure(e);
  }
}

/** A transport failure while reading a bill: a failed read (RetrySame), unless it needs a human (TLS certificates). */
export function asReadFailure(e: unknown): WechatPayError {
  const err = e instanceof WechatPayError ? e : classifyTransportError(e);
  if (!(err instanceof UnknownOutcome)) return err;
  return new RetrySame({ code: err.code, message: `bill download failed: ${err.message}`, cause: e });
}

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

export interface WrittenBill {
  path: string;
  sha1: string;
  bytes: number;
}

export interface WriteBillOptions {
  destFile: string;
  /** Override for tests. */
  maxBytes?: number;
  /** Decide on the decompressed file's digest before it is moved into place; an error refuses it (file removed). */
  accept?: (digest: { sha1: string; bytes: number }) => WechatPayError | undefined;
}

/**
 * Stream `peeked` (gzip or plain, told by its first bytes rather than by a header a proxy may change) to
 * `destFile`, decompressed, replacing it only when `accept` agrees. The parent directory is created if needed.
 */
export async function writeBillFile(peeked: PeekedBody, opts: WriteBillOptions): Promise<WrittenBill> {
  const dest = path.resolve(opts.destFile);
  const maxBytes = opts.maxBytes ?? MAX_BILL_BYTES;
  const temp = `${dest}.${randomBytes(6).toString('hex')}.part`;
  const hash = createHash('sha1');
  let bytes = 0;
  const digestTap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        done(
          new NeedsOperator({
            code: BILL_ERROR_CODES.tooLarge,
            message: `decompressed bill exceeds ${maxBytes} bytes; refused`,
          }),
        );
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await mkdir(path.dirname(dest), { recursive: true });
    const out = createWriteStream(temp, { flags: 'wx' });
    if (isGzip(peeked.head)) await pipeline(peeked.body, createGunzip(), digestTap, out);
    else await pipeline(peeked.body, digestTap, out);
  } catch (e) {
    await discard(temp);
    throw classifyWriteFailure(e, dest);
  }
  const digest = { sha1: hash.digest('hex'), bytes };
  const refusal = opts.accept?.(digest);
  if (refusal) {
    await discard(temp);
    throw refusal;
  }
  try {
    await rename(temp, dest);
  } catch (e) {
    await discard(temp);
    throw classifyWriteFailure(e, dest);
  }
  return { path: dest, ...digest };
}

/** Remove a temporary file; a failure here (e.g. its directory never existed) must not hide the real error. */
async function discard(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined);
}

function classifyWriteFailure(e: unknown, dest: string): WechatPayError {
  if (e instanceof WechatPayError) return e;
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && err.code.startsWith('Z_')) {
    return new RetrySame({
      code: BILL_ERROR_CODES.corrupt,
      message: `bill body is not valid gzip (${err.code}: ${err.message})`,
      cause: e,
    });
  }
  if (typeof err?.syscall === 'string') {
    return new NeedsOperator({
      code: BILL_ERROR_CODES.writeFailed,
      message: `cannot write the bill to ${dest}: ${err.code ?? ''} ${err.message}`.trim(),
      cause: e,
    });
  }
  // Neither a zlib nor a file-system error: the stream was cut (e.g. the deadline fired while piping).
  return asReadFailure(e);
}
