import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const WORKFLOWS_PATH = path.join(REPO_ROOT, 'src', 'workflows', 'index.ts');
/** Screenshots, server logs and other artifacts of a test run (git-ignored). */
export const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output');

export const ENV = {
  devServerAddress: 'WXREFUND_TEST_TEMPORAL_ADDRESS',
  namespace: 'WXREFUND_TEST_TEMPORAL_NAMESPACE',
  workflowBundle: 'WXREFUND_TEST_WORKFLOW_BUNDLE',
} as const;

/**
 * The payload key ring of every test run (WXREFUND_PAYLOAD_KEYS, set by global setup unless the caller set one).
 * TEST-ONLY, committed on purpose: histories recorded under it (test/fixtures/histories) must replay in every later
 * run and on every machine, so it cannot be random. It protects nothing and must never be used outside tests.
 */
export const TEST_PAYLOAD_KEY_ID = 'test1';
export const TEST_PAYLOAD_KEYS = `${TEST_PAYLOAD_KEY_ID}:AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=`;
