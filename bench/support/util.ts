/** Small helpers shared by the benchmarks: flags, percentiles, bounded concurrency, process memory, the JSON line. */
import { residentBytes } from '../../src/stack/process-memory';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A positive integer flag value (parseArgs gives strings). */
export function intFlag(name: string, value: string | undefined, fallback: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name}: must be a positive integer (got ${value})`);
  return n;
}

/** Nearest-rank percentile of an ascending array: the smallest value with at least p% of samples at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** Resident set size of a process in MiB (Linux /proc), undefined when it is gone. */
export function rssMiB(pid: number | undefined): number | undefined {
  const bytes = pid === undefined ? undefined : residentBytes(pid);
  return bytes === undefined ? undefined : round(bytes / 2 ** 20, 1);
}

/** Polls `probe` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The final line every benchmark prints: bench/run-all.ts collects it. */
export function emitResult(result: Record<string, unknown> & { bench: string }): void {
  console.log(JSON.stringify(result));
}

/** Standard entry point: run, print errors, exit non-zero on failure, and exit even if a handle lingers. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}

const children = new Set<{ kill(signal?: NodeJS.Signals): boolean }>();
let hooked = false;
/** Child processes (dev server, worker) killed if the benchmark itself is interrupted, so none is left behind. */
export function killOnExit(child: { kill(signal?: NodeJS.Signals): boolean }): void {
  children.add(child);
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}
