/**
 * The webhook's own settings (the `webhook:` section of temporal-dev.yml, or env in production). Every value has a
 * safe default except the merchants, whose verification material only the operator knows.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().positive();

/**
 * A secret is never written inline in production config: it names an env variable or a file. Inline `value` exists for
 * the local stack, whose keys are the simulator's throw-away test keys.
 */
export const secretSourceSchema = z.union([
  z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name') }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ value: z.string().min(1) }).strict(),
]);
export type SecretSource = z.infer<typeof secretSourceSchema>;

/** PEM material: a path to a PEM file, or the PEM text itself. */
const pemSourceSchema = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ pem: z.string().includes('-----BEGIN', { message: 'must be PEM text' }) }).strict(),
]);
export type PemSource = z.infer<typeof pemSourceSchema>;

export const merchantConfigSchema = z
  .object({
    /** The merchant that receives notifications: the merchant itself (direct mode) or the service provider (partner). */
    mchid: z.string().regex(/^[0-9]{1,32}$/, 'must be 1-32 digits'),
    v3: z
      .object({
        /** The 32-character APIv3 key set in the merchant portal (decrypts `resource`). */
        apiV3Key: secretSourceSchema,
        /** WeChat Pay platform certificates (certificate mode); the serial is read from each certificate. */
        platformCertificates: z.array(pemSourceSchema).default([]),
        /** WeChat Pay public keys (public-key mode), keyed by their `PUB_KEY_ID_…`. */
        publicKeys: z
          .array(
            z
              .object({ id: z.string().regex(/^PUB_KEY_ID_[0-9A-Za-z_]+$/, 'must start with PUB_KEY_ID_') })
              .and(pemSourceSchema),
          )
          .default([]),
      })
      .strict()
      .refine((v3) => v3.platformCertificates.length + v3.publicKeys.length > 0, {
        message: 'needs at least one platform certificate or WeChat Pay public key',
        path: ['platformCertificates'],
      })
      .optional(),
    v2: z
      .object({
        /** The 32-character API v2 key (decrypts `req_info`; v2 notifications are not signed). */
        apiKey: secretSourceSchema,
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((m) => m.v3 !== undefined || m.v2 !== undefined, {
    message: 'needs v3 and/or v2 verification material',
    path: ['v3'],
  });
export type MerchantConfig = z.infer<typeof merchantConfigSchema>;

/**
 * webhook.signalConcurrency when not set, measured on the dev server with bench 5 (bench/in-flight-10k.ts, 2,000
 * notifications at once, 2026-12-03). With the outbox, few signals at once is best: those finish quickly and the rest
 * are stored and answered within a few seconds; 64 gave 1.00, 1.90 and 1.00 deliveries per notification in three
 * runs (the second one's deferred answers took 2–5 s on the loaded machine), 1,000 gave 1.98 (a thousand signals at once each
 * took over 3 s, ran out of their signalTimeoutMs, and were stored only then). Without the outbox a notification held back is answered 503, so as
 * many at once as the server can take is best: a burst of 300 got 1.0 deliveries per notification with all 300 at
 * once and 3.1 with 32; 1,000 got 6.6 with 256. The bound keeps a burst of 10,000 from starting 10,000 calls.
 */
export const SIGNAL_CONCURRENCY_DEFAULTS = { withOutbox: 64, withoutOutbox: 1_000 } as const;

export const webhookConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 = any free port (tests). */
    port: port.default(18090),
    /** Public URL WeChat calls (refunds carry `<publicBaseUrl>/wechatpay/v3/refund-notify/<mchid>` as notify_url). */
    publicBaseUrl: z.url().optional(),
    /** Real notifications are ~1-2 KB; anything much larger is not WeChat and is refused with 413. */
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(64 * 1024),
    /** Whole request (headers + body) must arrive within this; slow clients get 408. */
    requestTimeoutMs: positiveMs.default(10_000),
    /** WeChat waits 5 s for an answer: the Temporal signal gets less than that, then we answer 503 (WeChat retries). */
    signalTimeoutMs: positiveMs.max(4_500, 'must stay under WeChat’s 5 s reply deadline').default(3_000),
    /**
     * The whole notification route (verification, waiting for a signal slot, signal), counted from the request's
     * arrival: 503 after this, still under 5 s, unless a signal is already under way (its answer is awaited instead).
     */
    handlerTimeoutMs: positiveMs.max(4_900, 'must stay under WeChat’s 5 s reply deadline').default(4_500),
    /**
     * Temporal signals in flight at once. In a burst the other notifications wait their turn in arrival order: with
     * the outbox, for at most `outbox.deferAfterMs`, then they are stored and answered 200; without it, while their
     * handlerTimeoutMs budget still leaves time for a signal, then 503. A signal competes with the workflow tasks the
     * signals before it caused, so more signals at once make each one slower. Default: 64 with the outbox, 1,000
     * without (SIGNAL_CONCURRENCY_DEFAULTS below, measured by bench 5).
     */
    signalConcurrency: z.number().int().min(1).max(5_000).optional(),
    healthTimeoutMs: positiveMs.default(1_000),
    /** ±window for Wechatpay-Timestamp (reference §3.3). */
    timestampToleranceSeconds: z.number().int().positive().max(3600).default(300),
    dedupe: z
      .object({
        /** Notification ids remembered after a successful signal (bounded LRU). */
        maxEntries: z.number().int().positive().default(10_000),
        /** WeChat retries within seconds to hours; a short window catches bursts, the workflow handles the rest. */
        ttlMs: positiveMs.default(10 * 60_000),
      })
      .strict()
      .default({ maxEntries: 10_000, ttlMs: 10 * 60_000 }),
    /**
     * Verified notifications that could not be signalled within WeChat's answer budget (a burst, a Temporal outage)
     * are stored here and acknowledged, then signalled by the relay (outbox.ts). Each webhook instance needs a
     * directory of its own on a disk that survives restarts; disabled: such notifications are answered 503.
     */
    outbox: z
      .object({
        enabled: z.boolean().default(true),
        dir: z.string().min(1).default('.data/webhook/outbox'),
        /** Past this many stored entries, notifications that cannot be signalled in time are answered 503 again. */
        maxEntries: z.number().int().positive().default(100_000),
        /**
         * A notification that cannot start its signal (no free slot of webhook.signalConcurrency) within this long is
         * stored and answered 200 instead of waiting for the rest of WeChat's 5 s: in a burst the deliveries beyond
         * the slots are answered in about this long, and the relay signals them at Temporal's pace.
         */
        deferAfterMs: positiveMs.max(4_000, 'must leave time to store within WeChat’s 5 s').default(1_000),
        /** Signals the relay has in flight at once (on top of webhook.signalConcurrency). */
        concurrency: z.number().int().min(1).max(1_000).default(32),
        /** The relay's longest pause while Temporal does not take signals (1 s, doubling up to this). */
        maxBackoffMs: positiveMs.default(30_000),
      })
      .strict()
      .prefault({}),
    /** Append-only JSONL of notifications whose refund workflow does not exist (for reconciliation). */
    orphanLogPath: z.string().min(1).default('.data/webhook/orphans.jsonl'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** The merchant served by the routes without `:mchid`. Defaults to the only merchant when there is one. */
    defaultMchid: z.string().optional(),
    merchants: z.array(merchantConfigSchema).default([]),
    /**
     * Local stack: when `merchants` is empty, verify with the keys of every merchant in the simulator's manifest.json
     * found in this directory (the simulator's `keysDir`).
     */
    simulatorKeysDir: z.string().min(1).optional(),
    /** Temporal connection; production fills it from Temporal's env conventions (TEMPORAL_ADDRESS...). */
    temporal: z
      .object({
        address: z.string().min(1).default('127.0.0.1:7233'),
        namespace: z.string().min(1).default('default'),
      })
      .strict()
      .default({ address: '127.0.0.1:7233', namespace: 'default' }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.merchants.forEach((m, i) => {
      if (seen.has(m.mchid))
        ctx.addIssue({ code: 'custom', message: `duplicate mchid ${m.mchid}`, path: ['merchants', i, 'mchid'] });
      seen.add(m.mchid);
    });
    if (cfg.signalTimeoutMs >= cfg.handlerTimeoutMs) {
      ctx.addIssue({ code: 'custom', message: 'must be less than handlerTimeoutMs', path: ['signalTimeoutMs'] });
    }
    // Merchants may also be injected (simulator manifest, tests); the server checks the default against those.
    if (cfg.merchants.length > 0 && cfg.defaultMchid !== undefined && !seen.has(cfg.defaultMchid)) {
      ctx.addIssue({ code: 'custom', message: 'must be the mchid of a configured merchant', path: ['defaultMchid'] });
    }
  })
  .transform((cfg) => ({
    ...cfg,
    signalConcurrency:
      cfg.signalConcurrency ??
      (cfg.outbox.enabled ? SIGNAL_CONCURRENCY_DEFAULTS.withOutbox : SIGNAL_CONCURRENCY_DEFAULTS.withoutOutbox),
  }));

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;
export type WebhookConfigInput = z.input<typeof webhookConfigSchema>;
