/**
 * `npm run dev`: reads temporal-dev.yml, makes sure the Temporal tools are provisioned, starts the local stack with
 * prefixed logs, waits for readiness and prints the Web UI URL, where the HTTP API listens with its dev key file, and
 * where refund events go, and the codec server the Web UI decodes encrypted payloads through (docs/encryption.md).
 * A crashed worker, webhook, API, codec server or event receiver is started again with
 * backoff (src/stack/services.ts); everything shuts down on Ctrl-C, SIGTERM, or when the dev server or the simulator
 * dies.
 */
import { loadStackConfig } from '../config/stack-config';
import { apiAndEventsLines, codecLines } from './support/stack-summary';
import { startStack } from '../stack/start-stack';
import { Supervisor } from '../stack/supervisor';

const supervisor = new Supervisor();

async function main(): Promise<void> {
  const cfg = loadStackConfig();
  supervisor.installSignalHandlers();
  const { server, uiUrl, codecUrl, payloadEncryption } = await startStack(cfg, supervisor);
  console.log(`\nTemporal Web UI: ${uiUrl}/namespaces/${cfg.temporal.namespace}/workflows`);
  console.log(`Temporal gRPC:   ${server.address} (namespace ${cfg.temporal.namespace})`);
  console.log(`WeChat Pay simulator admin: http://${cfg.simulator.host}:${cfg.simulator.port}/__admin`);
  console.log(`Notification webhook:       http://${cfg.webhook.host}:${cfg.webhook.port}`);
  for (const line of apiAndEventsLines(cfg)) console.log(line);
  for (const line of codecLines(cfg, codecUrl, payloadEncryption.description)) console.log(line);
  console.log('Press Ctrl-C to stop.\n');
  process.exitCode = await supervisor.done;
}

main().catch(async (e) => {
  console.error(`dev: ${e instanceof Error ? e.message : String(e)}`);
  await supervisor.stopAll(1); // never leave a half-started stack behind
  process.exit(1);
});
