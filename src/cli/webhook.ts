/**
 * `npm run webhook` (built: `node lib/cli/webhook.js`): the notification webhook as its own process.
 *
 * Settings: the `webhook:` section of temporal-dev.yml (or the file named by WXREFUND_STACK_CONFIG) and Temporal's env
 * variables (src/config/webhook-settings.ts). The Temporal connection is lazy: the webhook starts and answers 503 (so
 * WeChat retries) while Temporal is down. Its client encrypts payloads (WXREFUND_PAYLOAD_KEYS, else the stack file's
 * `codec.devKeyFile`; docs/encryption.md): the signals it sends carry WeChat's amounts and accounts.
 * Merchants: the merchant registry the worker reads when one is named, else `webhook.merchants`, else the simulator's
 * manifest (src/config/webhook-settings.ts); a registry is followed (file watch, SIGHUP) without a restart.
 * SIGINT/SIGTERM: in-flight notifications finish, then it exits.
 */
import { Client, Connection } from '@temporalio/client';
import { logPayloadEncryption, programPayloadEncryption } from '../config/program-encryption';
import { openWebhookMerchants, webhookSettingsFromStackFile } from '../config/webhook-settings';
import { createWebhookMetrics } from '../webhook/metrics';
import { createWebhookServer, notifyUrl } from '../webhook/server';
import { closeOnSignals } from './support/shutdown';

async function main(): Promise<void> {
  const settings = webhookSettingsFromStackFile();
  const { config, source } = settings;
  // Before waiting for merchants: a production webhook without WXREFUND_PAYLOAD_KEYS refuses at once, naming it.
  const payloadEncryption = programPayloadEncryption();
  const merchants = await openWebhookMerchants(settings);
  const connection = Connection.lazy({ address: config.temporal.address });
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: payloadEncryption.dataConverter,
  });
  const server = createWebhookServer({
    config,
    temporal: client,
    merchants: merchants.merchants,
    metrics: createWebhookMetrics({ defaultMetrics: true }),
  });
  // Before listening: from the first notification on, a registry change (file or SIGHUP) is followed.
  merchants.follow(server.app.log);
  const baseUrl = await server.listen();
  const publicUrl = config.publicBaseUrl ?? baseUrl;
  server.app.log.info(
    {
      config: source,
      temporal: `${config.temporal.address}/${config.temporal.namespace}`,
      merchantSource: merchants.kind,
      merchants: merchants.mchids(),
      notifyUrls: merchants.mchids().map((mchid) => notifyUrl(publicUrl, 'v3', mchid)),
    },
    `refund notification webhook listening on ${baseUrl}`,
  );
  logPayloadEncryption(payloadEncryption, server.app.log);

  closeOnSignals(
    server.app.log,
    {
      async close() {
        await server.close();
        await merchants.close();
      },
    },
    connection,
  );
}

main().catch((e: unknown) => {
  console.error(`webhook: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
