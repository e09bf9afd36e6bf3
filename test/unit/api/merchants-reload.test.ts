/**
 * `npm run api` knows the deployment's merchants through the registry (src/config/api-settings.ts) and follows its
 * file: a merchant added there is accepted without a restart; a broken file keeps the merchants it had, and says why.
 * Run on a copy of the local stack file, whose `merchants:` section is the local registry.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chooseMerchant } from '../../../src/api/merchant-choice';
import { apiSettingsFromStackFile, followMerchants } from '../../../src/config/api-settings';
import { REPO_ROOT } from '../../harness/paths';

const ADDED = '1900000777';

let dir: string;
let stackFile: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'api-merchants-'));
  stackFile = path.join(dir, 'temporal-dev.yml');
  copyFileSync(path.join(REPO_ROOT, 'temporal-dev.yml'), stackFile);
  env = { WXREFUND_STACK_CONFIG: stackFile };
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function until(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; !check();) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("the API's merchants are the stack's registry, and follow its file", async () => {
  const settings = apiSettingsFromStackFile(env);
  expect(settings.merchantsWatchPath).toBe(stackFile);
  expect(settings.merchants.defaultMchid).toBe('1900000109');

  const lines: string[] = [];
  const log = {
    info: (_f: object, m: string) => lines.push(`info ${m}`),
    error: (f: object, m: string) => lines.push(`error ${m} ${JSON.stringify(f)}`),
  };
  const followed = followMerchants(settings, log, env);
  try {
    expect(() => chooseMerchant(followed.merchants(), { mchid: ADDED })).toThrow('no merchant 1900000777');

    const original = readFileSync(stackFile, 'utf8');
    writeFileSync(
      stackFile,
      original.replace(
        /^merchants:\n/m,
        `merchants:\n  - { mchid: "${ADDED}", apiVersion: v3, credentials: simulator }\n`,
      ),
    );
    await until(() => followed.merchants().get(ADDED) !== undefined, 'the added merchant');
    expect(chooseMerchant(followed.merchants(), { mchid: ADDED }).scope).toEqual({ mchid: ADDED });
    expect(lines).toContain('info merchant registry reloaded');

    // A broken registry (two defaults) is refused; the merchants the API had stay.
    writeFileSync(
      stackFile,
      original.replace(
        /^merchants:\n/m,
        `merchants:\n  - { mchid: "${ADDED}", default: true, credentials: simulator }\n`,
      ),
    );
    await until(() => lines.some((l) => l.startsWith('error merchant registry not reloaded')), 'the refusal');
    expect(followed.merchants().get(ADDED)).toBeDefined();
    expect(followed.merchants().defaultMchid).toBe('1900000109');
  } finally {
    followed.close();
  }
});
