/**
 * Recording of replay fixtures. Run a workflow test file with RECORD_HISTORIES=1 and every test that calls
 * `recordHistory(name, handle)` writes the finished (or current) history to test/fixtures/histories/<name>.json.
 * Commit those files: test/replay/replay.test.ts replays them against the current workflow code, so a change that
 * would break running workflows (non-determinism) fails CI.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJson } from './history-json';
import { REPO_ROOT } from '../harness/paths';

export const HISTORIES_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'histories');

export function recordingEnabled(): boolean {
  return process.env.RECORD_HISTORIES === '1';
}

export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (!recordingEnabled()) return;
  const history = await handle.fetchHistory();
  mkdirSync(HISTORIES_DIR, { recursive: true });
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), JSON.stringify(historyToJson(history), null, 1) + '\n');
}
