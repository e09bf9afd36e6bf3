/**
 * The bill day of a download request (§12): a real calendar day written YYYY-MM-DD (a Beijing-time day; v3 sends it
 * as is, v2 as YYYYMMDD). Checked before anything is sent, so a typo is an InvalidRequest naming the field, not a
 * WeChat error after a round trip.
 */
import { z } from 'zod';
import { InvalidRequest } from './errors';
import { formatZodError, zodIssues } from './schema-rules';

const BILL_DATE_RULE = 'must be a calendar day written YYYY-MM-DD';

export const billDateSchema = z
  .string({ error: `is required (${BILL_DATE_RULE})` })
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: BILL_DATE_RULE })
  .refine(
    (d) => {
      const t = Date.parse(`${d}T00:00:00Z`);
      return !Number.isNaN(t) && new Date(t).toISOString().startsWith(d);
    },
    { error: BILL_DATE_RULE },
  );

const downloadTargetSchema = z.object({
  billDate: billDateSchema,
  destFile: z.string({ error: 'is required (a file path)' }).min(1, { error: 'must be a file path' }),
});

/** The checked day and destination, or InvalidRequest naming the field. */
export function checkBillDownloadTarget(input: { billDate: string; destFile: string }): {
  billDate: string;
  destFile: string;
} {
  const parsed = downloadTargetSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidRequest(`invalid bill download: ${formatZodError(parsed.error)}`, zodIssues(parsed.error));
  }
  return parsed.data;
}

/** YYYY-MM-DD → YYYYMMDD (v2's bill_date). */
export function compactBillDate(billDate: string): string {
  return billDate.replace(/-/g, '');
}
