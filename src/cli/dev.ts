/**
 * `npm run dev`: reads temporal-dev.yml, makes sure the Temporal tools are provisioned, starts the local stack with
 * prefixed logs, waits for readiness, prints the Web UI URL, and shuts everything down on Ctrl-C or when a part dies.
 * Services whose module is not part of this build yet are reported and skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadStackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { startDevServer } from '../stack/dev-server';
import { Supervisor } from '../stack/supervisor';
import { stackServices } from '../stack/services';

async function main(): Promise<void> {
  const cfg = loadStackConfig();
  const supervisor = new Supervisor();
  supervisor.installSignalHandlers();

  console.log('checking Temporal tools (scripts/ensure-temporal)...');
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-temporal')], { stdio: 'inherit' });

  console.log(`starting Temporal dev server on ${cfg.temporal.ip}:${cfg.temporal.port}...`);
  const server = await startDevServer(cfg.temporal, { stdio: 'pipe' });
  supervisor.adopt('temporal', server.process);

  for (const service of stackServices(cfg)) {
    if (!existsSync(service.entry)) {
      console.log(`(${service.name}: not built yet, skipped)`);
      continue;
    }
    await supervisor.start(service.spec);
  }

  console.log(`\nTemporal Web UI: ${server.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows`);
  console.log(`Temporal gRPC:   ${server.address} (namespace ${cfg.temporal.namespace})`);
  console.log('Press Ctrl-C to stop.\n');
  process.exitCode = await supervisor.done;
}

main().catch((e) => {
  console.error(`dev: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
