/**
 * `npm run demo`: the whole refund lifecycle on the embedded stack.
 *
 * Starts what temporal-dev.yml describes (Temporal dev server + Web UI, WeChat Pay simulator, webhook, a stand-in order
 * service receiving refund events, worker, HTTP API; their logs go to .data/demo-logs/), seeds paid orders at the
 * simulated WeChat, runs every refund path of support/demo-paths.ts through the order service's own starter, plays the
 * operator for the ABNORMAL one with the operator CLI, shows a live table, then a summary with the refund events the
 * stand-in received (support/demo-events.ts) and Web UI links. Every payload is encrypted (the stack's key file, or
 * WXREFUND_PAYLOAD_KEYS); the Web UI shows them decoded through the codec server the stack starts. The stack stays up until Ctrl-C; with `--exit` it stops and the exit code
 * says whether every path reached its expected end (non-zero, naming the paths that did not).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { PAYLOAD_ENCRYPTION_ENV } from '../codec/payload-keys';
import { loadStackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { orderWorkflowId, refundWorkflowId } from '../domain/ids';
import { formatFen } from '../domain/money';
import { SimulatorAdminClient } from '../simulator/admin-client';
import { startStack } from '../stack/start-stack';
import { Supervisor } from '../stack/supervisor';
import { RefundRejected, requestRefund } from '../starter';
import { loadProgramRegistry } from '../merchants/program-registry';
import { reconciliationEventId } from '../reconciliation/schedules';
import { statusQuery } from '../workflows/definitions';
import type { RefundStatusView } from '../workflows/types';
import {
  demoReceiverAdminUrl,
  eventTypeOf,
  missingEvents,
  receivedEventLines,
  waitForEvents,
  fetchReceivedEvents,
  type ExpectedEvent,
  type ReceivedEvent,
} from './support/demo-events';
import { demoPaths, type DemoPath } from './support/demo-paths';
import {
  freshSimulatorClock,
  portalRefund,
  reconcileDemoDay,
  reconciliationLines,
} from './support/demo-reconciliation';
import { apiAndEventsLines, codecLines } from './support/stack-summary';

const run = promisify(execFile);
const args = new Set(process.argv.slice(2));
const EXIT_AT_END = args.has('--exit');
const DEADLINE_MS = 8 * 60_000;
/** Events are delivered by their own workflows once a refund ends: how long the summary waits for the last ones. */
const EVENTS_WAIT_MS = 30_000;
/** One simulated day per 10 real seconds, so bank-card refunds settle within the demo. */
const DEMO_TIME_SCALE = 8640;

interface PathRun {
  path: DemoPath;
  outRefundNo: string;
  /** From the receipt: the workflow ID names the merchant for all but the default one (domain/ids.ts). */
  refundWorkflowId?: string;
  view?: RefundStatusView;
  rejection?: RefundRejected;
  operatorDone?: boolean;
  problem?: string;
  done: boolean;
  ok: boolean;
}

const supervisor = new Supervisor(logSink());

/** Waits (at most a minute) until WeChat has accepted every requested refund of the paths (none PENDING). */
async function acceptedByWechat(client: Client, runs: PathRun[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const r of runs.filter((x) => x.refundWorkflowId)) {
    const handle = client.workflow.getHandle(r.refundWorkflowId!);
    while (Date.now() < deadline) {
      const view = await handle.query(statusQuery).catch(() => undefined);
      if (view && view.state !== 'PENDING') break;
      await new Promise((res) => setTimeout(res, 250));
    }
  }
}

function logSink(): (line: string) => void {
  const dir = path.join(REPO_ROOT, '.data', 'demo-logs');
  mkdirSync(dir, { recursive: true });
  const file = createWriteStream(path.join(dir, 'stack.log'), { flags: 'a' });
  return (line) => file.write(`${line}\n`);
}

function evaluate(r: PathRun): void {
  const { expect } = r.path;
  if (expect.rejectedBy) {
    r.done = true;
    r.ok = r.rejection?.rule === expect.rejectedBy;
    if (!r.ok) r.problem = r.rejection ? `rejected by ${r.rejection.rule}` : 'was accepted';
    return;
  }
  const state = r.view?.state;
  if (state === 'SUCCESS' || state === 'CLOSED' || state === 'REJECTED') {
    r.done = true;
    const complaint = state !== expect.state ? `ended ${state}` : expect.check?.(r.view!);
    r.ok = complaint === undefined;
    r.problem = complaint;
  }
}

function table(runs: PathRun[], elapsedS: number): string {
  const head = `${'PATH'.padEnd(22)} ${'OUT_REFUND_NO'.padEnd(22)} ${'STATE'.padEnd(14)} ${'CHANNEL'.padEnd(15)} SUB  QRY  NTF  EXPECTED`;
  const rows = runs.map((r) => {
    const v = r.view;
    const state = r.rejection ? `REFUSED ${r.rejection.rule}` : (v?.state ?? '…');
    const expected = r.path.expect.rejectedBy ? `refused ${r.path.expect.rejectedBy}` : r.path.expect.state;
    const mark = r.done ? (r.ok ? ' ✔' : ` ✘ ${r.problem}`) : '';
    return (
      `${r.path.name.padEnd(22)} ${r.outRefundNo.padEnd(22)} ${state.padEnd(14)} ${(v?.channel ?? '').padEnd(15)} ` +
      `${String(v?.submitAttempts.length ?? '').padStart(3)}  ${String(v?.polls.length ?? '').padStart(3)}  ` +
      `${String(v?.notifications.length ?? '').padStart(3)}  ${expected}${mark}`
    );
  });
  return [`refunds after ${elapsedS}s:`, head, ...rows].join('\n');
}

interface EventsReport {
  adminUrl?: string;
  expected: ExpectedEvent[];
  received: ReceivedEvent[];
}

/** The events each refund that ended should have announced (its end state's, and ABNORMAL's before an operator). */
function expectedEvents(runs: PathRun[]): ExpectedEvent[] {
  const expected: ExpectedEvent[] = [];
  for (const r of runs.filter((x) => x.done && !x.rejection)) {
    const states = [r.operatorDone ? r.path.operator?.when : undefined, r.view?.state];
    for (const type of states.map(eventTypeOf)) if (type) expected.push({ outRefundNo: r.outRefundNo, type });
  }
  return expected;
}

async function collectEvents(cfg: ReturnType<typeof loadStackConfig>, runs: PathRun[]): Promise<EventsReport> {
  const adminUrl = demoReceiverAdminUrl(cfg);
  const expected = expectedEvents(runs);
  if (!adminUrl) return { expected, received: [] };
  return { adminUrl, expected, received: await waitForEvents(adminUrl, expected, EVENTS_WAIT_MS) };
}

function printEvents({ adminUrl, expected, received }: EventsReport, runs: PathRun[], runId: string): void {
  if (!adminUrl) {
    console.log('\nrefund events: no local stand-in receiver (events off, or events.url is a real order service)');
    return;
  }
  const order = runs.map((r) => r.outRefundNo);
  const ours = received.filter((e) => e.outRefundNo.startsWith(runId));
  // In the paths' order, each refund's events in the order they happened (the id's sequence number).
  const seq = (id: string) => Number(/:event-(\d+)$/.exec(id)?.[1] ?? 0);
  const shown = ours
    .filter((e) => order.includes(e.outRefundNo))
    .sort((a, b) => order.indexOf(a.outRefundNo) - order.indexOf(b.outRefundNo) || seq(a.id) - seq(b.id));
  console.log(`\nrefund events received by the stand-in order service (${adminUrl}):`);
  for (const line of receivedEventLines(shown)) console.log(`  ${line}`);
  if (shown.length === 0) console.log('  (none)');
  const others = ours.length - shown.length;
  if (others > 0) console.log(`  … and ${others} events of refunds the paths queued before theirs (cap path)`);
  const missing = missingEvents(expected, received);
  for (const m of missing)
    console.log(`  ⚠ not received within ${EVENTS_WAIT_MS / 1000} s: ${m.type} for ${m.outRefundNo}`);
}

/** The reconciliation alerts (signed events) the stand-in order service received, waiting up to 15 s for them. */
async function waitForAlerts(adminUrl: string, ids: string[]) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const got = (await fetchReceivedEvents(adminUrl).catch(() => [])).filter((e) => ids.includes(e.id));
    if (got.length === ids.length || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main(): Promise<number> {
  const cfg = loadStackConfig();
  supervisor.installSignalHandlers();
  // With payload encryption on, the codec encrypts the operator's bank details with the rest of the update. Only
  // when new payloads go out in clear are they sealed by the operator CLI and opened by the worker: both inherit this
  // run's sealing key. (The setting itself is checked by startStack, which refuses a bad value.)
  const encryptionMode = process.env[PAYLOAD_ENCRYPTION_ENV]?.trim().toLowerCase();
  if (encryptionMode === 'off' || encryptionMode === 'decrypt-only') {
    process.env.WXREFUND_SEAL_KEYS ??= `demo:${randomBytes(32).toString('base64')}`;
  }
  freshSimulatorClock(cfg, console.log);
  // The simulated WeChat starts frozen at real time and stays so until every refund is accepted: the day of the bill
  // the demo reconciles at the end is then the day the engine requested them (a stack start of half a minute at the
  // configured pace would otherwise carry the simulated clock hours ahead, past midnight).
  process.env.WXREFUND_SIM_TIME_SCALE = '0';
  console.log('npm run demo: starting the embedded stack (logs: .data/demo-logs/stack.log)');
  const { uiUrl, server, codecUrl, payloadEncryption } = await startStack(cfg, supervisor);
  const namespace = cfg.temporal.namespace;

  const admin = new SimulatorAdminClient(`http://${cfg.simulator.host}:${cfg.simulator.port}/__admin`);
  // Frozen while the refunds are requested, so WeChat accepts them all on one (simulated) day, the day the engine
  // requests them (the reconciliation at the end compares that day's bill); then one simulated day per 10 s.
  await admin.setTimeScale(0);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace, dataConverter: payloadEncryption.dataConverter });
  const runId = `D${Date.now().toString(36).toUpperCase()}`;
  const paths = demoPaths({ admin, runId, paidAt: new Date().toISOString() });
  // A cold, busy machine: give every request time (the order service's default is 5 s).
  // Several merchants (temporal-dev.yml merchants:): the starter must know which one is the default (domain/ids.ts).
  const { defaultMchid } = loadProgramRegistry().registry;
  const starter = { client, taskQueue: cfg.worker.taskQueue, decisionTimeoutMs: 60_000, defaultMchid };

  console.log(`\nrun ${runId}: seeding paid orders and requesting refunds through the starter (update-with-start)...`);
  const runs: PathRun[] = [];
  for (const p of paths) {
    const r: PathRun = { path: p, outRefundNo: p.refund.outRefundNo, done: false, ok: false };
    runs.push(r);
    await p.arrange?.({ admin, runId, paidAt: p.order.paidAt! }, p.refund.outRefundNo);
    for (const earlier of p.before ?? []) await requestRefund(starter, { order: p.order, refund: earlier });
    try {
      r.refundWorkflowId = (await requestRefund(starter, { order: p.order, refund: p.refund })).refundWorkflowId;
    } catch (e) {
      if (!(e instanceof RefundRejected)) throw e;
      r.rejection = e;
    }
    evaluate(r);
  }
  // A refund made in the merchant portal: the day's reconciliation must flag it (the engine never saw it).
  const portalRefundNo = await portalRefund(admin, runId, new Date().toISOString());
  await acceptedByWechat(client, runs);
  const requestedAt = (await admin.clock()).now;
  await admin.setTimeScale(DEMO_TIME_SCALE);

  const started = Date.now();
  const tty = process.stdout.isTTY;
  let lastPrinted = '';
  while (runs.some((r) => !r.done) && Date.now() - started < DEADLINE_MS && !supervisor.stopped) {
    for (const r of runs.filter((x) => !x.done && !x.rejection)) {
      r.view = r.refundWorkflowId
        ? await client.workflow
            .getHandle(r.refundWorkflowId)
            .query(statusQuery)
            .catch(() => r.view)
        : r.view;
      const op = r.path.operator;
      if (op && !r.operatorDone && r.view?.state === op.when) {
        r.operatorDone = true;
        const argv = op.argv(r.outRefundNo);
        console.log(
          `\noperator: npm run ops -- ${argv.join(' ').replace(/--bank-account \d+/, '--bank-account ****')}`,
        );
        const { stdout } = await run(
          process.execPath,
          ['-r', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'src', 'cli', 'operator.ts'), ...argv],
          { env: { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: namespace } },
        );
        console.log(`operator: ${stdout.trim()}`);
      }
      evaluate(r);
    }
    const text = table(runs, Math.round((Date.now() - started) / 1000));
    const body = text.slice(text.indexOf('\n'));
    if (tty) process.stdout.write(`\x1b[2J\x1b[H${text}\n`);
    else if (body !== lastPrinted) console.log(`\n${text}`);
    lastPrinted = body;
    await new Promise((res) => setTimeout(res, 1_000));
  }
  if (supervisor.stopped) throw new Error('the stack stopped before every path ended (see .data/demo-logs/stack.log)');
  for (const r of runs.filter((x) => !x.done)) r.problem = `still ${r.view?.state ?? 'unknown'} at the deadline`;

  const failed = runs.filter((r) => !r.ok);
  console.log(`\n${table(runs, Math.round((Date.now() - started) / 1000))}`);
  const invariants = await admin.invariants();
  console.log(
    `\nsimulated WeChat invariants (refunded ≤ paid, each out_refund_no paid once): ${JSON.stringify(invariants).slice(0, 200)}`,
  );

  // The cap path queued 50 one-fen refunds; WeChat's one-a-minute rule would take 50 minutes to submit them all.
  const cap = paths.find((p) => p.name === 'cap-50-rejected');
  if (cap) {
    await client.workflow
      .getHandle(orderWorkflowId(cap.order.outTradeNo))
      .terminate('demo finished: the queued refunds of the 50-cap path are not needed')
      .catch(() => undefined);
  }

  const events = await collectEvents(cfg, runs);
  const reconciliation = await reconcileDemoDay({
    client,
    admin,
    taskQueue: cfg.worker.taskQueue,
    runId,
    requestedAt,
    portalRefundNo,
  });
  const reconciled = reconciliation.portalFlagged && reconciliation.unexpected.length === 0;
  // The order service hears of open findings too: one signed event per merchant and day.
  const alertIds = reconciliation.results
    .filter((x) => x.counts.unresolved > 0)
    .map((x) => reconciliationEventId(x, x.billDate));
  const alerts = events.adminUrl ? await waitForAlerts(events.adminUrl, alertIds) : [];

  console.log('\nsummary:');
  for (const r of runs) {
    const amount = formatFen(r.path.refund.amountFen);
    console.log(
      `  ${r.ok ? '✔' : '✘'} ${r.path.name.padEnd(22)} ${r.path.description} (¥${amount})${r.ok ? '' : ` — ${r.problem}`}`,
    );
  }
  printEvents(events, runs, runId);
  console.log('');
  for (const line of reconciliationLines(reconciliation, portalRefundNo)) console.log(line);
  for (const a of alerts) {
    console.log(
      `  ${a.verified ? '✔' : '✘'} alert event ${a.id} received by the order service, signature ${a.verified ? 'verified' : 'NOT verified'}`,
    );
  }
  console.log('');
  for (const line of apiAndEventsLines(cfg)) console.log(line);
  for (const line of codecLines(cfg, codecUrl, payloadEncryption.description)) console.log(line);
  console.log('\nTemporal Web UI:');
  console.log(
    `  all refunds:     ${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(`OutRefundNo STARTS_WITH "${runId}"`)}`,
  );
  console.log(
    `  needing a human: ${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent('RefundStatus IN ("ABNORMAL","MANUAL_REVIEW")')}`,
  );
  for (const r of runs.filter((x) => !x.rejection)) {
    console.log(
      `  ${r.path.name.padEnd(22)} ${uiUrl}/namespaces/${namespace}/workflows/${r.refundWorkflowId ?? refundWorkflowId(r.outRefundNo)}`,
    );
  }
  await connection.close();
  await admin.close();

  if (failed.length) console.log(`\nFAILED paths: ${failed.map((r) => r.path.name).join(', ')}`);
  else console.log(`\nall ${runs.length} paths reached their expected end.`);
  if (!reconciled) console.log('FAILED: the reconciliation did not come out as expected (see above)');
  const exitCode = failed.length || !reconciled ? 1 : 0;
  if (EXIT_AT_END) {
    await supervisor.stopAll(0);
    return exitCode;
  }
  console.log('\nThe stack stays up for inspection (npm run ops -- list, the Web UI). Press Ctrl-C to stop.');
  await supervisor.done;
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
    await supervisor.stopAll(1);
    process.exit(1);
  },
);
