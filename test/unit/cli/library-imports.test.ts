/**
 * Libraries load no program code: an order service that imports the refund library (src/starter.ts) gets neither a
 * CLI, nor the YAML loader, nor the dev stack's configuration (stack-config.ts, the simulator's and the webhook's config
 * schemas). Checked on the real module graph: a fresh Node process loads the library the way an order service does and
 * reports every module it loaded.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/paths';

jest.setTimeout(60_000);

/** Every file a fresh process has loaded after requiring `entry` (TypeScript source through ts-node, as npm scripts do). */
function modulesLoadedBy(entry: string): string[] {
  const script = `require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  return (JSON.parse(out) as string[]).map((f) => path.relative(REPO_ROOT, f).split(path.sep).join('/'));
}

const FORBIDDEN: Array<[string, RegExp]> = [
  ['the YAML loader', /^node_modules\/yaml\//],
  ['the stack file loader', /^src\/config\/stack-config\.ts$/],
  ['program code', /^src\/cli\//],
  ["the simulator's config", /^src\/simulator\/config\.ts$/],
  ["the webhook's config", /^src\/webhook\/config\.ts$/],
];

describe('the refund library (src/starter.ts)', () => {
  const loaded = modulesLoadedBy(path.join(REPO_ROOT, 'src', 'starter.ts'));

  it('is what was loaded (the check sees the real graph)', () => {
    expect(loaded).toContain('src/starter.ts');
    expect(loaded).toContain('src/workflows/definitions.ts');
    expect(loaded.some((f) => f.startsWith('node_modules/@temporalio/client/'))).toBe(true);
  });

  it.each(FORBIDDEN)('does not load %s', (_what, pattern) => {
    expect(loaded.filter((f) => pattern.test(f))).toEqual([]);
  });
});
