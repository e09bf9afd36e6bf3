/**
 * `npm run stack:cluster -- up|down|status|reset|restart <service>`: a production-shaped Temporal cluster on this
 * machine (docs/cluster.md): PostgreSQL, the four Temporal services as separate processes, the Web UI. It runs in
 * the background: `up` returns once the frontend answers and prints the address and the env line for workers,
 * webhook, API and simulator; `down` stops it. Settings: the `cluster:` section of temporal-dev.yml (or the file
 * named by WXREFUND_STACK_CONFIG). Programs: scripts/ensure-temporal-server (not part of `npm test`).
 * Exit codes: 0 done, 1 failed, 2 usage.
 */
import { loadStackConfig } from '../config/stack-config';
import { describeStackFile, stackConfigFile } from '../config/stack-paths';
import { CLUSTER_SERVICES } from '../stack/cluster/cluster-config';
import { CLUSTER_PROCESSES, clusterSection, down, reset, restart, status, up } from '../stack/cluster/cluster';
import type { ClusterProcess } from '../stack/cluster/server-processes';

const USAGE = `usage: npm run stack:cluster -- up | down | status | reset | restart <${CLUSTER_PROCESSES.join('|')}>`;
const log = (line: string) => console.log(`[cluster] ${line}`);
const mb = (bytes?: number) => (bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MB`);

async function main(argv: string[]): Promise<number> {
  const [command, target, ...rest] = argv;
  const file = stackConfigFile();
  const stack = loadStackConfig(file);
  const cluster = clusterSection(stack, describeStackFile(file));
  const usage = (why: string) => (console.error(`stack:cluster: ${why}\n${USAGE}`), 2);
  if (rest.length > 0 || (command !== 'restart' && target !== undefined)) return usage('too many arguments');
  switch (command) {
    case 'up': {
      const r = await up(stack, cluster, log);
      console.log(`\nTemporal cluster ${r.serverVersion} up in ${(r.ms / 1000).toFixed(1)} s`);
      console.log(`  frontend:   ${r.address} (namespace ${r.namespace})`);
      console.log(`  Web UI:     ${r.uiUrl ? `${r.uiUrl}/namespaces/${r.namespace}/workflows` : 'not provisioned'}`);
      console.log(`  PostgreSQL: ${r.postgres.address} (logs and data in ${cluster.dataDir})`);
      console.log(
        `\nRun programs against it with:\n  export TEMPORAL_ADDRESS=${r.address} TEMPORAL_NAMESPACE=${r.namespace}`,
      );
      return 0;
    }
    case 'down':
      await down(cluster, log);
      log('down');
      return 0;
    case 'reset':
      await reset(cluster, log);
      return 0;
    case 'restart': {
      if (!target || !(CLUSTER_PROCESSES as readonly string[]).includes(target)) {
        return usage(`restart needs one of ${CLUSTER_PROCESSES.join(', ')}${target ? ` (not ${target})` : ''}`);
      }
      await restart(cluster, target as ClusterProcess, log);
      return 0;
    }
    case 'status': {
      const s = await status(cluster);
      console.log(`frontend ${s.address}: ${s.answering ? 'answering' : 'not answering'}`);
      for (const p of s.processes) {
        const extra = p.processes ? ` in ${p.processes} processes (Pss)` : '';
        console.log(
          `  ${p.name.padEnd(9)} ${p.pid ? `pid ${String(p.pid).padEnd(8)} ${mb(p.memoryBytes)}${extra}` : 'not running'}`,
        );
      }
      for (const [db, bytes] of Object.entries(s.databaseBytes ?? {})) console.log(`  database ${db}: ${mb(bytes)}`);
      const servicesUp = s.processes.filter((p) => (CLUSTER_SERVICES as readonly string[]).includes(p.name) && p.pid);
      return s.answering && servicesUp.length === CLUSTER_SERVICES.length ? 0 : 1;
    }
    default:
      return usage(command ? `unknown command ${command}` : 'no command');
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`stack:cluster: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
