/**
 * What the HTTP API (`npm run api`) starts with: the `api:` section of the stack file (temporal-dev.yml, or the file
 * named by WXREFUND_STACK_CONFIG), validated by stack-config.ts, its devKeyFile resolved against the file's folder;
 * the task queue of the stack's worker (WXREFUND_TASK_QUEUE overrides); Temporal through its own env conventions
 * (temporal-connection.ts), by default the stack's dev server; the deployment's merchants through the one function
 * every program finds them with (src/merchants/program-registry.ts: WXREFUND_MERCHANTS or WECHATPAY_CONFIG in
 * production, the stack file's `merchants:` section locally), so the API refuses a merchant no worker serves.
 */
import type { ApiConfig } from '../api/config';
import { loadProgramRegistry } from '../merchants/program-registry';
import { watchRegistry } from '../merchants/registry-watch';
import type { MerchantRegistry } from '../merchants/types';
import { loadStackConfig } from './stack-config';
import { describeStackFile, stackConfigFile } from './stack-paths';
import { temporalTarget, type TemporalTarget } from './temporal-connection';

export interface ApiSettings {
  /** devKeyFile is absolute. */
  config: ApiConfig;
  taskQueue: string;
  temporal: TemporalTarget;
  merchants: MerchantRegistry;
  /** The registry's file when it has one of its own (production): the program reloads the merchants when it changes. */
  merchantsWatchPath?: string;
  /** The stack file it came from, for messages. */
  source: string;
}

export function apiSettingsFromStackFile(env: NodeJS.ProcessEnv = process.env): ApiSettings {
  const file = stackConfigFile(env);
  const stack = loadStackConfig(file);
  const devServer = {
    TEMPORAL_ADDRESS: `${stack.temporal.ip}:${stack.temporal.port}`,
    TEMPORAL_NAMESPACE: stack.temporal.namespace,
  };
  const { registry, watchPath } = loadProgramRegistry(env);
  return {
    config: stack.api,
    merchants: registry,
    ...(watchPath !== undefined ? { merchantsWatchPath: watchPath } : {}),
    taskQueue: env.WXREFUND_TASK_QUEUE ?? stack.worker.taskQueue,
    temporal: temporalTarget({ ...devServer, ...env }),
    source: describeStackFile(file),
  };
}

/** Where the API says what became of a reload (its pino logger). */
export interface MerchantsLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * The deployment's merchants as of now, for createApiServer's `merchants`: follows the registry's file (changes and
 * SIGHUP, src/merchants/registry-watch.ts) so a merchant added to the registry is accepted without a restart. An
 * invalid new file keeps the previous merchants, and says why.
 */
export function followMerchants(
  settings: Pick<ApiSettings, 'merchants' | 'merchantsWatchPath'>,
  log: MerchantsLog,
  env: NodeJS.ProcessEnv = process.env,
): { merchants: () => MerchantRegistry; close(): void } {
  let current = settings.merchants;
  const watch =
    settings.merchantsWatchPath === undefined
      ? undefined
      : watchRegistry(settings.merchantsWatchPath, {
          env,
          onReload(next) {
            current = next;
            log.info({ registry: next.source, merchants: next.list().length }, 'merchant registry reloaded');
          },
          onError(err) {
            log.error({ detail: err.message }, 'merchant registry not reloaded; the previous one stays');
          },
        });
  return { merchants: () => current, close: () => watch?.close() };
}
