/**
 * How every program (worker, webhook, API, starter, CLI) finds the merchant registry (docs/merchants.md):
 *
 * - production (WECHATPAY_BACKEND=production, or the stack file's `worker.wechatpay.backend: production`): the
 *   registry file named by WXREFUND_MERCHANTS, or an old single-merchant file named by WECHATPAY_CONFIG (a registry of
 *   one). Both at once is refused: which one wins would be a guess.
 * - local stack: the stack file's `merchants:` section (temporal-dev.yml, or WXREFUND_STACK_CONFIG); without one, a
 *   single default merchant as before: WECHATPAY_MCHID, else the simulator's first direct merchant, on
 *   WECHATPAY_API_VERSION / `worker.wechatpay.apiVersion`.
 *
 * Errors are ConfigErrors naming the variable or the key.
 */
import path from 'node:path';
import { ConfigError } from '../config/config-error';
import { loadStackConfig, type StackConfig } from '../config/stack-config';
import { describeStackFile, resolveStackPath, stackConfigFile } from '../config/stack-paths';
import { DEFAULT_KEYS_DIR } from '../simulator/manifest';
import { loadRegistryFile, readYamlFile, registryFromStackSection, type RegistryFileFormat } from './registry';
import { stackMerchantsSchema } from './registry-schema';
import { defaultSimulatorMchid, loadManifestFrom } from './simulator-credentials';
import type { MerchantRegistry } from './types';

export interface ProgramRegistry {
  registry: MerchantRegistry;
  /** The file to follow for reloads (registry-watch.ts): the registry file, or the stack file. */
  watchPath?: string;
}

const BACKENDS = ['simulator', 'production'] as const;

export function loadProgramRegistry(env: NodeJS.ProcessEnv = process.env): ProgramRegistry {
  const backend = env.WECHATPAY_BACKEND;
  if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new ConfigError('WECHATPAY_BACKEND: must be simulator or production');
  }
  // Production reads no stack file.
  if (backend === 'production') return productionRegistry(env);
  const stackFile = stackConfigFile(env);
  const stack = loadStackConfig(stackFile);
  if (backend === undefined && stack.worker.wechatpay.backend === 'production') return productionRegistry(env);
  return { registry: stackRegistry(stack, stackFile, env), watchPath: stackFile };
}

function productionRegistry(env: NodeJS.ProcessEnv): ProgramRegistry {
  const registryFile = env.WXREFUND_MERCHANTS;
  const merchantFile = env.WECHATPAY_CONFIG;
  if (registryFile && merchantFile) {
    throw new ConfigError(
      'WXREFUND_MERCHANTS and WECHATPAY_CONFIG are both set: set one (WXREFUND_MERCHANTS names the merchant registry; ' +
        'WECHATPAY_CONFIG is the older single-merchant file)',
    );
  }
  if (!registryFile && !merchantFile) {
    throw new ConfigError(
      'WXREFUND_MERCHANTS: required when WECHATPAY_BACKEND=production (path to the merchant registry file; ' +
        'WECHATPAY_CONFIG with a single-merchant file also works)',
    );
  }
  const [variable, file, format]: [string, string, RegistryFileFormat] = registryFile
    ? ['WXREFUND_MERCHANTS', registryFile, 'registry']
    : ['WECHATPAY_CONFIG', merchantFile as string, 'merchant-file'];
  try {
    return { registry: loadRegistryFile(file, { env, format }), watchPath: file };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${variable}: ${e.message}`);
    throw e;
  }
}

/** The local stack's registry: its `merchants:` section, or the single simulator merchant of old. */
export function stackRegistry(stack: StackConfig, stackFile: string, env: NodeJS.ProcessEnv): MerchantRegistry {
  const simulator = {
    keysDir: resolveStackPath(stackFile, stack.simulator.keysDir ?? DEFAULT_KEYS_DIR),
    ...(stack.webhook.publicBaseUrl !== undefined ? { webhookBaseUrl: stack.webhook.publicBaseUrl } : {}),
  };
  const baseDir = path.dirname(path.resolve(stackFile));
  const name = describeStackFile(stackFile);
  if (stack.merchants) {
    return registryFromStackSection(stack.merchants, { source: `${name} merchants`, baseDir, env, simulator });
  }
  const apiVersion = env.WECHATPAY_API_VERSION ?? stack.worker.wechatpay.apiVersion;
  if (apiVersion !== 'v3' && apiVersion !== 'v2') throw new ConfigError('WECHATPAY_API_VERSION: must be v3 or v2');
  const manifest = loadManifestFrom(simulator.keysDir);
  const mchid = defaultSimulatorMchid(manifest, env);
  const mode = manifest.merchants.find((m) => m.mchid === mchid)?.mode ?? 'direct';
  const section = stackMerchantsSchema.safeParse([
    { mchid, default: true, apiVersion, mode, credentials: 'simulator' },
  ]);
  if (!section.success) throw new ConfigError(`WECHATPAY_MCHID: ${section.error.issues[0].message}`);
  return registryFromStackSection(section.data, {
    source: `${name} (no merchants: section; the simulator's merchant ${mchid})`,
    baseDir,
    env,
    simulator,
  });
}

/** Looks like a stack file (it describes the Temporal dev server), not a registry file. */
function isStackFile(raw: unknown): boolean {
  return raw !== null && typeof raw === 'object' && 'temporal' in raw;
}

/** The registry at `file` as loadProgramRegistry read it there: a stack file, a registry file or an old merchant file. */
export function loadRegistryAt(file: string, env: NodeJS.ProcessEnv = process.env): MerchantRegistry {
  if (isStackFile(readYamlFile(file))) return stackRegistry(loadStackConfig(file), file, env);
  return loadRegistryFile(file, { env });
}
