/**
 * The cluster's four operations, as `npm run stack:cluster` runs them (docs/cluster.md):
 *   up       PostgreSQL (initdb once), databases and schema, rendered configs, the four services, namespace and
 *            search attributes, the Web UI; whatever already runs or exists is left as it is
 *   down     every process, in reverse start order, then PostgreSQL; the data stays
 *   restart  one service (or the UI), e.g. history for a failover test
 *   reset    down, then delete the data directory (databases, logs, configs)
 * Each returns what happened; the program prints it.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StackConfig } from '../../config/stack-config';
import { temporalCliPath } from '../../config/tools';
import { codecServerUrl } from '../services';
import { CLUSTER_SERVICES, frontendAddress, type ClusterConfig } from './cluster-config';
import { clusterPaths, CLUSTER_ENV, type ClusterPaths } from './cluster-paths';
import { temporalServerPath, temporalSqlToolPath } from './cluster-tools';
import { CLUSTER_DATABASES, ensureSchemas, type SchemaReport } from './database-schema';
import { residentBytes } from '../process-memory';
import { ensureNamespace, namespaceAnswers, serverVersion, waitForFrontend } from './namespace';
import * as postgres from './postgres';
import { dynamicConfigFile, renderYaml, serverConfig, uiServerConfig } from './render-config';
import { ensureProcess, processPid, stopProcess, type ClusterProcess, type Started } from './server-processes';

/** The processes `up` starts after PostgreSQL, in order; `down` stops them in reverse. */
export const CLUSTER_PROCESSES: readonly ClusterProcess[] = [...CLUSTER_SERVICES, 'ui'];

export function clusterSection(stack: StackConfig, source: string): ClusterConfig {
  if (!stack.cluster) throw new Error(`${source} has no cluster: section (see temporal-dev.yml for one)`);
  return stack.cluster;
}

/** PostgreSQL connections: each of four processes holds up to its two pools, plus room for psql and the SQL tool. */
export function postgresMaxConnections(cluster: ClusterConfig): number {
  const perProcess = cluster.postgres.maxConns + Math.max(2, Math.floor(cluster.postgres.maxConns / 4));
  return Math.max(100, CLUSTER_SERVICES.length * perProcess + 20);
}

function writeConfigs(stack: StackConfig, cluster: ClusterConfig, paths: ClusterPaths, pgPassword: string): void {
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    // Server configs hold the database password: readable by this user only.
    writeFileSync(file, text, { mode: 0o600 });
  };
  write(paths.dynamicConfigFile, renderYaml(dynamicConfigFile(cluster), 'Temporal dynamic config of the cluster'));
  for (const service of CLUSTER_SERVICES) {
    const doc = serverConfig(cluster, service, { pgPassword, dynamicConfigFile: paths.dynamicConfigFile });
    write(path.join(paths.configDir(service), `${CLUSTER_ENV}.yaml`), renderYaml(doc, `Temporal ${service} service`));
  }
  const ui = uiServerConfig(cluster, { codecEndpoint: codecServerUrl(stack) });
  write(path.join(paths.uiConfigDir, `${CLUSTER_ENV}.yaml`), renderYaml(ui, 'Temporal Web UI server'));
}

const describeStarted = (s: Started) =>
  `${s.name}: ${s.started ? `started in ${(s.ms / 1000).toFixed(1)} s` : 'already running'} (pid ${s.pid})`;

export interface UpReport {
  address: string;
  namespace: string;
  uiUrl?: string;
  serverVersion: string;
  postgres: { address: string; initialised: boolean };
  schemas: SchemaReport[];
  processes: Started[];
  namespaceChanges: string[];
  ms: number;
}

export async function up(stack: StackConfig, cluster: ClusterConfig, log: (line: string) => void): Promise<UpReport> {
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  // Fail before starting anything when a program is missing.
  temporalServerPath();
  temporalSqlToolPath();
  temporalCliPath();
  const paths = clusterPaths(cluster.dataDir);
  const pg = postgres.postgresFor(cluster, paths, { makePassword: true });
  const initialised = await postgres.initIfNeeded(pg);
  if (initialised) {
    log(`PostgreSQL: data directory made (${pg.dataDir}${pg.runAs ? `, owned by ${pg.runAs.user}` : ''})`);
  }
  await postgres.start(pg, postgresMaxConnections(cluster));
  log(`PostgreSQL: accepting connections on ${cluster.ip}:${cluster.postgres.port} (${since()})`);
  const schemas = await ensureSchemas(pg);
  for (const s of schemas) log(`PostgreSQL: ${s.database} at schema ${s.version}${s.created ? ' (created)' : ''}`);
  writeConfigs(stack, cluster, paths, pg.password);
  const processes: Started[] = [];
  for (const service of CLUSTER_SERVICES) {
    const started = await ensureProcess(cluster, paths, service);
    if (!started) continue;
    processes.push(started);
    log(describeStarted(started));
  }
  await waitForFrontend(cluster, 60_000);
  const namespaceChanges = await ensureNamespace(cluster, stack.temporal.searchAttributes);
  for (const change of namespaceChanges) log(change);
  const ui = await ensureProcess(cluster, paths, 'ui');
  if (ui) {
    processes.push(ui);
    log(describeStarted(ui));
  } else {
    log('ui: not provisioned (bash scripts/ensure-temporal-server builds it); the cluster runs without a Web UI');
  }
  return {
    address: frontendAddress(cluster),
    namespace: cluster.namespace,
    uiUrl: ui ? `http://${cluster.ip}:${cluster.uiPort}` : undefined,
    serverVersion: await serverVersion(cluster),
    postgres: { address: `${cluster.ip}:${cluster.postgres.port}`, initialised },
    schemas,
    processes,
    namespaceChanges,
    ms: Date.now() - t0,
  };
}

export async function down(cluster: ClusterConfig, log: (line: string) => void): Promise<void> {
  const paths = clusterPaths(cluster.dataDir);
  for (const name of [...CLUSTER_PROCESSES].reverse()) {
    const outcome = await stopProcess(cluster, paths, name);
    if (outcome !== 'not running')
      log(`${name}: ${outcome === 'killed' ? 'killed (did not stop on SIGTERM)' : 'stopped'}`);
  }
  const pg = postgres.postgresFor(cluster, paths);
  if (await postgres.isRunning(pg)) {
    await postgres.stop(pg);
    log('PostgreSQL: stopped');
  }
}

export async function restart(cluster: ClusterConfig, name: ClusterProcess, log: (line: string) => void) {
  const paths = clusterPaths(cluster.dataDir);
  const t0 = Date.now();
  const outcome = await stopProcess(cluster, paths, name);
  log(`${name}: ${outcome}`);
  const started = await ensureProcess(cluster, paths, name);
  if (!started) throw new Error(`${name} is not provisioned (bash scripts/ensure-temporal-server)`);
  if (name === 'frontend') await waitForFrontend(cluster, 60_000);
  log(`${name}: started again in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${started.pid})`);
}

export async function reset(cluster: ClusterConfig, log: (line: string) => void): Promise<void> {
  await down(cluster, log);
  rmSync(cluster.dataDir, { recursive: true, force: true });
  log(`deleted ${cluster.dataDir} (databases, configs, logs)`);
}

export interface ProcessStatus {
  name: string;
  pid?: number;
  /** VmRSS; for PostgreSQL the proportional set size (Pss) of all its processes, so shared buffers count once. */
  memoryBytes?: number;
  processes?: number;
}

export interface StatusReport {
  address: string;
  answering: boolean;
  processes: ProcessStatus[];
  databaseBytes?: Record<string, number>;
}

export async function status(cluster: ClusterConfig): Promise<StatusReport> {
  const paths = clusterPaths(cluster.dataDir);
  const processes: ProcessStatus[] = CLUSTER_PROCESSES.map((name) => {
    const pid = processPid(cluster, paths, name);
    return { name, pid, memoryBytes: pid === undefined ? undefined : residentBytes(pid) };
  });
  const pg = postgres.postgresFor(cluster, paths);
  let databaseBytes: Record<string, number> | undefined;
  const pgPid = (await postgres.isRunning(pg)) ? postgres.postmasterPid(pg) : undefined;
  if (pgPid !== undefined) {
    const tree = [pgPid, ...childrenOf(pgPid)];
    const pss = tree.map(proportionalBytes).reduce((a, b) => a + b, 0);
    processes.unshift({ name: 'postgres', pid: pgPid, memoryBytes: pss, processes: tree.length });
    databaseBytes = await postgres.databaseSizes(
      pg,
      CLUSTER_DATABASES.map((d) => d.name),
    );
  } else {
    processes.unshift({ name: 'postgres' });
  }
  return { address: frontendAddress(cluster), answering: await namespaceAnswers(cluster), processes, databaseBytes };
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (Number(ppid) === pid) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

function proportionalBytes(pid: number): number {
  try {
    const kb = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}
