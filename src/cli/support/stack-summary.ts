/**
 * What `npm run dev` and the demo print about the parts order services talk to: where the HTTP API listens and which
 * key to call it with (the dev key's file, never the key), and where refund events go (the stand-in receiver and
 * its list of deliveries, and the secret's file).
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
