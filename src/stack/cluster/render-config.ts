/**
 * Renders the cluster section into the files the Go programs read: each service's server config (persistence on
 * PostgreSQL for both stores, every service's ports, its own metrics port), the dynamic config file and the Web UI
 * server's config. Pure functions of the section, so a unit test reads what `up` would write.
 */
import { stringify } from 'yaml';
import { CLUSTER_SERVICES, frontendAddress, type ClusterConfig, type ClusterService } from './cluster-config';

/** The two databases, as temporal-sql-tool and the server name them (docs/cluster.md). */
export const HISTORY_DATABASE = 'temporal';
export const VISIBILITY_DATABASE = 'temporal_visibility';
/** The SQL plugin for PostgreSQL ≥ 12 (schema/postgresql/v12); `postgres` would be the pre-12 one. */
export const SQL_PLUGIN = 'postgres12';

function sqlStore(cluster: ClusterConfig, password: string, databaseName: string, maxConns: number) {
  return {
    sql: {
      pluginName: SQL_PLUGIN,
      databaseName,
      connectAddr: `${cluster.ip}:${cluster.postgres.port}`,
      connectProtocol: 'tcp',
      user: cluster.postgres.user,
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

/** The server config one service process reads (`--config config/<service> --env cluster`). */
export function serverConfig(
  cluster: ClusterConfig,
  service: ClusterService,
  opts: { pgPassword: string; dynamicConfigFile: string },
): Record<string, unknown> {
  const { ip, services } = cluster;
  return {
    log: { stdout: true, level: cluster.logLevel },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: cluster.numHistoryShards,
      datastores: {
        'postgres-default': sqlStore(cluster, opts.pgPassword, HISTORY_DATABASE, cluster.postgres.maxConns),
        // Visibility writes are one row per workflow change and reads are list queries: a quarter of the pool.
        'postgres-visibility': sqlStore(
          cluster,
          opts.pgPassword,
          VISIBILITY_DATABASE,
          Math.max(2, Math.floor(cluster.postgres.maxConns / 4)),
        ),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: ip },
      // One Prometheus endpoint per process: four processes on one host cannot share a port.
      metrics: {
        prometheus: {
          framework: 'tally',
          timerType: 'histogram',
          listenAddress: `${ip}:${services[service].metricsPort}`,
        },
      },
    },
    // Every process knows every service's ports; it runs only the one named by --service.
    services: Object.fromEntries(
      CLUSTER_SERVICES.map((name) => {
        const { grpcPort, membershipPort } = services[name];
        const rpc: Record<string, unknown> = { grpcPort, membershipPort, bindOnIP: ip };
        if (name === 'frontend') rpc.httpPort = services.frontend.httpPort;
        return [name, { rpc }];
      }),
    ),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress(cluster) },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: opts.dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Temporal's dynamic config file format: each key holds a list of `{ value, constraints? }`. */
export function dynamicConfigFile(cluster: ClusterConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cluster.dynamicConfig).map(([key, value]) => [key, [{ value }]]));
}

/** The Web UI server's config: attached to the frontend, decoding payloads through the codec server when given. */
export function uiServerConfig(cluster: ClusterConfig, opts: { codecEndpoint?: string }): Record<string, unknown> {
  return {
    temporalGrpcAddress: frontendAddress(cluster),
    host: cluster.ip,
    port: cluster.uiPort,
    publicPath: '',
    enableUi: true,
    defaultNamespace: cluster.namespace,
    // Both would call out to the internet.
    notifyOnNewVersion: false,
    feedbackUrl: '',
    auth: { enabled: false },
    cors: { cookieInsecure: true, allowOrigins: [] },
    codec: opts.codecEndpoint ? { endpoint: opts.codecEndpoint } : {},
  };
}

/** YAML text with a header saying where it came from (people open these files when something is wrong). */
export function renderYaml(doc: Record<string, unknown>, what: string): string {
  return `# ${what}. Rendered by \`npm run stack:cluster -- up\` from the cluster: section; edits here are overwritten.\n${stringify(doc)}`;
}
