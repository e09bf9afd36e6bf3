/**
 * The HTTP API's own settings: the `api:` section of temporal-dev.yml (validated by stack-config.ts with this schema,
 * so a bad key is named at start-up). API keys are configured as the SHA-256 of the key (hex), never the key itself.
 */
import { z } from 'zod';

const sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be the SHA-256 of the key as 64 lower-case hex digits (never the key itself)');

export const apiKeyConfigSchema = z
  .object({
    /** Who holds the key (e.g. order-service): written to logs and to the refund's audit trail (requestedBy). */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, 'must be 1-40 of A-Z a-z 0-9 . _ -'),
    sha256: sha256Hex,
  })
  .strict();
export type ApiKeyConfig = z.infer<typeof apiKeyConfigSchema>;

export const apiConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 = any free port (tests). */
    port: z.number().int().min(0).max(65535).default(18070),
    /** Who may call. Empty: the dev stack's program makes one key and writes it to `devKeyFile` (never production). */
    keys: z.array(apiKeyConfigSchema).default([]),
    /** Where the generated dev key is written (relative to the stack file's folder); its hash goes beside it. */
    devKeyFile: z.string().min(1).default('.data/api/dev-api-key'),
    /** Refund requests are a few hundred bytes; larger bodies get 413. */
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** How long a POST waits for the ledger's decision before answering 503 (nothing decided, safe to repeat). */
    decisionTimeoutMs: z.number().int().min(1_000).max(60_000).default(5_000),
    /** Reads (queries) and the health check give up after this. */
    queryTimeoutMs: z.number().int().positive().max(60_000).default(5_000),
    /** /healthz answers 503 when Temporal does not answer within this. */
    healthTimeoutMs: z.number().int().positive().max(10_000).default(1_000),
    /** Sent as Retry-After (seconds) with every 503. */
    retryAfterSeconds: z.number().int().min(1).max(3600).default(2),
    requestTimeoutMs: z.number().int().positive().default(30_000),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    const hashes = new Set<string>();
    cfg.keys.forEach((k, i) => {
      if (names.has(k.name))
        ctx.addIssue({ code: 'custom', message: `duplicate name ${k.name}`, path: ['keys', i, 'name'] });
      if (hashes.has(k.sha256))
        ctx.addIssue({ code: 'custom', message: 'duplicate key hash', path: ['keys', i, 'sha256'] });
      names.add(k.name);
      hashes.add(k.sha256);
    });
    if (cfg.decisionTimeoutMs >= cfg.requestTimeoutMs) {
      ctx.addIssue({ code: 'custom', message: 'must be less than requestTimeoutMs', path: ['decisionTimeoutMs'] });
    }
  });

export type ApiConfig = z.infer<typeof apiConfigSchema>;
export type ApiConfigInput = z.input<typeof apiConfigSchema>;
