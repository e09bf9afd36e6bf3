/**
 * The schemas of schemas.ts, built on first use and then kept for the life of the process (or of the worker's
 * workflow sandbox), for code that runs inside workflows.
 *
 * Why not a plain import: the SDK's reusable sandbox evaluates every module a workflow imports again for each new
 * workflow instance, and building the schemas was one of the largest parts of that cost (issue 18: about 1.7 ms per
 * instance on this machine, the same for a refund whose only validation is its input). A module the worker preloads
 * (src/workflow-bundle.ts) is evaluated once and shared, but the SDK freezes it deeply, and zod cannot parse with a
 * frozen schema: it binds `safeParse` and memoizes derived facts on the schema object on first use. So this module
 * is the preloaded one, and it keeps the schemas out of its exports: they are required at the first call, inside the
 * first workflow that validates anything, and held in this closure, where nothing freezes them.
 *
 * Sharing them between workflow instances is safe because a schema is a pure function of its input: what zod stores
 * on it is memoized facts about the schema itself, never about a value it parsed. Outside workflows (API, CLI,
 * activities) import schemas.ts directly.
 */
import type * as Schemas from './schemas';

let loaded: typeof Schemas | undefined;

/** The schemas module, evaluated once per process or sandbox. */
export function schemas(): typeof Schemas {
  // A require at first use rather than an import: an import would evaluate schemas.ts while the worker preloads,
  // and the SDK would then freeze the schemas.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('./schemas') as typeof Schemas;
  return loaded;
}
