import { existsSync } from 'node:fs';
import path from 'node:path';

/** Repository root (this file lives in src/config or lib/config). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

function provisioned(name: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  const p = path.join(REPO_ROOT, '.tools', 'bin', name);
  if (!existsSync(p)) {
    throw new Error(`${name} is not provisioned at ${p}: run \`npm run ensure-temporal\` (or set ${envVar})`);
  }
  return p;
}

/** The Temporal CLI (dev server + Web UI), provisioned by scripts/ensure-temporal. */
export const temporalCliPath = (): string => provisioned('temporal', 'TEMPORAL_CLI');

/** Wrapper that execs Temporal's Java time-skipping test server; takes the port as its only argument. */
export const temporalTestServerPath = (): string => provisioned('temporal-test-server', 'TEMPORAL_TEST_SERVER');
