/**
 * Which payload encryption a program of this repository starts with (docs/encryption.md): the one rule the worker,
 * the API, the webhook, the operator and refund CLIs and the demo share, so that all of them read and write with the
 * same keys.
 *
 * - WXREFUND_PAYLOAD_KEYS, when set, always wins (and WXREFUND_PAYLOAD_ENCRYPTION=off|decrypt-only applies).
 * - Production (WECHATPAY_BACKEND=production): nothing else. Without the keys the program refuses to start with a
 *   ConfigError naming WXREFUND_PAYLOAD_KEYS, unless WXREFUND_PAYLOAD_ENCRYPTION=off says explicitly that payloads are
 *   stored in clear. A production process never makes a key: one on a single machine's disk would lose every refund
 *   encrypted under it with that disk.
 * - Local stack: the stack file's `codec.devKeyFile` (made on first start; `npm run dev` makes it before any process
 *   starts). A stack file without that line (a production one) makes no key, so the variable is required again.
 *
 * The order service's library does not come here (this module reads the stack file): it calls payloadEncryption()
 * from src/starter.ts with its own environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isEncryptionWarning, payloadEncryption, type PayloadEncryption } from '../codec/process-encryption';
import { describeZodError } from '../domain/zod-errors';
import { codecConfigSchema } from './codec-settings';
import { ConfigError } from './config-error';
import { describeStackFile, resolveStackPath, stackConfigFile } from './stack-paths';

export type { PayloadEncryption };

/** True when the environment asks for the real WeChat Pay: then no stack file is read and no dev key is made. */
export function isProduction(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WECHATPAY_BACKEND === 'production';
}

/**
 * The local stack's payload key file (absolute), or undefined in production. `stack` is the stack file the program
 * has already loaded; without it, the `codec:` section of the stack file (WXREFUND_STACK_CONFIG, else temporal-dev.yml)
 * is read when the file exists, and only that section: the webhook and the CLIs run with partial stack files too.
 */
export function devPayloadKeyFile(
  env: NodeJS.ProcessEnv = process.env,
  stack?: { codec: { devKeyFile?: string } },
): string | undefined {
  if (isProduction(env)) return undefined;
  if (stack) return stack.codec.devKeyFile;
  const file = stackConfigFile(env);
  if (!existsSync(file)) return undefined;
  const source = describeStackFile(file);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  const section = doc && typeof doc === 'object' ? (doc as { codec?: unknown }).codec : undefined;
  const parsed = codecConfigSchema.safeParse(section ?? {});
  if (!parsed.success) throw new ConfigError(`${source}: codec: ${describeZodError(parsed.error)}`);
  const { devKeyFile } = parsed.data;
  return devKeyFile === undefined ? undefined : resolveStackPath(file, devKeyFile);
}

/** The program's key ring and data converter, by the rule above. Throws a ConfigError naming the setting. */
export function programPayloadEncryption(
  env: NodeJS.ProcessEnv = process.env,
  stack?: { codec: { devKeyFile?: string } },
): PayloadEncryption {
  return payloadEncryption({ env, devKeyFile: devPayloadKeyFile(env, stack) });
}

/** Logs the start-up line: a warning when payloads are (or new ones will be) stored in clear. */
export function logPayloadEncryption(
  encryption: Pick<PayloadEncryption, 'description'>,
  log: { info(message: string): void; warn(message: string): void },
): void {
  if (isEncryptionWarning(encryption.description)) log.warn(encryption.description);
  else log.info(encryption.description);
}
