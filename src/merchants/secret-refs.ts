/**
 * Credentials named by reference in the merchant registry (docs/merchants.md): a secret is `{ env: NAME }` or
 * `{ file: path }`, never the value itself; public material (certificates, WeChat Pay public keys) may also be inline
 * as `{ pem }`. Relative file paths are relative to the folder of the file that names them (the registry file, or the
 * stack file), whichever process reads it.
 *
 * Reading happens when a merchant is first used (registry.ts), so a failure is a MerchantCredentialError naming the
 * merchant and the setting; no message ever quotes what a file or variable holds.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MerchantCredentialError, type SecretRef } from './types';

export const SECRET_REF_RULE = 'must be { env } or { file }, never the secret itself';
const PEM_REF_SHAPE = '{ file } or { pem } (PEM text)';
export const PEM_REF_RULE = `must be ${PEM_REF_SHAPE}`;
const SECRET_REF_SHAPE = '{ env: NAME } or { file: path }';

const envNameSchema = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');
const filePathSchema = z.string().min(1, 'must be a path');

/**
 * A secret by reference. One object with two optional keys rather than a union, so that any other shape (a string,
 * `{ value }`, `{ pem }`) is refused with the one rule that explains what to write instead.
 */
export const secretRefSchema = z
  .strictObject(
    { env: envNameSchema.optional(), file: filePathSchema.optional() },
    { error: (issue) => (issue.input === undefined ? `is required: ${SECRET_REF_SHAPE}` : SECRET_REF_RULE) },
  )
  .refine((s) => (s.env === undefined) !== (s.file === undefined), { error: SECRET_REF_RULE })
  .transform((s): SecretRef => (s.env !== undefined ? { env: s.env } : { file: s.file as string }));

/** Public PEM material: a file, or the PEM text itself (a certificate or public key is no secret). */
export type PemRef = { file: string } | { pem: string };

export const pemRefSchema = z
  .strictObject(
    {
      file: filePathSchema.optional(),
      pem: z.string().includes('-----BEGIN', { message: 'must be PEM text' }).optional(),
    },
    { error: (issue) => (issue.input === undefined ? `is required: ${PEM_REF_SHAPE}` : PEM_REF_RULE) },
  )
  .refine((s) => (s.file === undefined) !== (s.pem === undefined), { error: PEM_REF_RULE })
  .transform((s): PemRef => (s.file !== undefined ? { file: s.file } : { pem: s.pem as string }));

/** Where references are read: the folder relative paths start from, and the environment. */
export interface RefContext {
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

/** Who is reading, for messages: `merchants[<mchid>].<setting>`. */
export interface RefOwner {
  mchid: string;
  /** e.g. `v3.apiV3Key`. */
  setting: string;
}

export function settingName(owner: RefOwner): string {
  return `merchants[${owner.mchid}].${owner.setting}`;
}

function credentialError(owner: RefOwner, rule: string): MerchantCredentialError {
  const setting = settingName(owner);
  return new MerchantCredentialError(owner.mchid, setting, `${setting}: ${rule}`);
}

export function resolveRefPath(file: string, ctx: RefContext): string {
  return path.resolve(ctx.baseDir, file);
}

function readRefFile(file: string, ctx: RefContext, owner: RefOwner): string {
  const full = resolveRefPath(file, ctx);
  try {
    return readFileSync(full, 'utf8');
  } catch (e) {
    // The path is configuration, not a secret; the error code says enough (ENOENT, EACCES).
    throw credentialError(owner, `cannot read ${full}: ${(e as NodeJS.ErrnoException).code ?? 'read error'}`);
  }
}

/** The secret's value now (trimmed: files and variables often end with a newline). */
export function resolveSecretRef(ref: SecretRef, ctx: RefContext, owner: RefOwner): string {
  if ('env' in ref) {
    const value = ctx.env[ref.env];
    if (value === undefined || value.trim() === '') {
      throw credentialError(owner, `environment variable ${ref.env} is not set`);
    }
    return value.trim();
  }
  const value = readRefFile(ref.file, ctx, owner).trim();
  if (value === '') throw credentialError(owner, `${resolveRefPath(ref.file, ctx)} is empty`);
  return value;
}

/**
 * A secret that must be PEM (a private key). Checked here because the protocol layer reads a string without
 * "-----BEGIN" as a file path and would quote it in its message: a mistyped variable must not end up in a log.
 */
export function resolvePemSecretRef(ref: SecretRef, ctx: RefContext, owner: RefOwner, label: string): string {
  const value = resolveSecretRef(ref, ctx, owner);
  if (!value.includes('-----BEGIN') || !value.includes(label)) {
    const where = 'env' in ref ? `environment variable ${ref.env}` : resolveRefPath(ref.file, ctx);
    throw credentialError(owner, `${where} does not hold a PEM ${label} block`);
  }
  return value;
}

/** Public PEM material now; `label` is the block it must hold (e.g. CERTIFICATE, PUBLIC KEY). */
export function resolvePemRef(ref: PemRef, ctx: RefContext, owner: RefOwner, label: string): string {
  const value = 'pem' in ref ? ref.pem : readRefFile(ref.file, ctx, owner);
  // Text without "-----BEGIN" would be read as a path by the protocol layer: refuse it here, naming the setting.
  if (!value.includes('-----BEGIN') || !value.includes(label)) {
    throw credentialError(
      owner,
      `${'pem' in ref ? 'the pem text' : resolveRefPath(ref.file, ctx)} does not hold a PEM ${label} block`,
    );
  }
  return value;
}

/**
 * What a reload compares for a referenced file: a digest of its content (so a rotated key file counts as a change),
 * or why it cannot be read. A digest, never the content: fingerprints may be logged.
 */
export function fileDigest(file: string, ctx: RefContext): string {
  const full = resolveRefPath(file, ctx);
  try {
    return createHash('sha256').update(readFileSync(full)).digest('hex');
  } catch (e) {
    return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
