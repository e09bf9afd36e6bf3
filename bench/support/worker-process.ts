/**
 * The real worker (`src/cli/worker.ts`) as a child process, as production runs it, so its memory can be measured on its
 * own. Its configuration is a variant of temporal-dev.yml pointing at the bench's simulator keys and webhook; its
 * workflow bundle is built here ahead of time (WXREFUND_WORKFLOW_BUNDLE), so webpack never runs inside it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeStackConfigVariant } from '../../src/config/stack-file';
import { WorkerProcess } from '../../src/stack/worker-process';
import { productWorkflowBundle, type BenchStackWithoutWebhook } from './stack';
import { killOnExit } from './util';

export interface WorkerProcessOptions {
  dir: string;
  keysDir: string;
  webhookUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** More env for the worker (e.g. NODE_OPTIONS, WXREFUND_MAX_CACHED_WORKFLOWS); applied last. */
  env?: NodeJS.ProcessEnv;
  /** A workflow bundle already written (bench/support/worker-process.ts `writeWorkflowBundle`): several workers share one. */
  bundleFile?: string;
}

/** Bundles the real workflows with the failure converter into `file`, as the worker loads them (WXREFUND_WORKFLOW_BUNDLE). */
export async function writeWorkflowBundle(file: string): Promise<string> {
  writeFileSync(file, (await productWorkflowBundle()).code);
  return file;
}

export class BenchWorkerProcess {
  private worker?: WorkerProcess;
  constructor(private readonly opts: WorkerProcessOptions) {}

  /** A worker on a bench stack's own dev server, sending notify_url to the stack's webhook. */
  static onStack(
    stack: Pick<BenchStackWithoutWebhook, 'temporal' | 'webhookUrl'>,
    opts: Pick<WorkerProcessOptions, 'dir' | 'keysDir' | 'taskQueue' | 'env'>,
  ): BenchWorkerProcess {
    const t = stack.temporal!;
    return new BenchWorkerProcess({
      ...opts,
      webhookUrl: stack.webhookUrl,
      temporalAddress: t.address,
      namespace: t.namespace,
    });
  }

  get pid(): number | undefined {
    return this.worker?.pid;
  }
  get logFile(): string {
    return path.join(this.opts.dir, 'worker.log');
  }

  async start(): Promise<void> {
    const { dir } = this.opts;
    const stackFile = path.join(dir, 'stack.yml');
    writeStackConfigVariant(stackFile, {
      'simulator.keysDir': this.opts.keysDir,
      'webhook.publicBaseUrl': this.opts.webhookUrl,
      'worker.metricsPort': 0,
      'events.enabled': false,
    });
    const bundleFile = this.opts.bundleFile ?? (await writeWorkflowBundle(path.join(dir, 'workflow-bundle.js')));

    this.worker = new WorkerProcess(
      {
        WXREFUND_STACK_CONFIG: stackFile,
        WXREFUND_TASK_QUEUE: this.opts.taskQueue,
        WXREFUND_METRICS_PORT: '0',
        WXREFUND_WORKFLOW_BUNDLE: bundleFile,
        TEMPORAL_ADDRESS: this.opts.temporalAddress,
        TEMPORAL_NAMESPACE: this.opts.namespace,
        ...this.opts.env,
      },
      this.logFile,
    );
    const worker = this.worker;
    // Never leave a 4 GB worker behind when the bench is interrupted (kill() signals synchronously).
    killOnExit({ kill: (signal) => (void worker.kill(signal), true) });
    await worker.start();
  }

  async stop(): Promise<void> {
    await this.worker?.stop();
  }

  /** SIGKILL (a host lost) or SIGTERM (a deploy: polling stops, running activities finish); resolves on exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    await this.worker?.kill(signal);
  }

  get running(): boolean {
    return this.worker?.running ?? false;
  }
}
