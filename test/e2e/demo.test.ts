/**
 * `npm run demo -- --exit` end to end: the README's promise that the demo shows every refund path on the embedded
 * stack and exits 0 only when each reached its expected end. Runs the real launcher (dev server with Web UI,
 * simulator, webhook, stand-in event receiver, worker, HTTP API as child processes) on free ports through a temporary copy of temporal-dev.yml.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeStackConfigVariant } from '../../src/config/stack-file';
import { freePort } from '../../src/stack/free-port';
import { REPO_ROOT } from '../harness/paths';

jest.setTimeout(9 * 60_000);

let dir: string;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('walks every refund path to its expected end and exits 0', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'wxrefund-demo-'));
  const [grpc, ui, sim, simV2, hook, api, receiver, codec] = await Promise.all(
    [1, 2, 3, 4, 5, 6, 7, 8].map(() => freePort()),
  );
  const stackFile = path.join(dir, 'stack.yml');
  writeStackConfigVariant(stackFile, {
    'temporal.port': grpc,
    'temporal.uiPort': ui,
    'temporal.dbFile': path.join(dir, 'temporal.sqlite'),
    'worker.metricsPort': 0,
    'simulator.port': sim,
    'simulator.v2.port': simV2,
    'simulator.keysDir': path.join(dir, 'keys'),
    'webhook.port': hook,
    'webhook.publicBaseUrl': `http://127.0.0.1:${hook}`,
    'webhook.orphanLogPath': path.join(dir, 'orphans.jsonl'),
    // The API's dev key and the events' signing secret are made beside the stack file, in `dir`.
    'api.port': api,
    'events.url': `http://127.0.0.1:${receiver}/refund-events`,
    // The codec server the Web UI decodes through; the payload key file is made beside the stack file too.
    'codec.server.port': codec,
  });

  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'src', 'cli', 'demo.ts'), '--exit'],
      { cwd: REPO_ROOT, env: { ...process.env, WXREFUND_STACK_CONFIG: stackFile }, maxBuffer: 64 * 1024 * 1024 },
      (err, out) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: out }),
    );
  });
  const summary = stdout.slice(stdout.lastIndexOf('summary:'));
  if (code !== 0) console.log(stdout.slice(-6000));
  expect(code).toBe(0);
  expect(summary).toContain('all 10 paths reached their expected end.');
  for (const name of [
    'balance-instant',
    'bank-card-days',
    'notification-lost',
    'system-error-retried',
    'closed',
    'abnormal-operator',
    'v2-merchant',
    'partner-sub-merchant',
    'cap-50-rejected',
    'paid-total-rejected',
  ]) {
    expect(summary).toMatch(new RegExp(`✔ ${name}`));
  }
  expect(stdout).toMatch(
    /operator: abnormal refund \S+ handed to WeChat \(USER_BANK_CARD card \*\*\*\*5678, encrypted\)/,
  );
  expect(stdout).toContain('"ok":true'); // the simulator's invariant report

  // The day's reconciliation against WeChat's refund bills: this run's refunds all matched, the one made in the
  // merchant portal flagged, on all three merchants (v3, v2, a provider's sub-merchant).
  const reconciliation = summary.slice(summary.indexOf("reconciliation against WeChat's refund bills"));
  expect(reconciliation).toMatch(/✔ \S+PORTAL-1 \(made in the merchant portal\) flagged: missing locally/);
  expect(reconciliation).toContain('✔ every refund of this run that reached WeChat matched');
  for (const merchant of ['1900000109 ', '1900000110 ', '1900000100/1900000201']) {
    expect(reconciliation).toContain(`  ${merchant}`);
  }
  expect(reconciliation).not.toMatch(/earlier demo runs/);
  // The portal refund is an open finding: the order service got the day's alert as a signed event.
  expect(reconciliation).toMatch(
    /✔ alert event reconcile-1900000109-\d{4}-\d{2}-\d{2}:discrepancies received by the order service, signature verified/,
  );

  // The stand-in order service got each ending as a signed event, the ABNORMAL one's two (before and after the
  // operator), and the summary lists them.
  const eventLines = summary.slice(summary.indexOf('refund events received'));
  for (const [suffix, type, state] of [
    ['BAL-1', 'refund.succeeded', 'SUCCESS'],
    ['CLOSE-1', 'refund.closed', 'CLOSED'],
    ['ABN-1', 'refund.abnormal', 'ABNORMAL'],
    ['ABN-1', 'refund.succeeded', 'SUCCESS'],
  ]) {
    expect(eventLines).toMatch(
      new RegExp(`✔ refund-\\S+${suffix}:event-\\d+ +${type} +\\S+${suffix} +${state} +verified`),
    );
  }
  expect(eventLines).not.toContain('not received within');
  expect(eventLines).not.toContain('NOT verified');
});
