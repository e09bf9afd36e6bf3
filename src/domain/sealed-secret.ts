/**
 * A secret (a card number, a card holder's name) sealed with the merchant's own key before it enters Temporal, so
 * workflow histories, the Web UI and exported histories never hold it in clear. Only the shape is known here (pure,
 * workflow-safe); sealing and unsealing live in src/secrets/seal.ts, used by the operator CLI and the worker.
 */
import { z } from 'zod';

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');

export const sealedSecretSchema = z.object({
  alg: z.literal('A256GCM', { error: 'alg must be A256GCM' }),
  /** Which of the merchant's sealing keys (rotation: several may be configured at once). */
  keyId: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'keyId must be 1–32 of A-Z a-z 0-9 _ -'),
  iv: base64,
  /** ciphertext || 16-byte GCM tag. */
  data: base64,
});
export type SealedSecret = z.infer<typeof sealedSecretSchema>;
