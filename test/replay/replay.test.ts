/**
 * Replays every recorded history in test/fixtures/histories/ against the current workflow code. A change that
 * would make running refunds or ledgers non-deterministic (reordered commands, a removed timer, …) fails here
 * instead of in production. Intentional changes go behind `patched()`; re-record with RECORD_HISTORIES=1.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJson } from './history-json';
import { workflowBundle } from '../harness/temporal';
import { HISTORIES_DIR } from './record';

const files = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('fixtures cover the refund and ledger paths', () => {
  const names = files.map((f) => path.basename(f, '.json'));
  expect(names.filter((n) => n.startsWith('refund-')).length).toBeGreaterThanOrEqual(8);
  expect(names.filter((n) => n.startsWith('ledger-')).length).toBeGreaterThanOrEqual(2);
});

test('every recorded history replays without non-determinism', async () => {
  const histories = files.map((file) => ({
    workflowId: path.basename(file, '.json'),
    history: historyFromJson(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))),
  }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(histories.length).toBe(files.length);
}, 60_000);
