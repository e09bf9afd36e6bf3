/**
 * Where refund events go and how they are signed and retried (docs/events.md):
 *
 * - local stack: the `events:` section of temporal-dev.yml (or WXREFUND_STACK_CONFIG), validated by stack-config.ts
 *   with `eventsConfigSchema`. A `{ file }` secret that does not exist yet is made on first start (32 random bytes,
 *   hex, mode 0600), like the API's dev key, so the worker and the stand-in receiver share it without anyone
 *   writing a secret into the file.
 * - production: the environment only: WXREFUND_EVENTS_URL (unset: no events), WXREFUND_EVENTS_SECRET or
 *   WXREFUND_EVENTS_SECRET_FILE, WXREFUND_EVENTS_TIMEOUT_MS. The retry policy keeps its defaults there.
 *
 * The secret is only ever named by reference (`{ env: NAME }` or `{ file: path }`), never written in the config, and
 * no message quotes it. Errors are ConfigErrors naming the key or variable.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { describeZodError } from '../domain/zod-errors';
import { ConfigError } from './config-error';

/** Three days: how long the issue promises to keep retrying an event the order service does not accept. */
export const THREE_DAYS_MS = 3 * 24 * 3_600_000;
/** Shorter secrets are refused: HMAC's strength is the secret's. */
export const MIN_SECRET_LENGTH = 16;

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  // Runs even when the format check failed (zod 4 goes on), hence the canParse.
  .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), {
    message: 'must not carry a user or password (they would be logged with the URL); events are signed instead',
  });

const SECRET_SOURCE_RULE =
  'must be { env: NAME } or { file: path } (the secret itself is never written in configuration)';

/** One object with one of two keys (not a union), so a wrong value is named by its own key (events.secret.file). */
export const eventsSecretSourceSchema = z
  .strictObject(
    {
      env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name')
        .optional(),
      file: z.string().min(1, 'must be a path').optional(),
    },
    // Only for a non-object; an unknown key keeps zod's message, which names it.
    { error: (issue) => (issue.code === 'invalid_type' ? SECRET_SOURCE_RULE : undefined) },
  )
  .refine((s) => (s.env === undefined) !== (s.file === undefined), { error: SECRET_SOURCE_RULE })
  .transform((s): { env: string } | { file: string } => (s.env !== undefined ? { env: s.env } : { file: s.file! }));
export type EventsSecretSource = z.output<typeof eventsSecretSourceSchema>;

/**
 * The delivery schedule of one event (workflows/event-delivery.ts): the first retry after initialIntervalMs, each wait multiplied by
 * backoffCoefficient up to maximumIntervalMs, and no attempt after giveUpAfterMs from the first. Production keeps
 * giveUpAfterMs at three days or more (the default); it may be shorter only so that tests end.
 */
export const eventRetrySchema = z
  .object({
    initialIntervalMs: z.number().int().min(100).default(10_000),
    backoffCoefficient: z.number().min(1).max(10).default(2),
    maximumIntervalMs: z.number().int().min(100).default(3_600_000),
    giveUpAfterMs: z.number().int().min(1_000).default(THREE_DAYS_MS),
  })
  .strict()
  .refine((r) => r.maximumIntervalMs >= r.initialIntervalMs, {
    message: 'must be at least initialIntervalMs',
    path: ['maximumIntervalMs'],
  });
export type EventRetryPolicy = z.infer<typeof eventRetrySchema>;

const timeoutMsSchema = z.number().int().min(100).max(120_000);

export const eventsConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** The order service's endpoint that receives the events. */
    url: httpUrl.optional(),
    /** The HMAC secret the order service verifies with, by reference only. */
    secret: eventsSecretSourceSchema.optional(),
    /** One attempt (connect, send, answer); a slower receiver counts as a failed attempt and is retried. */
    timeoutMs: timeoutMsSchema.default(10_000),
    retry: eventRetrySchema.prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (!cfg.enabled) return;
    if (cfg.url === undefined) ctx.addIssue({ code: 'custom', message: 'required when enabled', path: ['url'] });
    if (cfg.secret === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'required when enabled: { env: NAME } or { file: path }',
        path: ['secret'],
      });
    }
  });
export type EventsConfig = z.infer<typeof eventsConfigSchema>;
export type EventsConfigInput = z.input<typeof eventsConfigSchema>;

/** What the worker delivers events with (the secret loaded). Undefined anywhere means: events are off. */
export interface EventsSettings {
  url: string;
  secret: string;
  timeoutMs: number;
  retry: EventRetryPolicy;
}

/** The section with its `{ file }` secret made absolute against the stack file's folder (stack-config.ts). */
export function resolveEventsPaths<T extends { secret?: EventsSecretSource }>(
  resolve: (p: string) => string,
  events: T,
): T {
  const secret = events.secret;
  return secret && 'file' in secret ? { ...events, secret: { file: resolve(secret.file) } } : events;
}

/**
 * The local stack's settings from its `events:` section (parsed here again, so a raw section works too); relative
 * paths are resolved against `stackDir`. Undefined when events are off. `source` names the file in messages.
 */
export function eventsSettingsFromSection(
  section: EventsConfigInput | undefined,
  stackDir: string,
  env: NodeJS.ProcessEnv = process.env,
  source?: string,
): EventsSettings | undefined {
  const where = (key: string) => `${source ? `${source}: ` : ''}events.${key}`;
  const parsed = eventsConfigSchema.safeParse(section ?? {});
  if (!parsed.success) throw new ConfigError(where(describeZodError(parsed.error)));
  const cfg = parsed.data;
  if (!cfg.enabled) return undefined;
  // The schema requires both once enabled.
  const url = cfg.url!;
  const ref = cfg.secret!;
  let secret: string;
  if ('env' in ref) {
    const value = env[ref.env]?.trim();
    if (!value) throw new ConfigError(`${where('secret')}: environment variable ${ref.env} is not set`);
    secret = value;
  } else {
    secret = ensureDevEventsSecret(path.resolve(stackDir, ref.file), where('secret')).secret;
  }
  return { url, secret: checkedSecret(secret, where('secret')), timeoutMs: cfg.timeoutMs, retry: cfg.retry };
}

/** A production worker's settings, from the environment alone. Undefined when WXREFUND_EVENTS_URL is not set. */
export function eventsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): EventsSettings | undefined {
  const { WXREFUND_EVENTS_URL: url, WXREFUND_EVENTS_SECRET: inline, WXREFUND_EVENTS_SECRET_FILE: file } = env;
  const timeoutText = env.WXREFUND_EVENTS_TIMEOUT_MS;
  if (!url) {
    const orphan = (['WXREFUND_EVENTS_SECRET', 'WXREFUND_EVENTS_SECRET_FILE', 'WXREFUND_EVENTS_TIMEOUT_MS'] as const)
      .filter((name) => env[name])
      .join(', ');
    // A secret without a URL is a deployment that meant to send events and would silently send none.
    if (orphan) throw new ConfigError(`WXREFUND_EVENTS_URL: required when ${orphan} is set`);
    return undefined;
  }
  const checkedUrl = httpUrl.safeParse(url);
  if (!checkedUrl.success) {
    throw new ConfigError(`WXREFUND_EVENTS_URL: ${describeZodError(checkedUrl.error)}`);
  }
  if (inline && file) {
    throw new ConfigError('WXREFUND_EVENTS_SECRET, WXREFUND_EVENTS_SECRET_FILE: set one of them, not both');
  }
  let secret: string;
  if (file) {
    secret = readSecretFile(file, 'WXREFUND_EVENTS_SECRET_FILE');
  } else if (inline) {
    secret = checkedSecret(inline.trim(), 'WXREFUND_EVENTS_SECRET');
  } else {
    throw new ConfigError(
      'WXREFUND_EVENTS_SECRET: required when WXREFUND_EVENTS_URL is set (or WXREFUND_EVENTS_SECRET_FILE)',
    );
  }
  let timeoutMs = eventsConfigSchema.parse({}).timeoutMs;
  if (timeoutText !== undefined) {
    const checked = timeoutMsSchema.safeParse(/^[0-9]+$/.test(timeoutText) ? Number(timeoutText) : NaN);
    if (!checked.success) {
      throw new ConfigError(
        `WXREFUND_EVENTS_TIMEOUT_MS: must be whole milliseconds, 100 to 120000, got ${timeoutText}`,
      );
    }
    timeoutMs = checked.data;
  }
  return { url: checkedUrl.data, secret, timeoutMs, retry: eventRetrySchema.parse({}) };
}

function readSecretFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // The path is configuration, not a secret; the content never appears in messages.
    throw new ConfigError(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return checkedSecret(text.trim(), `${what} (${file})`);
}

function checkedSecret(secret: string, what: string): string {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${what}: the secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

export interface DevEventsSecret {
  secret: string;
  file: string;
  /** Made on this call (else read from the file). */
  created: boolean;
}

/**
 * The local stack's signing secret in `file`: read back when it exists, else made once (32 random bytes as hex,
 * mode 0600). The new file is written aside and hard-linked into place, so two processes starting together (the
 * worker and the stand-in receiver) never see a half-written file and end up with the same secret.
 */
export function ensureDevEventsSecret(file: string, what = 'events.secret'): DevEventsSecret {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(aside, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    try {
      linkSync(aside, file);
      return { secret: readSecretFile(file, what), file, created: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError(`${what}: cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      // Another process made it first: use theirs.
    } finally {
      unlinkSync(aside);
    }
  }
  return { secret: readSecretFile(file, what), file, created: false };
}
