/**
 * Preload for a process under a benchmark (NODE_OPTIONS="--require <this file>", which Node allows where it refuses
 * --cpu-prof): records V8 CPU profiles of the process into BENCH_CPU_PROFILE_DIR, one file per minute of its life
 * (`<pid>-<thread>-<n>.cpuprofile`, to open in Chrome DevTools; the preload runs in worker threads too, so
 * the SDK's workflow thread gets its own files), so a worker that is killed at the end of a run still leaves
 * every finished minute behind; BENCH_CPU_PROFILE_EVERY_MS sets another period (bench 11's product phase lasts
 * seconds). Used with bench/scale-cluster.ts and bench/hot-orders.ts through BENCH_WORKER_NODE_OPTIONS
 * (bench/NOTES.md).
 */
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');
const { threadId } = require('node:worker_threads');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  fs.mkdirSync(dir, { recursive: true });
  const session = new inspector.Session();
  session.connect();
  let n = 0;
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  const timer = setInterval(
    () => {
      session.post('Profiler.stop', (err, result) => {
        if (!err)
          fs.writeFileSync(
            path.join(dir, `${process.pid}-${threadId}-${n++}.cpuprofile`),
            JSON.stringify(result.profile),
          );
        session.post('Profiler.start');
      });
    },
    Number(process.env.BENCH_CPU_PROFILE_EVERY_MS ?? 60_000),
  );
  timer.unref();
}
