/**
 * The codec server's rules that its configuration checks too (src/config/codec-settings.ts), kept apart from the
 * server so that reading a stack file does not load Fastify.
 */
import { isIP } from 'node:net';

/** Temporal payloads are at most 2 MB each; base64 adds a third, and the Web UI batches a few per request. */
export const DEFAULT_CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x) and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
