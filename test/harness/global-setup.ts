/**
 * Once per `jest` run: start one real Temporal dev server (in memory, headless, on a free port, with the project's
 * search attributes from temporal-dev.yml) and bundle the workflow code once. Test files find both through env vars
 * set here (jest passes the parent's env to its workers).
 */
import { existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadStackConfig } from '../../src/config/stack-config';
import { startDevServer, type DevServerHandle } from '../../src/stack/dev-server';
import { freePort } from '../../src/stack/free-port';
import { PAYLOAD_ENCRYPTION_ENV, PAYLOAD_KEYS_ENV } from '../../src/codec/payload-keys';
import { ENV, WORKFLOWS_PATH, OUTPUT_DIR, TEST_PAYLOAD_KEYS } from './paths';
import { bundleQuietly } from './temporal';
import { FIGURES_FILE } from '../reliability/support/report';

declare global {
  var __WXREFUND_DEV_SERVER__: DevServerHandle | undefined;
}

export default async function globalSetup(): Promise<void> {
  // First: every jest worker and every child process (reliability workers, the demo and bench stacks) inherits this
  // env, so all of them encrypt and decrypt with the one fixed test ring. A run with WXREFUND_PAYLOAD_ENCRYPTION=off
  // gets no ring (keys and off together are refused by loadPayloadKeys).
  if (process.env[PAYLOAD_ENCRYPTION_ENV]?.trim().toLowerCase() !== 'off') {
    process.env[PAYLOAD_KEYS_ENV] ??= TEST_PAYLOAD_KEYS;
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  rmSync(FIGURES_FILE, { force: true }); // this run's reliability figures only
  const cfg = loadStackConfig();

  if (!process.env[ENV.devServerAddress]) {
    const port = await freePort();
    const log = openSync(path.join(OUTPUT_DIR, 'temporal-dev-server.log'), 'w');
    const server = await startDevServer(
      { ...cfg.temporal, port },
      { ui: false, inMemory: true, stdio: log, readyTimeoutMs: 90_000 },
    );
    globalThis.__WXREFUND_DEV_SERVER__ = server;
    process.env[ENV.devServerAddress] = server.address;
    process.env[ENV.namespace] = server.namespace;
  }

  removeBundlesOfEndedRuns();
  if (!process.env[ENV.workflowBundle] && existsSync(WORKFLOWS_PATH)) {
    const { code } = await bundleQuietly(WORKFLOWS_PATH);
    // One file per jest run: two runs side by side (a developer's and a hook's) must not read each other's half-written
    // bundle. The teardown removes it.
    const file = path.join(OUTPUT_DIR, `workflow-bundle-${process.pid}.js`);
    writeFileSync(file, code);
    process.env[ENV.workflowBundle] = file;
  }
}

/** A run that was killed never reached its teardown: its bundle file stays behind unless a later run removes it. */
function removeBundlesOfEndedRuns(): void {
  for (const name of readdirSync(OUTPUT_DIR)) {
    const pid = Number(/^workflow-bundle-(\d+)\.js$/.exec(name)?.[1]);
    if (!pid || isRunning(pid)) continue;
    rmSync(path.join(OUTPUT_DIR, name), { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
