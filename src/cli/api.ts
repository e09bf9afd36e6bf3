/**
 * `npm run api` (built: `node lib/cli/api.js`): the refund HTTP API for order services in any language.
 *
 * Settings: the `api:` section of temporal-dev.yml (or WXREFUND_STACK_CONFIG) and Temporal's env variables
 * (src/config/api-settings.ts). Without configured key hashes it makes a dev key once, writes it to `api.devKeyFile`
 * (hash beside it) and prints where it is; the key itself is never printed or logged. The Temporal connection is
 * lazy: the API starts and answers 503 while Temporal is down. Its client encrypts payloads (WXREFUND_PAYLOAD_KEYS,
 * else the stack file's `codec.devKeyFile`; docs/encryption.md). SIGINT/SIGTERM: requests in flight finish, then exit.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { ensureDevApiKey } from '../api/auth';
import { createApiMetrics } from '../api/metrics';
import { createApiServer } from '../api/server';
import { apiSettingsFromStackFile, followMerchants } from '../config/api-settings';
import { logPayloadEncryption, programPayloadEncryption } from '../config/program-encryption';
import { closeOnSignals } from './support/shutdown';

async function main(): Promise<void> {
  const settings = apiSettingsFromStackFile();
  const { config, taskQueue, temporal, source } = settings;
  if (!config.enabled) {
    console.error(`api: disabled in ${source} (api.enabled: false)`);
    process.exit(0);
  }
  // First: a production API without WXREFUND_PAYLOAD_KEYS refuses to start, naming it, before it makes anything.
  const payloadEncryption = programPayloadEncryption();
  const { dataConverter } = payloadEncryption;
  let keys = config.keys;
  if (keys.length === 0) {
    const dev = ensureDevApiKey(config.devKeyFile);
    keys = [{ name: dev.name, sha256: dev.sha256 }];
    console.log(
      `api: no api.keys in ${source}: ${dev.created ? 'made a dev API key' : 'using the dev API key'} in ${dev.keyFile} ` +
        `(SHA-256 in ${dev.hashFile}). Use it as: Authorization: Bearer $(cat ${dev.keyFile})`,
    );
  }
  const connection = Connection.lazy(temporal.connectionOptions as ConnectionOptions);
  const client = new Client({ connection, namespace: temporal.namespace, dataConverter });
  // Process metrics (CPU, memory, event loop) beside the API's own, as the webhook's program does.
  const metrics = createApiMetrics({ defaultMetrics: true });
  // The merchants (docs/merchants.md) are read on every request, so a reloaded registry applies at once.
  let merchantsNow = () => settings.merchants;
  const server = createApiServer({
    config,
    temporal: client,
    taskQueue,
    keys,
    metrics,
    merchants: () => merchantsNow(),
  });
  merchantsNow = followMerchants(settings, server.app.log).merchants;
  const baseUrl = await server.listen();
  server.app.log.info(
    {
      config: source,
      temporal: `${temporal.connectionOptions.address}/${temporal.namespace}`,
      taskQueue,
      keys: keys.map((k) => k.name),
      merchants: settings.merchants.list().map((m) => m.mchid),
    },
    `refund API listening on ${baseUrl}`,
  );
  logPayloadEncryption(payloadEncryption, server.app.log);

  closeOnSignals(server.app.log, server, connection);
}

main().catch((e: unknown) => {
  console.error(`api: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
