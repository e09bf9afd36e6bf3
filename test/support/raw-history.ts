/**
 * What the Temporal server stores of a workflow, as anyone with access to its database, its backups or its API without
 * the codec reads it: `handle.fetchHistory()` returns the history exactly as stored (the SDK decodes nothing there).
 *
 * `storedPayloads` finds every Payload in it (inputs, results, signals, updates, queries' answers are not stored,
 * markers, failures' encoded attributes and details, memo, headers, user metadata), each with its path, so a test can
 * check that all are encrypted. Listed apart, as they stay in clear on purpose:
 *  - search attributes (they exist to be searched; README lists them);
 *  - the SDK core's own bookkeeping in its markers, which it writes without the codec: `core_patch` (the patch id)
 *    and `core_local_activity`'s `data` (sequence number, activity type, attempt, times). The local activity's RESULT
 *    sits beside it in `details.result` and is encrypted like any payload.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING, METADATA_KEY_ID } from '../../src/codec/encryption-codec';

export type RawHistory = temporal.api.history.v1.IHistory;

export interface StoredPayload {
  /** e.g. `events.0.workflowExecutionStartedEventAttributes.input.payloads.0` */
  path: string;
  payload: Payload;
}

export interface StoredHistory {
  history: RawHistory;
  /** Every payload outside search attributes and the SDK's marker bookkeeping. */
  payloads: StoredPayload[];
  /** Payloads of search attributes (clear by design). */
  searchAttributes: StoredPayload[];
  /** The SDK core's marker bookkeeping (clear, written by the core without the codec; no refund data). */
  sdkMarkers: StoredPayload[];
  /** Failure messages and stack traces as stored (strings, not payloads: the failure converter moves them). */
  failureTexts: string[];
}

/** `core_patch` markers' `patch-data` and `core_local_activity` markers' `data` (not their `result`). */
const SDK_MARKER_PAYLOAD = /\.markerRecordedEventAttributes\.details\.(patch-data|data)\.payloads\.\d+$/;

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** A Payload proto: `data` bytes (possibly empty) and a `metadata` map of bytes with an `encoding`. */
function isPayload(v: Record<string, unknown>): boolean {
  const metadata = v.metadata as Record<string, unknown> | undefined | null;
  return !!metadata && typeof metadata === 'object' && isBytes(metadata[METADATA_ENCODING_KEY]);
}

export function inspectHistory(history: RawHistory): StoredHistory {
  const payloads: StoredPayload[] = [];
  const searchAttributes: StoredPayload[] = [];
  const sdkMarkers: StoredPayload[] = [];
  const failureTexts: string[] = [];
  const walk = (v: unknown, path: string, inSearchAttributes: boolean): void => {
    if (v === null || v === undefined || isBytes(v) || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, `${path}.${i}`, inSearchAttributes));
      return;
    }
    const record = v as Record<string, unknown>;
    if (isPayload(record)) {
      const list = inSearchAttributes ? searchAttributes : SDK_MARKER_PAYLOAD.test(path) ? sdkMarkers : payloads;
      list.push({ path, payload: record as Payload });
      return;
    }
    for (const [key, value] of Object.entries(record)) {
      if ((key === 'message' || key === 'stackTrace') && typeof value === 'string' && path.includes('ailure')) {
        failureTexts.push(value);
      }
      walk(value, path ? `${path}.${key}` : key, inSearchAttributes || key === 'searchAttributes');
    }
  };
  walk(history, '', false);
  return { history, payloads, searchAttributes, sdkMarkers, failureTexts };
}

export async function storedHistory(handle: WorkflowHandle): Promise<StoredHistory> {
  return inspectHistory(await handle.fetchHistory());
}

export const encodingOf = (p: Payload): string => Buffer.from(p.metadata?.[METADATA_ENCODING_KEY] ?? []).toString();
export const keyIdOf = (p: Payload): string | undefined => {
  const id = p.metadata?.[METADATA_KEY_ID];
  return id ? Buffer.from(id).toString() : undefined;
};

/**
 * Everything stored outside search attributes, as text: payload bytes (metadata and data, the SDK's markers included)
 * and failure texts.
 */
export function storedText(stored: StoredHistory): string {
  const parts: string[] = [...stored.failureTexts];
  for (const { payload } of [...stored.payloads, ...stored.sdkMarkers]) {
    for (const value of Object.values(payload.metadata ?? {})) parts.push(Buffer.from(value).toString('utf8'));
    if (payload.data) parts.push(Buffer.from(payload.data).toString('utf8'));
  }
  return parts.join('\n');
}

/** Paths of the payloads that are not `binary/encrypted` (empty when everything is encrypted). */
export function unencryptedPayloads(stored: StoredHistory): string[] {
  return stored.payloads.filter((p) => encodingOf(p.payload) !== ENCRYPTED_ENCODING).map((p) => p.path);
}
