/**
 * `npm run codec` (built: `node lib/cli/codec-server.js`): the codec server the Temporal Web UI and the `temporal`
 * CLI decode payloads through (docs/encryption.md, src/codec/codec-server.ts).
 *
 * Settings: the `codec:` section of temporal-dev.yml (or WXREFUND_STACK_CONFIG), with its `temporal:` section (the
 * Web UI's origin and the namespace) and `api:` section (whose keys it accepts when it has none of its own; without
 * any, the API's dev key). Payload keys: WXREFUND_PAYLOAD_KEYS, else the stack file's `codec.devKeyFile`.
 * The keys are never printed or logged. SIGINT/SIGTERM: requests in flight finish, then exit.
 */
import { ensureDevApiKey } from '../api/auth';
import { startCodecServer } from '../codec/codec-server';
import { describePayloadEncryption } from '../codec/data-converter';
import { loadPayloadKeys } from '../codec/payload-keys';
import { codecServerSettings } from '../config/codec-settings';
import { loadStackConfig } from '../config/stack-config';
import { describeStackFile, stackConfigFile } from '../config/stack-paths';

async function main(): Promise<void> {
  const file = stackConfigFile();
  const source = describeStackFile(file);
  const stack = loadStackConfig(file);
  // The section as stack-config.ts validated it (paths absolute); parsing it again here is idempotent.
  const settings = codecServerSettings(stack.codec, stack, source);
  if (!settings.enabled) {
    console.error(`codec: disabled in ${source} (codec.server.enabled: false)`);
    process.exit(0);
  }
  const keys = loadPayloadKeys({ env: process.env, devKeyFile: settings.devKeyFile });
  if (!keys) {
    console.error(`codec: ${describePayloadEncryption(undefined)}; nothing to decode, not starting`);
    process.exit(0);
  }
  let apiKeys = settings.server.apiKeys;
  if (apiKeys.length === 0 && settings.devApiKeyFile) {
    const dev = ensureDevApiKey(settings.devApiKeyFile);
    apiKeys = [{ name: dev.name, sha256: dev.sha256 }];
    console.log(`codec: no keys in ${source}: accepting the API's dev key (${dev.keyFile}) as Bearer`);
  }
  const server = await startCodecServer({ ...settings.server, apiKeys, keys });
  server.app.log.info(
    {
      config: source,
      namespaces: settings.server.namespaces,
      allowedOrigins: settings.server.allowedOrigins,
      callers: apiKeys.map((k) => k.name),
      webUiWithoutKey: settings.server.allowOriginWithoutKey,
    },
    `codec server listening on ${server.url}; ${describePayloadEncryption(keys)}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    void server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`codec: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
