/**
 * `npm run sim`: the WeChat Pay simulator as a standalone process.
 *
 * Configuration, first found wins: `--config <file>` (YAML or JSON; its `simulator:` section if it has one, else the
 * whole document), else the `simulator:` section of the stack file (temporal-dev.yml, or the file named by
 * WXREFUND_STACK_CONFIG), else defaults (demo merchants). Flags override:
 *   --port <n>  --v2-port <n>  --host <h>  --seed <n>  --time-scale <x>  --keys-dir <dir>  --state-file <file>
 *   --no-v2-tls
 * With `stateFile` (temporal-dev.yml: .data/simulator/state.sqlite) orders, refunds, notifications, balances and the
 * virtual clock survive a restart. Relative paths in a file are relative to its folder, in a flag to the working
 * directory (src/config/simulator-settings.ts).
 */
import { parseArgs } from 'node:util';
import { simulatorSettings } from '../config/simulator-settings';
import { parseSimulatorConfig, SimulatorConfigError, startSimulator } from '../simulator/server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'v2-port': { type: 'string' },
      seed: { type: 'string' },
      'time-scale': { type: 'string' },
      'keys-dir': { type: 'string' },
      'state-file': { type: 'string' },
      'no-v2-tls': { type: 'boolean' },
    },
    strict: true,
  });
  const { input, source } = simulatorSettings(values);
  const config = parseSimulatorConfig(input, source);
  const sim = await startSimulator(config);
  const lines = [
    `WeChat Pay simulator (seed ${config.seed}, ${config.timeScale}× time)`,
    `  API v3 + admin : ${sim.baseUrl}   (admin: ${sim.adminUrl})`,
    `  API v2         : ${sim.v2BaseUrl}${config.v2.tls ? '   (client certificate required on /secapi/*)' : ''}`,
    `  manifest       : ${sim.manifestPath ?? '(not written)'}`,
    `  state          : ${config.stateFile ?? '(in memory: lost on restart)'}`,
    ...sim.merchants.map(
      (m) =>
        `  merchant ${m.mchid} (${m.mode}${m.subMerchants.length ? `, sub-merchants ${m.subMerchants.map((s) => s.subMchid).join(', ')}` : ''})`,
    ),
  ];
  console.log(lines.join('\n'));
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(e instanceof SimulatorConfigError ? e.message : e);
  process.exit(1);
});
