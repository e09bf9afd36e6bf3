/**
 * `npm run sim`: the simulator as a standalone process.
 *
 * Configuration, first found wins: `--config <file>` (YAML or JSON; its `simulator:` section if it has one, else the
 * whole document), else the `simulator:` section of temporal-dev.yml, else defaults (demo merchants). Flags override:
 *   --port <n>  --v2-port <n>  --host <h>  --seed <n>  --time-scale <x>  --keys-dir <dir>  --state-file <file>
 *   --no-v2-tls
 * With `stateFile` (temporal-dev.yml: .data/simulator/state.sqlite) orders, refunds, notifications, balances and the
 * virtual clock survive a restart; a relative path is resolved like keysDir.
 * Without a keys directory, `.data/simulator/keys` is used, so the worker and webhook find manifest.json there.
 * The stack file is temporal-dev.yml at the repository root, or the file named by WXREFUND_STACK_CONFIG.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_STACK_CONFIG_PATH } from '../config/stack-config';
import { DEFAULT_KEYS_DIR } from './manifest';
import { parseSimulatorConfig, SimulatorConfigError, startSimulator } from './server';

function readConfigFile(file: string): Record<string, unknown> {
  const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  const section = doc && typeof doc === 'object' && 'simulator' in doc ? doc.simulator : doc;
  return (section ?? {}) as Record<string, unknown>;
}

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
  const stackFile = process.env.WXREFUND_STACK_CONFIG ?? DEFAULT_STACK_CONFIG_PATH;
  const source = values.config ?? (existsSync(stackFile) ? stackFile : undefined);
  const raw: Record<string, unknown> = source ? readConfigFile(source) : {};
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new SimulatorConfigError(`--${flag}: must be a number`);
    return n;
  };
  const v2 = { ...((raw.v2 as Record<string, unknown> | undefined) ?? {}) };
  if (values['v2-port'] !== undefined) v2.port = num('v2-port', values['v2-port']);
  if (values['no-v2-tls']) v2.tls = false;
  // A relative path from a file is relative to that file (temporal-dev.yml: the repository root, where the worker and
  // webhook look); from a flag, relative to the working directory.
  const fromFile = (p: string) => path.resolve(source ? path.dirname(source) : process.cwd(), p);
  const stateFile =
    values['state-file'] !== undefined
      ? path.resolve(values['state-file'])
      : typeof raw.stateFile === 'string' && raw.stateFile.length > 0
        ? fromFile(raw.stateFile)
        : raw.stateFile;
  const input = {
    ...raw,
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.port !== undefined ? { port: num('port', values.port) } : {}),
    ...(values.seed !== undefined ? { seed: num('seed', values.seed) } : {}),
    ...(values['time-scale'] !== undefined ? { timeScale: num('time-scale', values['time-scale']) } : {}),
    v2,
    keysDir:
      values['keys-dir'] !== undefined
        ? path.resolve(values['keys-dir'])
        : fromFile(String(raw.keysDir ?? DEFAULT_KEYS_DIR)),
    ...(stateFile !== undefined ? { stateFile } : {}),
  };
  const config = parseSimulatorConfig(
    input,
    source ? path.relative(process.cwd(), source) || source : 'simulator flags',
  );
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
