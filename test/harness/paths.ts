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
