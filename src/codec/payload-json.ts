/**
 * Payloads in the proto3 JSON form of Temporal's remote codec protocol: `{ "payloads": [ { "metadata": { key: base64 },
 * "data": base64 } ] }`. bytes are base64 (standard or URL-safe alphabet on input, as proto3 JSON allows; standard with
 * padding on output); absent fields are empty. `externalPayloads` (int64 sizes, as strings) is carried through, so a
 * payload this server does not decode goes back exactly as it came.
 *
 * Every request body is validated here: a message names the field (`payloads.3.data: must be base64`).
 */
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';

const ExternalPayloadDetails = temporal.api.common.v1.Payload.ExternalPayloadDetails;

const base64 = z
  .string({ error: 'must be a base64 string' })
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64')
  .refine((s) => s.replace(/=+$/, '').length % 4 !== 1, 'must be base64 (its length is impossible)');

const externalPayloadSchema = z
  .object({
    sizeBytes: z
      .union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,19}$/)], {
        error: 'must be a whole number of bytes',
      })
      .optional(),
  })
  .strict();

export const jsonPayloadSchema = z
  .object({
    metadata: z.record(z.string().min(1, 'metadata keys must not be empty'), base64).nullish(),
    data: base64.nullish(),
    externalPayloads: z.array(externalPayloadSchema).nullish(),
  })
  .strict();
export type JsonPayload = z.infer<typeof jsonPayloadSchema>;

export const codecRequestSchema = z
  .object({
    payloads: z.array(jsonPayloadSchema, { error: 'must be an array of payloads' }).max(10_000),
  })
  .strict();
export type CodecRequest = z.infer<typeof codecRequestSchema>;

export function fromJsonPayload(p: JsonPayload): Payload {
  const payload: Payload = {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]): [string, Uint8Array] => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
  if (p.externalPayloads?.length) {
    payload.externalPayloads = p.externalPayloads.map((e) => ExternalPayloadDetails.fromObject(e));
  }
  return payload;
}

export function toJsonPayload(p: Payload): JsonPayload {
  const out: JsonPayload = {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]): [string, string] => [k, base64Of(v)])),
  };
  if (p.data && p.data.length > 0) out.data = base64Of(p.data);
  if (p.externalPayloads?.length) {
    out.externalPayloads = p.externalPayloads.map((e) =>
      ExternalPayloadDetails.toObject(ExternalPayloadDetails.fromObject(e), { longs: String }),
    );
  }
  return out;
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
