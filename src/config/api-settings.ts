/**
 * What the HTTP API (`npm run api`) starts with: the `api:` section of the stack file (temporal-dev.yml, or the file
 * named by WXREFUND_STACK_CONFIG), validated by stack-config.ts, its devKeyFile resolved against the file's folder;
 * the task queue of the stack's worker (WXREFUND_TASK_QUEUE overrides); Temporal through its own env conventions
 * (temporal-connection.ts), by default the stack's dev server.
 */
import type { ApiConfig } from '../api/config';
import { loadStackConfig } from './stack-config';
import { describeStackFile, stackConfigFile } from './stack-paths';
import { temporalTarget, type TemporalTarget } from './temporal-connection';

export interface ApiSettings {
  /** devKeyFile is absolute. */
  config: ApiConfig;
  taskQueue: string;
  temporal: TemporalTarget;
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
  return {
    config: stack.api,
    taskQueue: env.WXREFUND_TASK_QUEUE ?? stack.worker.taskQueue,
    temporal: temporalTarget({ ...devServer, ...env }),
    source: describeStackFile(file),
  };
}
