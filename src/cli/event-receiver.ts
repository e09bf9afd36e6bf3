/**
 * `npm run events:receiver`: a stand-in for the order service's event endpoint, on the local stack's `events.url`
 * (temporal-dev.yml, or WXREFUND_STACK_CONFIG). It verifies every delivery with the stack's signing secret (made on
 * first start, like the worker would), prints one line per delivery, and lists what it got at GET /__events.
 * `npm run dev` and the demo start it themselves when events are enabled and the URL is local.
 *
 *   --fail-first N   answer 500 to the first N well-signed deliveries (see the engine retry them)
 */
import path from 'node:path';
import { z } from 'zod';
import { eventsSettingsFromSection } from '../config/events-settings';
import { loadStackConfig } from '../config/stack-config';
import { describeStackFile, stackConfigFile } from '../config/stack-paths';
import { localReceiverAddress, RECEIVER_ADMIN_PATH, startEventReceiver } from '../events/receiver';
import { parseFlags } from './support/args';

const flags = z
  .object({
    failFirst: z
      .string()
      .regex(/^[0-9]+$/, 'must be a whole number')
      .transform(Number)
      .default(0),
  })
  .strict();

async function main(): Promise<void> {
  const { failFirst } = parseFlags(process.argv.slice(2), { 'fail-first': { type: 'string' } }, flags);
  const file = stackConfigFile();
  const source = describeStackFile(file);
  const cfg = loadStackConfig(file);
  const settings = eventsSettingsFromSection(cfg.events, path.dirname(file), process.env, source);
  if (!settings) {
    console.error(`events:receiver: events are off in ${source} (events.enabled: false); nothing to receive`);
    process.exit(0);
  }
  const at = localReceiverAddress(settings.url);
  if (!at) {
    throw new Error(`events.url in ${source} is ${settings.url}, not a local http URL: that is a real order service`);
  }
  const receiver = await startEventReceiver({
    ...at,
    secrets: [settings.secret],
    failFirst,
    log: (line) => console.log(line),
  });
  console.log(
    `event receiver listening on ${receiver.url}` +
      (failFirst ? ` (answering 500 to the first ${failFirst} deliveries)` : '') +
      `; deliveries: GET ${new URL(RECEIVER_ADMIN_PATH, receiver.url).href}`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void receiver.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`events:receiver: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
