/**
 * What a fresh cluster lacks that the dev server makes by itself: the namespace (with its retention) and the
 * engine's search attributes (the temporal: section's, the same as the dev server's). Asked through the SDK, changed
 * with the Temporal CLI (`temporal operator …`), as an operator would; each only when missing, so `up` is idempotent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TemporalDevServerConfig } from '../../config/stack-config';
import { temporalCliPath } from '../../config/tools';
import { frontendAddress, type ClusterConfig } from './cluster-config';
import { runCommand } from './run-command';
import { waitForTemporal } from '../dev-server';

/** Waits until the cluster's frontend answers (the dev server's wait, named for the cluster). */
export async function waitForFrontend(cluster: ClusterConfig, timeoutMs: number): Promise<void> {
  await waitForTemporal(frontendAddress(cluster), timeoutMs, undefined, "the cluster's frontend");
}

const isNotFound = (e: unknown) => (e as { code?: number }).code === 5; // gRPC NOT_FOUND

/** Registers the namespace unless it exists, then the missing search attributes; says what it did. */
export async function ensureNamespace(
  cluster: ClusterConfig,
  searchAttributes: TemporalDevServerConfig['searchAttributes'],
): Promise<string[]> {
  const address = frontendAddress(cluster);
  const { namespace } = cluster;
  const cli = (args: string[]) =>
    runCommand(temporalCliPath(), [...args, '--address', address, '--namespace', namespace]);
  const done: string[] = [];
  const connection = await Connection.connect({ address });
  try {
    try {
      await connection.workflowService.describeNamespace({ namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await cli(['operator', 'namespace', 'create', '--retention', `${cluster.namespaceRetention}d`]);
      done.push(`namespace ${namespace} registered (retention ${cluster.namespaceRetention} days)`);
    }
    // A new namespace reaches the frontend's namespace cache within seconds; until then it is "not found".
    const attributesNow = async () => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      return customAttributes ?? {};
    };
    const existing = await retrying(attributesNow, 60_000);
    const missing = Object.entries(searchAttributes).filter(([name]) => existing[name] === undefined);
    // One call per attribute: given several --name at once, CLI 1.5.1 against SQL visibility registers only the
    // first (and exits 0), so each is created alone and the list is checked afterwards.
    for (const [name, type] of missing) {
      await cli(['operator', 'search-attribute', 'create', '--name', name, '--type', type]);
      done.push(`search attribute ${name} (${type}) created`);
    }
    const after = await attributesNow();
    const absent = Object.keys(searchAttributes).filter((n) => after[n] === undefined);
    if (absent.length > 0) throw new Error(`search attributes not registered on ${address}: ${absent.join(', ')}`);
  } finally {
    await connection.close();
  }
  return done;
}

/** Calls `read` until it succeeds or `timeoutMs` has passed (then its last error is thrown). */
async function retrying<T>(read: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await sleep(500);
    }
  }
}

/** For `status`: whether the frontend answers and the namespace exists, within a short deadline. */
export async function namespaceAnswers(cluster: ClusterConfig): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address: frontendAddress(cluster), connectTimeout: 2_000 });
    try {
      await connection.withDeadline(Date.now() + 3_000, () =>
        connection.workflowService.describeNamespace({ namespace: cluster.namespace }),
      );
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/** The server's version as the frontend reports it (GetSystemInfo), for `up`'s summary. */
export async function serverVersion(cluster: ClusterConfig): Promise<string> {
  const connection = await Connection.connect({ address: frontendAddress(cluster) });
  try {
    const info: temporal.api.workflowservice.v1.IGetSystemInfoResponse = await connection.workflowService.getSystemInfo(
      {},
    );
    return info.serverVersion ?? 'unknown';
  } finally {
    await connection.close();
  }
}
