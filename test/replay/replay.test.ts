/**
 * Replays every recorded history in test/fixtures/histories/ against the current workflow code. A change that
 * would make running refunds or ledgers non-deterministic (reordered commands, a removed timer, …) fails here
 * instead of in production. Intentional changes go behind `patched()`; re-record with RECORD_HISTORIES=1.
 *
 * Replay decodes through the run's data converter (the fixed test ring, test/harness/paths.ts): histories recorded
 * since payload encryption hold ciphertext under that key; older ones hold clear payloads, which the codec passes
 * through, so both kinds must replay, as a worker must replay both after encryption is turned on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { PAYLOAD_KEYS_ENV } from '../../src/codec/payload-keys';
import { TEST_PAYLOAD_KEY_ID } from '../harness/paths';
import { testDataConverter, workflowBundle } from '../harness/temporal';
import { inspectHistory, keyIdOf, unencryptedPayloads } from '../support/raw-history';
import { historyFromJson } from './history-json';
import { HISTORIES_DIR } from './record';

const files = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const histories = files.map((file) => ({
  workflowId: path.basename(file, '.json'),
  history: historyFromJson(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))),
}));

/** Recorded under the test ring: every payload encrypted, under its key. */
const encrypted = histories.filter(({ history }) => {
  const stored = inspectHistory(history);
  return stored.payloads.length > 0 && unencryptedPayloads(stored).length === 0;
});
const clear = histories.filter((h) => !encrypted.includes(h));

async function replayFailures(items: typeof histories, dataConverter: DataConverter): Promise<string[]> {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), dataConverter },
    items,
  )) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return failures;
}

test('fixtures cover the refund and ledger paths, recorded both before and under payload encryption', () => {
  const names = files.map((f) => path.basename(f, '.json'));
  expect(names.filter((n) => n.startsWith('refund-')).length).toBeGreaterThanOrEqual(8);
  expect(names.filter((n) => n.startsWith('ledger-')).length).toBeGreaterThanOrEqual(2);
  expect(encrypted.map((h) => h.workflowId)).toContain('refund-encrypted-success');
  for (const { history } of encrypted) {
    expect(new Set(inspectHistory(history).payloads.map((p) => keyIdOf(p.payload)))).toEqual(
      new Set([TEST_PAYLOAD_KEY_ID]),
    );
  }
  expect(clear.length).toBeGreaterThanOrEqual(10);
});

test('every recorded history replays without non-determinism (clear and encrypted ones)', async () => {
  expect(await replayFailures(histories, testDataConverter())).toEqual([]);
}, 60_000);

test('an encrypted history does not replay without its key: the workflow task fails, it does not run on nothing', async () => {
  const otherRing = testDataConverter({ [PAYLOAD_KEYS_ENV]: `other:${Buffer.alloc(32, 7).toString('base64')}` });
  const failures = await replayFailures(
    encrypted.filter((h) => h.workflowId === 'refund-encrypted-success'),
    otherRing,
  );
  expect(failures).toHaveLength(1);
  // The task failure's message (which names the missing key) is itself encrypted by the failure converter, under the
  // replaying worker's own key: readable through the codec server, not in this summary.
  expect(failures[0]).toMatch(/refund-encrypted-success: Replay failed .*(Encoded failure|not configured)/);
}, 60_000);
