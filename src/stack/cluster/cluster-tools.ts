/**
 * The cluster's programs and schema files, provisioned by scripts/ensure-temporal-server into .tools/ (not by
 * `npm test`'s pretest: only the cluster lane needs them, and a cold build takes minutes).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../config/tools';

const TOOLS = path.join(REPO_ROOT, '.tools');
const HOW = 'run `bash scripts/ensure-temporal-server`';

function provisioned(p: string): string {
  if (!existsSync(p)) throw new Error(`${path.relative(REPO_ROOT, p)} is not provisioned: ${HOW}`);
  return p;
}

export const temporalServerPath = (): string => provisioned(path.join(TOOLS, 'bin', 'temporal-server'));
export const temporalSqlToolPath = (): string => provisioned(path.join(TOOLS, 'bin', 'temporal-sql-tool'));
/** Optional: without it the cluster runs without a Web UI. */
export const temporalUiServerPath = (): string | undefined => {
  const p = path.join(TOOLS, 'bin', 'temporal-ui-server');
  return existsSync(p) ? p : undefined;
};

/** The versioned PostgreSQL schema of the server's version: `temporal` or `visibility`. */
export const versionedSchemaDir = (store: 'temporal' | 'visibility'): string =>
  provisioned(path.join(TOOLS, 'temporal-server-schema', 'postgresql', 'v12', store, 'versioned'));
