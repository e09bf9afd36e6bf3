import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ConfigError, DEFAULT_STACK_CONFIG_PATH, parseStackConfig } from '../../../src/config/stack-config';
import { CLUSTER_SERVICES, type ClusterConfig } from '../../../src/stack/cluster/cluster-config';
import { postgresMaxConnections } from '../../../src/stack/cluster/cluster';
import { dynamicConfigFile, renderYaml, serverConfig, uiServerConfig } from '../../../src/stack/cluster/render-config';

const shipped = readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8');
const cluster = (text = shipped): ClusterConfig => {
  const c = parseStackConfig(text).cluster;
  if (!c) throw new Error('no cluster: section');
  return c;
};
/** A service's config as `up` writes it (YAML text), read back. */
const render = (c: ClusterConfig, service: (typeof CLUSTER_SERVICES)[number]) =>
  parse(
    renderYaml(
      serverConfig(c, service, { pgPassword: 'pw', dynamicConfigFile: '/data/config/dynamicconfig.yaml' }),
      'test',
    ),
  ) as {
    persistence: {
      defaultStore: string;
      visibilityStore: string;
      numHistoryShards: number;
      datastores: Record<string, { sql: Record<string, unknown> }>;
    };
    global: { metrics: { prometheus: { listenAddress: string } } };
    services: Record<string, { rpc: Record<string, unknown> }>;
    clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
    dynamicConfigClient: { filepath: string };
  };

describe('the cluster: section of temporal-dev.yml', () => {
  it('parses, with its data directory resolved against the stack file', () => {
    const c = cluster();
    expect(c.services.frontend.grpcPort).toBe(7333);
    expect(c.namespaceRetention).toBe(3);
    expect(c.dataDir).toBe(path.join(path.dirname(DEFAULT_STACK_CONFIG_PATH), '.data', 'cluster'));
  });

  it('names the key that holds a bad value', () => {
    const bad = shipped.replace('history: { grpcPort: 7334', 'history: { grpcPort: "7334x"');
    expect(() => parseStackConfig(bad)).toThrow(ConfigError);
    expect(() => parseStackConfig(bad)).toThrow(/cluster\.services\.history\.grpcPort/);
    expect(() => parseStackConfig(shipped.replace('namespaceRetention: 3d', 'namespaceRetention: 72h'))).toThrow(
      /cluster\.namespaceRetention/,
    );
    expect(() => parseStackConfig(shipped.replace('numHistoryShards: 4', 'numHistoryShards: 0'))).toThrow(
      /cluster\.numHistoryShards/,
    );
    expect(() => parseStackConfig(shipped.replace('  uiPort: 8333', '  uiPort: 8333\n  uiPortt: 1'))).toThrow(
      /uiPortt/,
    );
  });

  it('refuses two processes on one port, naming both keys', () => {
    const bad = shipped.replace('matching: { grpcPort: 7335', 'matching: { grpcPort: 7334');
    expect(() => parseStackConfig(bad)).toThrow(
      /cluster\.services\.matching\.grpcPort.*cluster\.services\.history\.grpcPort/s,
    );
  });

  it('refuses the server version check (it calls out to the internet)', () => {
    const c = shipped.indexOf('\ncluster:');
    const bad =
      shipped.slice(0, c) +
      shipped.slice(c).replace('frontend.enableServerVersionCheck: false', 'frontend.enableServerVersionCheck: true');
    expect(() => parseStackConfig(bad)).toThrow(/cluster\.dynamicConfig\.frontend\.enableServerVersionCheck/);
  });

  it('is optional: a stack file without it has no cluster', () => {
    const start = shipped.indexOf('\ncluster:');
    const end = shipped.indexOf('\nworker:');
    expect(parseStackConfig(shipped.slice(0, start) + shipped.slice(end)).cluster).toBeUndefined();
  });
});

describe('rendering the server configs', () => {
  const c = cluster();

  it('puts both stores on PostgreSQL 12+ with the chosen shards and database port', () => {
    const { persistence, dynamicConfigClient } = render(c, 'history');
    expect(persistence.numHistoryShards).toBe(4);
    expect(Object.keys(persistence.datastores)).toHaveLength(2);
    expect(persistence.datastores[persistence.defaultStore].sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal',
      connectAddr: '127.0.0.1:15432',
      user: 'temporal',
      password: 'pw',
    });
    expect(persistence.datastores[persistence.visibilityStore].sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal_visibility',
      connectAddr: '127.0.0.1:15432',
    });
    expect(dynamicConfigClient.filepath).toBe('/data/config/dynamicconfig.yaml');
  });

  it('gives every service its ports, the frontend its HTTP port, and each process its own metrics port', () => {
    const rendered = Object.fromEntries(CLUSTER_SERVICES.map((s) => [s, render(c, s)]));
    expect(rendered.frontend.services).toEqual({
      frontend: { rpc: { grpcPort: 7333, membershipPort: 6333, httpPort: 7343, bindOnIP: '127.0.0.1' } },
      history: { rpc: { grpcPort: 7334, membershipPort: 6334, bindOnIP: '127.0.0.1' } },
      matching: { rpc: { grpcPort: 7335, membershipPort: 6335, bindOnIP: '127.0.0.1' } },
      worker: { rpc: { grpcPort: 7339, membershipPort: 6339, bindOnIP: '127.0.0.1' } },
    });
    const metrics = CLUSTER_SERVICES.map((s) => rendered[s].global.metrics.prometheus.listenAddress);
    expect(metrics).toEqual(['127.0.0.1:9334', '127.0.0.1:9335', '127.0.0.1:9333', '127.0.0.1:9339']);
    expect(rendered.worker.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7333');
  });

  it('follows the section: other ports and shards appear in the rendered file', () => {
    const moved = cluster(
      shipped.replace('numHistoryShards: 4', 'numHistoryShards: 8').replace('port: 15432', 'port: 25432'),
    );
    const { persistence } = render(moved, 'matching');
    expect(persistence.numHistoryShards).toBe(8);
    expect(persistence.datastores['postgres-visibility'].sql.connectAddr).toBe('127.0.0.1:25432');
  });

  it('writes the dynamic config in Temporal’s file format, with the version check off', () => {
    expect(parse(renderYaml(dynamicConfigFile(c), 'test'))).toEqual({
      'frontend.enableServerVersionCheck': [{ value: false }],
      'limit.historyCount.warn': [{ value: 10000 }],
    });
  });

  it('points the Web UI at the frontend, on its port, without calls home', () => {
    expect(uiServerConfig(c, { codecEndpoint: 'http://127.0.0.1:18099' })).toMatchObject({
      temporalGrpcAddress: '127.0.0.1:7333',
      port: 8333,
      notifyOnNewVersion: false,
      codec: { endpoint: 'http://127.0.0.1:18099' },
    });
  });

  it('sizes PostgreSQL for four processes with both pools full', () => {
    // 4 × (20 history + 5 visibility) + 20 for psql and the SQL tool.
    expect(postgresMaxConnections(c)).toBe(120);
  });
});
