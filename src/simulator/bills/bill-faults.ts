/**
 * Bill faults (admin API, simulator-only): MISSING makes a day's bill not exist even once it is due
 * (NO_STATEMENT_EXIST / v2 `No Bill Exist`); CORRUPT serves a v3 download whose bytes no longer match hash_value
 * (the hash-mismatch case of §12.1; v2 has no hash, so v2 downloads are never corrupted). `times` limits a fault to
 * that many requests (a bill that shows up late, a corruption a retry gets past); absent: forever.
 */
import { z } from 'zod';

const digits = z.string().regex(/^\d{1,32}$/, { error: 'must be 1-32 digits' });

export const billFaultSchema = z.strictObject({
  /** Set by the simulator when absent. */
  id: z.string().min(1).max(64).optional(),
  kind: z.enum(['MISSING', 'CORRUPT']),
  /** The merchant that asks for the bill (a direct merchant, or the service provider). */
  mchid: digits,
  /** Only the bill of this sub-merchant; absent: any bill of `mchid`. */
  subMchid: digits.optional(),
  /** YYYY-MM-DD (Beijing day); absent: every day. */
  billDate: z.iso.date({ error: 'must be a date YYYY-MM-DD' }).optional(),
  times: z.int().positive().optional(),
});
export type BillFaultInput = z.input<typeof billFaultSchema>;
export type BillFault = z.output<typeof billFaultSchema> & { id: string };
