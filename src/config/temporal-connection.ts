/**
 * How every process (worker, webhook, starter, operator CLI) reaches Temporal: Temporal's own environment
 * configuration conventions (`@temporalio/envconfig`): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_PROFILE and the
 * TOML profile file (TEMPORAL_CONFIG_FILE). The same settings work for a self-hosted cluster or Temporal Cloud.
 * Without any of them: the local dev server from temporal-dev.yml.
 */
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';

export interface TemporalTarget {
  /** As envconfig returns them; the client's ConnectionOptions accept the same fields (Temporal's env-config sample). */
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

const LOCAL_DEFAULT = { address: '127.0.0.1:7233', namespace: 'default' };

export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const { connectionOptions, namespace } = loadClientConnectConfig({
    overrideEnvVars: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
  });
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? LOCAL_DEFAULT.address },
    namespace: namespace ?? LOCAL_DEFAULT.namespace,
  };
}

/** Client-side connection (starter, webhook, operator CLI). */
export async function connectClient(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ connection: Connection; namespace: string }> {
  const target = temporalTarget(env);
  return {
    connection: await Connection.connect(target.connectionOptions as ConnectionOptions),
    namespace: target.namespace,
  };
}

/** Worker-side (native) connection. */
export async function connectWorker(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ connection: NativeConnection; namespace: string }> {
  const target = temporalTarget(env);
  return { connection: await NativeConnection.connect(target.connectionOptions), namespace: target.namespace };
}
