/** zod building blocks for gateway configuration (keys as PEM text or as a path to a PEM file). */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Loads the PEM as what its label promises, so a corrupt key is refused at start-up, naming its setting. */
function pemProblem(pem: string, label: string): string | undefined {
  try {
    if (label.includes('PRIVATE KEY')) createPrivateKey(pem);
    else if (label.includes('PUBLIC KEY')) createPublicKey(pem);
    else if (label === 'CERTIFICATE') new X509Certificate(pem);
    return undefined;
  } catch (e) {
    return `is not a usable ${label}: ${(e as Error).message}`;
  }
}

/**
 * A PEM given inline (contains "-----BEGIN") or as a file path, resolved to the PEM text. `label` names the
 * expected block, e.g. "PRIVATE KEY" or "CERTIFICATE" (checked loosely: "RSA PRIVATE KEY" also matches).
 */
export function pemSource(label: string) {
  return z
    .string({ error: `must be PEM text or a path to a PEM file (${label})` })
    .min(1, { error: `must be PEM text or a path to a PEM file (${label})` })
    .transform((value, ctx) => {
      let pem = value;
      if (!value.includes('-----BEGIN')) {
        try {
          pem = readFileSync(value, 'utf8');
        } catch (e) {
          ctx.issues.push({
            code: 'custom',
            input: value,
            message: `cannot read PEM file ${value}: ${(e as Error).message}`,
          });
          return z.NEVER;
        }
      }
      if (!pem.includes(label) || !pem.includes('-----BEGIN')) {
        ctx.issues.push({ code: 'custom', input: value, message: `must contain a PEM ${label} block` });
        return z.NEVER;
      }
      const problem = pemProblem(pem, label);
      if (problem) {
        ctx.issues.push({ code: 'custom', input: value, message: problem });
        return z.NEVER;
      }
      return pem;
    });
}

export const httpTimeoutsSchema = z
  .object({
    connectMs: z.int().positive().default(5_000),
    headersMs: z.int().positive().default(10_000),
    bodyMs: z.int().positive().default(10_000),
  })
  .default({ connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 });

export const baseUrlSchema = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
