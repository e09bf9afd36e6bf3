/**
 * What the standalone simulator (`npm run sim`) starts with: a config file, else the stack file, else defaults (the
 * demo merchants); flags override. From a file: its `simulator:` section if it has one, else the whole document, its
 * relative paths resolved against the file's folder like every path of a stack file (stack-paths.ts); from a flag,
 * against the working directory. Without a keys directory, `.data/simulator/keys` is used, so the worker and the
 * webhook find manifest.json there.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_KEYS_DIR } from '../simulator/manifest';
import { SimulatorConfigError } from '../simulator/server';
import { describeStackFile, resolveSimulatorPaths, stackConfigFile } from './stack-paths';

/** The flags of `npm run sim`, as node:util parseArgs returns them. */
export interface SimulatorFlags {
  config?: string;
  host?: string;
  port?: string;
  'v2-port'?: string;
  seed?: string;
  'time-scale'?: string;
  'keys-dir'?: string;
  'state-file'?: string;
  'no-v2-tls'?: boolean;
}

export interface SimulatorSettings {
  /** Unvalidated: parseSimulatorConfig(input, source) judges it. */
  input: Record<string, unknown>;
  /** Where the settings came from, for messages. */
  source: string;
}

function readSimulatorSection(file: string): Record<string, unknown> {
  const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  const section = doc && typeof doc === 'object' && 'simulator' in doc ? doc.simulator : doc;
  return (section ?? {}) as Record<string, unknown>;
}

export function simulatorSettings(flags: SimulatorFlags, env: NodeJS.ProcessEnv = process.env): SimulatorSettings {
  const stackFile = stackConfigFile(env);
  const file = flags.config ?? (existsSync(stackFile) ? stackFile : undefined);
  const raw = file
    ? resolveSimulatorPaths(file, readSimulatorSection(file))
    : { keysDir: path.resolve(DEFAULT_KEYS_DIR) };
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new SimulatorConfigError(`--${flag}: must be a number`);
    return n;
  };
  const v2 = { ...((raw.v2 as Record<string, unknown> | undefined) ?? {}) };
  if (flags['v2-port'] !== undefined) v2.port = num('v2-port', flags['v2-port']);
  if (flags['no-v2-tls']) v2.tls = false;
  const input = {
    ...raw,
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.port !== undefined ? { port: num('port', flags.port) } : {}),
    ...(flags.seed !== undefined ? { seed: num('seed', flags.seed) } : {}),
    // WXREFUND_SIM_TIME_SCALE: the demo starts the stack's simulator frozen (it sets the pace itself once ready).
    ...(env.WXREFUND_SIM_TIME_SCALE !== undefined
      ? { timeScale: num('time-scale (WXREFUND_SIM_TIME_SCALE)', env.WXREFUND_SIM_TIME_SCALE) }
      : {}),
    ...(flags['time-scale'] !== undefined ? { timeScale: num('time-scale', flags['time-scale']) } : {}),
    v2,
    ...(flags['keys-dir'] !== undefined ? { keysDir: path.resolve(flags['keys-dir']) } : {}),
    ...(flags['state-file'] !== undefined ? { stateFile: path.resolve(flags['state-file']) } : {}),
  };
  return { input, source: file ? describeStackFile(file) : 'simulator flags' };
}
