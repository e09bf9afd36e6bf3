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

/**
 * A connection to Temporal that could not be made. The SDK says only "Failed to connect before the deadline" (or a
 * transport error), which leaves the operator guessing where it tried to go and which setting chose that; this names
 * the address, the namespace and the settings to check. The SDK's error is kept as `cause`.
 */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';

  constructor(
    readonly address: string,
    readonly namespace: string,
    cause: unknown,
  ) {
    super(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ` +
        `${cause instanceof Error ? cause.message : String(cause)}; check TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE ` +
        '(or TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE), TEMPORAL_API_KEY / TEMPORAL_TLS_* for a secured cluster, ' +
        'and that the server is running (`npm run dev` starts a local one)',
      { cause },
    );
  }
}

async function connecting<T>(target: TemporalTarget, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (e) {
    throw new TemporalUnreachableError(target.connectionOptions.address ?? LOCAL_DEFAULT.address, target.namespace, e);
  }
}

/** Client-side connection (starter, webhook, operator CLI). `overrides` is for callers that want a shorter wait. */
export async function connectClient(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Pick<ConnectionOptions, 'connectTimeout'> = {},
): Promise<{ connection: Connection; namespace: string }> {
  const target = temporalTarget(env);
  const options = { ...(target.connectionOptions as ConnectionOptions), ...overrides };
  return {
    connection: await connecting(target, () => Connection.connect(options)),
    namespace: target.namespace,
  };
}

/** Worker-side (native) connection. */
export async function connectWorker(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ connection: NativeConnection; namespace: string }> {
  const target = temporalTarget(env);
  return {
    connection: await connecting(target, () => NativeConnection.connect(target.connectionOptions)),
    namespace: target.namespace,
  };
}
