/**
 * The one rule for paths written in a stack file (temporal-dev.yml, or the file named by WXREFUND_STACK_CONFIG): a
 * relative path is relative to the folder of the file that holds it, whichever process reads it. For temporal-dev.yml
 * that folder is the repository root; a stack file elsewhere keeps its data beside itself, and the simulator, the
 * webhook and the worker all look in the same place.
 */
import path from 'node:path';
import { DEFAULT_KEYS_DIR } from '../simulator/manifest';

/** temporal-dev.yml at the repository root (this file lives in src/config or lib/config). */
export const DEFAULT_STACK_CONFIG_PATH = path.resolve(__dirname, '..', '..', 'temporal-dev.yml');

/** The stack file the local stack's processes read: WXREFUND_STACK_CONFIG, else temporal-dev.yml. */
export function stackConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.WXREFUND_STACK_CONFIG ?? DEFAULT_STACK_CONFIG_PATH;
}

/** A path as written in `stackFile`, made absolute by the rule above (absolute paths are kept as they are). */
export function resolveStackPath(stackFile: string, p: string): string {
  return path.resolve(path.dirname(path.resolve(stackFile)), p);
}

/** How a stack file is named in messages: relative to the working directory when that is shorter. */
export function describeStackFile(stackFile: string): string {
  return path.relative(process.cwd(), stackFile) || stackFile;
}

/** `{ file }` sources of secrets and PEM material (webhook merchants), with their path resolved. */
function resolveFileSource<T>(stackFile: string, source: T): T {
  if (source && typeof source === 'object' && 'file' in source && typeof source.file === 'string') {
    return { ...source, file: resolveStackPath(stackFile, source.file) };
  }
  return source;
}

interface WebhookPaths {
  orphanLogPath: string;
  outbox: { dir: string };
  simulatorKeysDir?: string;
  merchants: Array<{
    v3?: { apiV3Key: unknown; platformCertificates: unknown[]; publicKeys: unknown[] };
    v2?: { apiKey: unknown };
  }>;
}

/** The webhook section's paths: the orphan log, the outbox, the simulator's keys, and the merchants' key and certificate files. */
export function resolveWebhookPaths<T extends WebhookPaths>(stackFile: string, webhook: T): T {
  const file = <S>(source: S) => resolveFileSource(stackFile, source);
  return {
    ...webhook,
    orphanLogPath: resolveStackPath(stackFile, webhook.orphanLogPath),
    outbox: { ...webhook.outbox, dir: resolveStackPath(stackFile, webhook.outbox.dir) },
    ...(webhook.simulatorKeysDir !== undefined
      ? { simulatorKeysDir: resolveStackPath(stackFile, webhook.simulatorKeysDir) }
      : {}),
    merchants: webhook.merchants.map((m) => ({
      ...m,
      ...(m.v3
        ? {
            v3: {
              ...m.v3,
              apiV3Key: file(m.v3.apiV3Key),
              platformCertificates: m.v3.platformCertificates.map(file),
              publicKeys: m.v3.publicKeys.map(file),
            },
          }
        : {}),
      ...(m.v2 ? { v2: { ...m.v2, apiKey: file(m.v2.apiKey) } } : {}),
    })),
  };
}

/**
 * The simulator section's paths: its keys directory (where it writes manifest.json, which the worker and webhook read;
 * `.data/simulator/keys` when absent) and its state file.
 */
export function resolveSimulatorPaths<T extends { keysDir?: unknown; stateFile?: unknown }>(
  stackFile: string,
  simulator: T,
): T & { keysDir: string } {
  return {
    ...simulator,
    keysDir: resolveStackPath(stackFile, String(simulator.keysDir ?? DEFAULT_KEYS_DIR)),
    ...(typeof simulator.stateFile === 'string' && simulator.stateFile.length > 0
      ? { stateFile: resolveStackPath(stackFile, simulator.stateFile) }
      : {}),
  };
}
