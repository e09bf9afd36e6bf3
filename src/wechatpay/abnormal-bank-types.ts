/**
 * Reference §3.8: apply-abnormal-refund pays only to debit cards of these 15 banks. A protocol fact: the v3 wire
 * schema uses it, and the operator update's validation (domain/schemas.ts) imports it from here so both agree. Pure
 * data with no imports, so workflow code may import it (the one value import of src/wechatpay that eslint allows).
 */
export const ABNORMAL_BANK_TYPES = [
  'CMB_DEBIT',
  'COMM_DEBIT',
  'ABC_DEBIT',
  'CCB_DEBIT',
  'ICBC_DEBIT',
  'BOC_DEBIT',
  'PAB_DEBIT',
  'SPDB_DEBIT',
  'CITIC_DEBIT',
  'CEB_DEBIT',
  'CMBC_DEBIT',
  'CIB_DEBIT',
  'GDB_DEBIT',
  'PSBC_DEBIT',
  'NBCB_DEBIT',
] as const;
