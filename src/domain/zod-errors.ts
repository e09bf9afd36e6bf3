import type { z } from 'zod';

/**
 * One line naming every bad field and its rule, e.g. "amountFen: must be greater than 0 fen; reason: …".
 * The one formatter for every boundary (workflow inputs and updates, config files, CLI flags, HTTP bodies), so
 * messages read the same everywhere. Pure: workflows import it too.
 */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}
