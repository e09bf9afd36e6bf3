import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_STACK_CONFIG_PATH, parseStackConfig } from '../../../src/config/stack-config';
import { stackServices } from '../../../src/stack/services';
import { lineReady, restartDelayMs, Supervisor, type ServiceSpec } from '../../../src/stack/supervisor';

/** A service run by `node -e`: small real child processes, as the stack's are. */
const node = (name: string, script: string, more: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name,
  command: process.execPath,
  args: ['-e', script],
  ...more,
});
const STAYS_UP = "console.log('up'); setInterval(() => {}, 1000);";
const fast = { initialDelayMs: 200, maxDelayMs: 1_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Supervisor', () => {
  let lines: string[];
  let supervisors: Supervisor[];
  let dir: string;

  const supervisor = () => {
    const s = new Supervisor((l) => lines.push(l));
    supervisors.push(s);
    return s;
  };
  const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
  async function waitFor(re: RegExp, times = 1, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (count(re) < times) {
      if (Date.now() > deadline) throw new Error(`no ${times}× ${re} in:\n${lines.join('\n')}`);
      await sleep(20);
    }
  }

  beforeEach(() => {
    lines = [];
    supervisors = [];
    dir = mkdtempSync(path.join(tmpdir(), 'supervisor-test-'));
  });
  afterEach(async () => {
    await Promise.all(supervisors.map((s) => s.stopAll(0)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('backs off 1 s, 2 s, 4 s … up to 30 s', () => {
    const policy = { initialDelayMs: 1_000, maxDelayMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => restartDelayMs(policy, n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('starts a restartable service again after the delay, and the rest of the stack keeps running', async () => {
    const s = supervisor();
    const sibling = await s.start(node('sibling', STAYS_UP));
    // Dies on its first run only (the marker file tells the second run apart).
    const marker = path.join(dir, 'ran-once');
    const flaky = node(
      'flaky',
      `const fs = require('fs');
       if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3); }
       ${STAYS_UP}`,
      { restart: fast },
    );
    await s.start(flaky);
    await waitFor(/\[flaky\].* exited unexpectedly \(code 3\); restarting in 200 ms \(restart 1\)$/);
    const crashedAt = Date.now();
    await waitFor(/\[flaky\].* up$/);
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(150);
    expect(s.stopped).toBe(false);
    expect(sibling.exitCode).toBeNull();
    expect(count(/stopping the stack|stopped$/)).toBe(0);
  });

  it('names the signal that killed it and restarts it (the worker killed with SIGKILL)', async () => {
    const s = supervisor();
    const worker = await s.start(node('worker', STAYS_UP, { restart: fast }));
    await waitFor(/\[worker\].* up$/);
    worker.kill('SIGKILL');
    await waitFor(/\[worker\].* exited unexpectedly \(SIGKILL\); restarting in 200 ms \(restart 1\)$/);
    await waitFor(/\[worker\].* up$/, 2);
    expect(s.stopped).toBe(false);
  });

  it('doubles the delay while it keeps crashing, up to the cap', async () => {
    const s = supervisor();
    await s.start(node('crashy', 'process.exit(1)', { restart: { initialDelayMs: 50, maxDelayMs: 200 } }));
    await waitFor(/restart 5\)$/);
    const delays = lines.filter((l) => /restarting in/.test(l)).map((l) => /restarting in (\d+) ms/.exec(l)?.[1]);
    expect(delays.slice(0, 5)).toEqual(['50', '100', '200', '200', '200']);
    expect(s.stopped).toBe(false);
  });

  it('goes back to the first delay after a run that lasted resetAfterMs', async () => {
    const s = supervisor();
    const restart = { initialDelayMs: 50, maxDelayMs: 1_000, resetAfterMs: 200 };
    await s.start(node('steady', 'setTimeout(() => process.exit(1), 400)', { restart }));
    await waitFor(/restart 3\)$/);
    expect(count(/restarting in 50 ms/)).toBe(3);
  });

  it('stops the whole stack when a service without a restart policy dies, as before', async () => {
    const s = supervisor();
    const other = await s.start(node('worker', STAYS_UP, { restart: fast }));
    await s.start(node('temporal', 'setTimeout(() => process.exit(7), 200)'));
    await expect(s.done).resolves.toBe(1);
    expect(lines).toContainEqual(
      expect.stringMatching(/\[temporal\].* exited unexpectedly \(code 7\); stopping the stack$/),
    );
    expect(lines).toContain('worker stopped');
    expect(other.exitCode !== null || other.signalCode !== null).toBe(true);
    expect(count(/restarting/)).toBe(0);
  });

  it('stops the stack when a restartable service dies before it was ready (a start-up failure)', async () => {
    const s = supervisor();
    const spec = node('worker', "console.error('bad config'); process.exit(2)", {
      restart: fast,
      ready: lineReady(/polling/),
    });
    await expect(s.start(spec)).rejects.toThrow(/worker: exited with code 2 before it was ready/);
    await expect(s.done).resolves.toBe(1);
    expect(count(/restarting/)).toBe(0);
  });

  it('a shutdown stops restartable services and never restarts them', async () => {
    const s = supervisor();
    await s.start(node('worker', STAYS_UP, { restart: fast }));
    await waitFor(/\[worker\].* up$/);
    await expect(s.stopAll(0)).resolves.toBe(0);
    await sleep(500); // longer than the restart delay
    expect(lines).toContain('worker stopped');
    expect(count(/restarting|unexpectedly/)).toBe(0);
    expect(count(/\[worker\].* up$/)).toBe(1);
  });

  it('SIGTERM stops everything, and a restart that was pending is called off', async () => {
    const s = supervisor();
    await s.start(node('webhook', STAYS_UP));
    await s.start(
      node('crashy', "console.log('up'); process.exit(1)", { restart: { initialDelayMs: 400, maxDelayMs: 400 } }),
    );
    await waitFor(/\[crashy\].* restarting in 400 ms/);

    // The handler installSignalHandlers adds, called as the process would on SIGTERM (without signalling jest).
    const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    s.installSignalHandlers();
    const added = (sig: 'SIGINT' | 'SIGTERM') => process.listeners(sig).filter((l) => !before[sig].includes(l));
    const [onSigterm] = added('SIGTERM');
    for (const sig of ['SIGINT', 'SIGTERM'] as const) for (const l of added(sig)) process.removeListener(sig, l);
    (onSigterm as (sig: NodeJS.Signals) => void)('SIGTERM');

    await expect(s.done).resolves.toBe(0);
    expect(lines).toContain('received SIGTERM: stopping the stack');
    expect(lines).toContain('webhook stopped');
    await sleep(700); // past the restart that was due
    expect(count(/\[crashy\].* up$/)).toBe(1);
  });

  it('the dev stack restarts its worker, webhook, API, codec server and event receiver, not the simulator', () => {
    const services = stackServices(parseStackConfig(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8')));
    const restart = Object.fromEntries(services.map((sv) => [sv.name, sv.spec.restart]));
    expect(restart.worker).toEqual({ initialDelayMs: 1_000, maxDelayMs: 30_000, resetAfterMs: 60_000 });
    // The shipped file enables them all.
    expect(Object.keys(restart)).toEqual(['codec', 'simulator', 'webhook', 'events', 'worker', 'api']);
    expect(restart.codec).toEqual(restart.worker);
    expect(restart.webhook).toEqual(restart.worker);
    expect(restart.api).toEqual(restart.worker);
    expect(restart.events).toEqual(restart.worker);
    expect(restart.simulator).toBeUndefined();
  });
});
