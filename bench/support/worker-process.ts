/**
 * The real worker (`src/worker.ts`) as a child process, as production runs it, so its memory can be measured on its
 * own. Its configuration is a copy of temporal-dev.yml pointing at the bench's simulator keys and webhook; its
 * workflow bundle is built here ahead of time (WXREFUND_WORKFLOW_BUNDLE), so webpack never runs inside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { parseDocument } from 'yaml';
import { DEFAULT_STACK_CONFIG_PATH } from '../../src/config/stack-config';
import { REPO_ROOT } from '../../src/config/tools';
import { lineReady } from '../../src/stack/supervisor';
import { quietBundlerLogger } from './stack';
import { killOnExit } from './util';

export interface WorkerProcessOptions {
  dir: string;
  keysDir: string;
  webhookUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
}

export class BenchWorkerProcess {
  private child?: ChildProcess;
  constructor(private readonly opts: WorkerProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get logFile(): string {
    return path.join(this.opts.dir, 'worker.log');
  }

  async start(): Promise<void> {
    const { dir } = this.opts;
    const doc = parseDocument(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8'));
    doc.setIn(['simulator', 'keysDir'], this.opts.keysDir);
    doc.setIn(['webhook', 'publicBaseUrl'], this.opts.webhookUrl);
    doc.setIn(['worker', 'metricsPort'], 0);
    const stackFile = path.join(dir, 'stack.yml');
    writeFileSync(stackFile, doc.toString());
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: quietBundlerLogger,
    });
    const bundleFile = path.join(dir, 'workflow-bundle.js');
    writeFileSync(bundleFile, bundle.code);

    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/worker.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        FORCE_COLOR: '0',
        WXREFUND_STACK_CONFIG: stackFile,
        WXREFUND_TASK_QUEUE: this.opts.taskQueue,
        WXREFUND_METRICS_PORT: '0',
        WXREFUND_WORKFLOW_BUNDLE: bundleFile,
        TEMPORAL_ADDRESS: this.opts.temporalAddress,
        TEMPORAL_NAMESPACE: this.opts.namespace,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.pipe(log, { end: false });
    this.child = child;
    killOnExit(child);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        lineReady(/worker polling task queue/)(child),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker not ready after 120 s; see ${this.logFile}`)), 120_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
}
