/**
 * The cluster's Go processes: the four Temporal services (one `temporal-server … start --service <name>` each) and
 * the Web UI server. Start order: history, matching, frontend, worker. Any order would converge (each joins the ring
 * through the membership table in PostgreSQL), but history owns the shards every request ends at, and the internal
 * worker's system workflows call the frontend at once: started last, it does not spend its first seconds retrying.
 * A process counts as started when its port accepts connections (readinessPort); the frontend's fuller check, that it
 * answers and the namespace exists, is namespace.ts's.
 */
import { createConnection } from 'node:net';
import type { ClusterConfig, ClusterService } from './cluster-config';
import { CLUSTER_ENV, type ClusterPaths } from './cluster-paths';
import { temporalServerPath, temporalUiServerPath } from './cluster-tools';
import { logTail, runningPid, startDetached, stopDetached, type DetachedSpec } from './detached-process';

/** What `restart` and `status` accept: a Temporal service or the Web UI. */
export type ClusterProcess = ClusterService | 'ui';

/** Temporal's services drain in-flight requests and hand their shards over on SIGTERM: give them time. */
const STOP_GRACE_MS = 20_000;
const START_TIMEOUT_MS = 60_000;

export function processSpec(
  cluster: ClusterConfig,
  paths: ClusterPaths,
  name: ClusterProcess,
): DetachedSpec | undefined {
  const common = { name, logFile: paths.logFile(name), pidFile: paths.pidFile(name), cwd: paths.root };
  if (name === 'ui') {
    const ui = temporalUiServerPath();
    if (!ui) return undefined;
    return {
      ...common,
      command: ui,
      args: ['--root', paths.root, '--config', 'config/ui', '--env', CLUSTER_ENV, 'start'],
    };
  }
  return {
    ...common,
    command: temporalServerPath(),
    // --allow-no-auth: no authorizer on this loopback cluster (docs/cluster.md says what production adds).
    args: [
      ...['--root', paths.root, '--config', `config/${name}`, '--env', CLUSTER_ENV, '--allow-no-auth'],
      ...['start', '--service', name],
    ],
  };
}

/**
 * The TCP port that says the process is up: a service's gRPC port, except the internal worker's, which serves no gRPC
 * (it only polls the frontend) and shows it has joined the ring by its membership port; the UI's HTTP port.
 */
export function readinessPort(cluster: ClusterConfig, name: ClusterProcess): number {
  if (name === 'ui') return cluster.uiPort;
  if (name === 'worker') return cluster.services.worker.membershipPort;
  return cluster.services[name].grpcPort;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

export interface Started {
  name: ClusterProcess;
  pid: number;
  /** false: it was already running and was left alone. */
  started: boolean;
  ms: number;
}

/** Starts the process unless it runs, then waits for its port; a death during start-up shows its log's tail. */
export async function ensureProcess(
  cluster: ClusterConfig,
  paths: ClusterPaths,
  name: ClusterProcess,
): Promise<Started | undefined> {
  const spec = processSpec(cluster, paths, name);
  if (!spec) return undefined;
  const t0 = Date.now();
  const running = runningPid(spec.pidFile, spec.command);
  if (running !== undefined) return { name, pid: running, started: false, ms: 0 };
  const pid = startDetached(spec);
  const port = readinessPort(cluster, name);
  while (!(await accepts(cluster.ip, port))) {
    if (runningPid(spec.pidFile, spec.command) === undefined) {
      throw new Error(`${name} exited during start-up; the end of ${spec.logFile}:\n${logTail(spec.logFile)}`);
    }
    if (Date.now() - t0 > START_TIMEOUT_MS) {
      throw new Error(
        `${name} did not listen on ${cluster.ip}:${port} within ${START_TIMEOUT_MS / 1000} s; see ${spec.logFile}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, pid, started: true, ms: Date.now() - t0 };
}

export async function stopProcess(cluster: ClusterConfig, paths: ClusterPaths, name: ClusterProcess) {
  const spec = processSpec(cluster, paths, name);
  if (!spec) return 'not running' as const;
  return stopDetached(spec.pidFile, spec.command, STOP_GRACE_MS);
}

export function processPid(cluster: ClusterConfig, paths: ClusterPaths, name: ClusterProcess): number | undefined {
  const spec = processSpec(cluster, paths, name);
  return spec ? runningPid(spec.pidFile, spec.command) : undefined;
}
