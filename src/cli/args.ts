/**
 * Flag parsing for the project's CLIs: node:util parseArgs reads the flags, a zod schema validates them, and any
 * problem becomes a `UsageError` whose message names the flag and the rule (e.g. `--amount-fen: must be a positive
 * integer number of fen`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** camelCase schema keys ↔ kebab-case flags. */
const toFlag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const toKey = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseFlags<S extends z.ZodType>(argv: string[], options: Options, schema: S): z.infer<S> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  const camel = Object.fromEntries(Object.entries(values).map(([k, v]) => [toKey(k), v]));
  const parsed = schema.safeParse(camel);
  if (!parsed.success) {
    throw new UsageError(
      parsed.error.issues.map((i) => `${i.path.length ? toFlag(String(i.path[0])) : 'flags'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

/** A string flag holding an integer number of fen ("100" → 100); refuses decimals like "1.5" or "1e3". */
export const fenFlag = z
  .string({ error: 'is required' })
  .regex(/^[0-9]+$/, 'must be a positive integer number of fen (e.g. 1999 for ¥19.99)')
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n) && n > 0, 'must be a positive integer number of fen');
