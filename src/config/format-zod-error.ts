import type { z } from 'zod';

/**
 * Turns a zod error into one line per problem, each naming the key path and the rule, e.g.
 * `temporal.port: Invalid input: expected number, received string`.
 * Used at every boundary (config files, CLI flags, HTTP bodies) so messages read the same everywhere.
 */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
