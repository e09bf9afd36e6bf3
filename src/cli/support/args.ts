/**
 * Flag parsing for the project's CLIs: node:util parseArgs reads the flags, a zod schema validates them, and any
 * problem becomes a `UsageError` whose message names the flag and the rule (e.g. `--amount-fen: must be greater than
 * 0 fen`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { fenSchema } from '../../domain/schemas';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** camelCase schema keys ↔ kebab-case flags. */
const toFlag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const toKey = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * parseArgs refuses `--amount-fen -5` as "ambiguous" (the value looks like a flag), so the user would never see the
 * rule the value breaks. A value that looks like a negative number is joined to its flag (`--amount-fen=-5`, `-a-5`)
 * so that the schema judges it; only for flags that take a value, and never after the `--` terminator.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const takesValue = new Set<string>();
  for (const [name, opt] of Object.entries(options)) {
    if (opt.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (opt.short) takesValue.add(`-${opt.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return out.concat(argv.slice(i));
    const next = argv[i + 1];
    if (takesValue.has(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function parseFlags<S extends z.ZodType>(argv: string[], options: Options, schema: S): z.infer<S> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      strict: true,
      allowPositionals: false,
    }));
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

/**
 * A string flag holding an integer number of fen ("100" → 100); refuses decimals like "1.5" or "1e3". A zero or
 * negative amount is judged by the library's own fenSchema, so the CLI and the API word that rule the same way.
 */
export const fenFlag = z
  .string({ error: 'is required' })
  .regex(/^-?[0-9]+$/, 'must be a positive integer number of fen (e.g. 1999 for ¥19.99)')
  .transform(Number)
  .refine(Number.isSafeInteger, { message: 'must be a positive integer number of fen', abort: true })
  .pipe(fenSchema);
