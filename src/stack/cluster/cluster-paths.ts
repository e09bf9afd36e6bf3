/**
 * Where the cluster keeps what it writes, all under the section's dataDir (`.data/cluster`, git-ignored): one layout,
 * so `up`, `down`, `status`, `reset` and the docs agree on it.
 */
import path from 'node:path';
import type { ClusterService } from './cluster-config';

export interface ClusterPaths {
  root: string;
  /** PostgreSQL's data directory (PGDATA); owned by the user PostgreSQL runs as. */
  pgData: string;
  /** The PostgreSQL superuser's password, made on first start (mode 0600). */
  pgPasswordFile: string;
  /** Rendered server configs: one directory per service (`--config config/<service>`), differing in metrics port. */
  configDir: (service: ClusterService) => string;
  dynamicConfigFile: string;
  /** The Web UI server's config directory (`--env cluster` reads cluster.yaml there). */
  uiConfigDir: string;
  logFile: (process: string) => string;
  pidFile: (process: string) => string;
}

export function clusterPaths(dataDir: string): ClusterPaths {
  const root = path.resolve(dataDir);
  return {
    root,
    pgData: path.join(root, 'pg'),
    pgPasswordFile: path.join(root, 'postgres-password'),
    configDir: (service) => path.join(root, 'config', service),
    dynamicConfigFile: path.join(root, 'config', 'dynamicconfig.yaml'),
    uiConfigDir: path.join(root, 'config', 'ui'),
    logFile: (name) => path.join(root, 'logs', `${name}.log`),
    pidFile: (name) => path.join(root, 'run', `${name}.pid`),
  };
}

/** The env name every process is started with (`--env cluster`), so each reads `<config dir>/cluster.yaml`. */
export const CLUSTER_ENV = 'cluster';
