/**
 * What `npm run dev` and the demo print about the parts order services talk to: where the HTTP API listens and which
 * key to call it with (the dev key's file, never the key), and where refund events go (the stand-in receiver and
 * its list of deliveries, and the secret's file); and about payload encryption: the codec server the Web UI decodes
 * through, how the `temporal` CLI uses it, and where the payload key is (its file, never the key).
 */
import path from 'node:path';
import type { StackConfig } from '../../config/stack-config';
import { localReceiverAddress, RECEIVER_ADMIN_PATH } from '../../events/receiver';

/** Relative to the working directory when the file is under it (the usual `npm run dev`), else absolute. */
const rel = (p: string) => {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
};

export function apiAndEventsLines(cfg: StackConfig): string[] {
  const lines: string[] = [];
  const { api, events } = cfg;
  if (!api.enabled) lines.push('HTTP API:                   off (api.enabled: false)');
  else {
    lines.push(`HTTP API:                   http://${api.host}:${api.port}/v1/refunds`);
    lines.push(
      api.keys.length
        ? `  keys: ${api.keys.map((k) => k.name).join(', ')} (api.keys)`
        : `  dev API key file: ${rel(api.devKeyFile)}  (curl -H "Authorization: Bearer $(cat ${rel(api.devKeyFile)})" …)`,
    );
  }
  if (!events.enabled || !events.url) lines.push('Refund events:              off (events.enabled: false)');
  else {
    const secret = events.secret && ('file' in events.secret ? rel(events.secret.file) : `$${events.secret.env}`);
    const local = localReceiverAddress(events.url);
    lines.push(`Refund events:              POST ${events.url} (signed with the secret in ${secret})`);
    if (local) lines.push(`  stand-in order service, deliveries: ${new URL(RECEIVER_ADMIN_PATH, events.url).href}`);
  }
  return lines;
}

/** `codecUrl`: where the launcher started the codec server (undefined: not started). */
export function codecLines(cfg: StackConfig, codecUrl: string | undefined, encryption: string): string[] {
  const lines: string[] = [];
  const { codec, api } = cfg;
  if (!codecUrl) {
    const why = !codec.server.enabled ? 'codec.server.enabled: false' : 'payload encryption off, or port 0';
    lines.push(`Codec server:               off (${why})`);
  } else {
    lines.push(`Codec server:               ${codecUrl}  (the Web UI shows payloads decoded through it)`);
    const key =
      codec.server.keys.length || api.keys.length
        ? '<a key of codec.server.keys or api.keys>'
        : `$(cat ${rel(api.devKeyFile)})`;
    lines.push(`  temporal workflow show -w <id> --codec-endpoint ${codecUrl} --codec-auth "Bearer ${key}"`);
  }
  // The description names the key's id and where it comes from (the key file, or the variable), never the key.
  lines.push(`Payloads:                   ${encryption.replace(/^payloads: /, '')}`);
  return lines;
}
