/**
 * Payload encryption and the codec server in a stack file: its `codec:` section (docs/encryption.md), validated by
 * stack-config.ts with `codecConfigSchema`, so a bad key is named at start-up.
 *
 * - `devKeyFile`: the local stack's payload key file, made on first start (src/codec/payload-keys.ts). It has NO
 *   default on purpose: a stack file without it (a production one) never makes a key on some machine's disk, and the
 *   processes then require WXREFUND_PAYLOAD_KEYS. WXREFUND_PAYLOAD_KEYS, when set, always wins over the file.
 * - `server`: the codec server the Web UI and the `temporal` CLI decode through (`npm run codec`). Empty
 *   `allowedOrigins` means the stack's own Web UIs (temporal.ip and localhost at temporal.uiPort, and at cluster.uiPort
 *   when the file has a cluster); empty `namespaces` means temporal.namespace; empty `keys` means the API's keys
 *   (api.keys, else its dev key).
 *
 * The keys themselves are never written here: only SHA-256 hashes of API keys, and a path to the dev payload key.
 */
import { z } from 'zod';
import { apiKeyConfigSchema, type ApiKeyConfig } from '../api/config';
import type { CodecServerOptions } from '../codec/codec-server';
import { DEFAULT_CODEC_BODY_LIMIT_BYTES, isLoopbackHost } from '../codec/server-policy';
import { describeZodError } from '../domain/zod-errors';
import { ConfigError } from './config-error';

export const codecServerConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 = any free port (tests). */
    port: z.number().int().min(0).max(65535).default(18099),
    /** Web UI origins, e.g. https://temporal-ui.example.com. Empty: the dev server's Web UI. */
    allowedOrigins: z
      .array(z.url({ protocol: /^https?$/, error: 'must be an origin: http(s)://host[:port]' }))
      .default([]),
    /** Namespaces served (the X-Namespace header). Empty: temporal.namespace. */
    namespaces: z.array(z.string().min(1)).default([]),
    /**
     * Dev only: an allowed Web UI origin may call without a key (the dev server's Web UI has no login and sends no
     * token). Accepted only with a loopback host; see src/codec/codec-server.ts for why.
     */
    allowOriginWithoutKey: z.boolean().default(false),
    /** Who may call with Authorization: Bearer <key> (name + SHA-256). Empty: the API's keys. */
    keys: z.array(apiKeyConfigSchema).default([]),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(DEFAULT_CODEC_BODY_LIMIT_BYTES),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.allowOriginWithoutKey && !isLoopbackHost(cfg.host)) {
      ctx.addIssue({
        code: 'custom',
        message: `only with a loopback host (127.0.0.1, ::1, localhost), not ${cfg.host}`,
        path: ['allowOriginWithoutKey'],
      });
    }
  });

export const codecConfigSchema = z
  .object({
    /** The local stack's payload key file (relative to the stack file's folder). No default: see above. */
    devKeyFile: z.string().min(1).optional(),
    server: codecServerConfigSchema.prefault({}),
  })
  .strict();

export type CodecConfig = z.infer<typeof codecConfigSchema>;
export type CodecConfigInput = z.input<typeof codecConfigSchema>;

/** The section with devKeyFile made absolute (stack-config.ts passes its resolver, as for the other sections). */
export function resolveCodecPaths<T extends { devKeyFile?: string }>(resolve: (p: string) => string, codec: T): T {
  return codec.devKeyFile === undefined ? codec : { ...codec, devKeyFile: resolve(codec.devKeyFile) };
}

/** What the codec server program needs from the rest of the stack file. */
export interface CodecStackContext {
  temporal: { ip: string; uiPort: number; namespace: string };
  api: { keys: readonly ApiKeyConfig[]; devKeyFile: string };
  /** The stack file's PostgreSQL cluster, if any (npm run stack:cluster): its Web UI is a default origin too. */
  cluster?: { uiPort: number };
}

export interface CodecServerSettings {
  enabled: boolean;
  /** Everything startCodecServer needs but the key ring. */
  server: Omit<CodecServerOptions, 'keys' | 'logStream'>;
  /** For loadPayloadKeys: undefined in a stack file without `codec.devKeyFile`. */
  devKeyFile?: string;
  /** Set when neither codec.server.keys nor api.keys names a key: the program accepts the API's dev key from here. */
  devApiKeyFile?: string;
}

/**
 * The codec server's settings from a stack file's `codec:` section (raw or already parsed: parsing is idempotent)
 * and its `temporal:` and `api:` sections. `source` names the file in messages.
 */
export function codecServerSettings(
  section: CodecConfigInput | undefined,
  stack: CodecStackContext,
  source = 'temporal-dev.yml',
): CodecServerSettings {
  const parsed = codecConfigSchema.safeParse(section ?? {});
  if (!parsed.success) throw new ConfigError(`${source}: codec: ${describeZodError(parsed.error)}`);
  const { server, devKeyFile } = parsed.data;
  const { ip, uiPort, namespace } = stack.temporal;
  const localUi = (port: number) => [`http://${ip}:${port}`, `http://localhost:${port}`, `http://127.0.0.1:${port}`];
  const allowedOrigins =
    server.allowedOrigins.length > 0
      ? server.allowedOrigins
      : [...new Set([...localUi(uiPort), ...(stack.cluster ? localUi(stack.cluster.uiPort) : [])])];
  const apiKeys = server.keys.length > 0 ? server.keys : stack.api.keys;
  return {
    enabled: server.enabled,
    server: {
      host: server.host,
      port: server.port,
      allowedOrigins,
      namespaces: server.namespaces.length > 0 ? server.namespaces : [namespace],
      apiKeys,
      allowOriginWithoutKey: server.allowOriginWithoutKey,
      bodyLimitBytes: server.bodyLimitBytes,
      logLevel: server.logLevel,
    },
    ...(devKeyFile !== undefined ? { devKeyFile } : {}),
    ...(apiKeys.length === 0 ? { devApiKeyFile: stack.api.devKeyFile } : {}),
  };
}
