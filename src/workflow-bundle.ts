/**
 * How the workflow code is bundled for a worker: one place for the worker, the tests and the benchmarks, so all three
 * run the same sandbox.
 *
 * The SDK's reusable V8 context (the default) evaluates every module of the bundle again for each new workflow
 * instance, except the modules it preloads once and shares, frozen, between instances. Evaluating zod and building
 * the schemas were the largest parts of that per-instance evaluation (issue 18). The pure domain modules are
 * preloaded here; the schemas cannot be (zod does not parse with a frozen schema) and are instead built once, on
 * first use, behind domain/lazy-schemas.ts, which brings zod with them. (Preloading 'zod' itself does nothing: the
 * bundler routes imports past its side-effect-free index, so that entry would be dropped.) Workflow modules that
 * call `@temporalio/workflow` are never shared.
 */
import { bundleWorkflowCode, type Logger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const WORKFLOWS_PATH = require.resolve('./workflows');

/**
 * Preloaded once per worker and shared between workflow instances. A module belongs here only if it is pure; adding
 * one that keeps state in its module scope would leak that state between workflows. The one state here is
 * lazy-schemas.ts's cache of the schemas, which are pure themselves.
 */
export const SHARED_WORKFLOW_MODULES: readonly string[] = [
  require.resolve('./domain/lazy-schemas'),
  require.resolve('./domain/zod-errors'),
  require.resolve('./domain/ids'),
  require.resolve('./domain/merchant-queues'),
  require.resolve('./domain/status'),
  require.resolve('./domain/money'),
  require.resolve('./domain/poll-schedule'),
  require.resolve('./domain/poll-jitter'),
  require.resolve('./domain/failure-classes'),
  require.resolve('./domain/submit-retry'),
  require.resolve('./domain/evidence'),
  require.resolve('./domain/refund-caps'),
  require.resolve('./domain/order-facts'),
  require.resolve('./domain/search-attributes'),
  require.resolve('./wechatpay/abnormal-bank-types'),
  require.resolve('./events/types'),
  require.resolve('./reconciliation/compare'),
];

export interface WorkflowBundleOptions {
  /** The workflows module; the product's own (src/workflows) unless a bench adds baselines beside them. */
  workflowsPath?: string;
  /** The payload codec's failure converter (src/codec/data-converter.ts), loaded by path inside the sandbox. */
  failureConverterPath?: string;
  logger?: Logger;
}

/** The workflow bundle a worker runs: the workflows, their failure converter, and the shared pure modules. */
export function bundleWorkflows(options: WorkflowBundleOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: options.workflowsPath ?? WORKFLOWS_PATH,
    preloadModules: [...SHARED_WORKFLOW_MODULES],
    ...(options.failureConverterPath ? { failureConverterPath: options.failureConverterPath } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
