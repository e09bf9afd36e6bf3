/**
 * `npm run webhook` (built: `node lib/cli/webhook.js`): the notification webhook as its own process.
 *
 * Settings: the `webhook:` section of temporal-dev.yml (or the file named by WXREFUND_STACK_CONFIG) and Temporal's env
 * variables (src/config/webhook-settings.ts). The Temporal connection is lazy: the webhook starts and answers 503 (so
 * WeChat retries) while Temporal is down. SIGINT/SIGTERM: in-flight notifications finish, then it exits.
 */
import { Client, Connection } from '@temporalio/client';
import { loadWebhookMerchants, webhookSettingsFromStackFile } from '../config/webhook-settings';
import { createWebhookMetrics } from '../webhook/metrics';
import { createWebhookServer, notifyUrl } from '../webhook/server';
import { closeOnSignals } from './support/shutdown';

async function main(): Promise<void> {
  const { config, source } = webhookSettingsFromStackFile();
  const merchants = await loadWebhookMerchants(config);
  const connection = Connection.lazy({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const server = createWebhookServer({
    config,
    temporal: client,
    merchants,
    metrics: createWebhookMetrics({ defaultMetrics: true }),
  });
  const baseUrl = await server.listen();
  const publicUrl = config.publicBaseUrl ?? baseUrl;
  server.app.log.info(
    {
      config: source,
      temporal: `${config.temporal.address}/${config.temporal.namespace}`,
      merchants: merchants.map((m) => m.mchid),
      notifyUrls: merchants.map((m) => notifyUrl(publicUrl, 'v3', m.mchid)),
    },
    `refund notification webhook listening on ${baseUrl}`,
  );

  closeOnSignals(server.app.log, server, connection);
}

main().catch((e: unknown) => {
  console.error(`webhook: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
