/**
 * A variant of temporal-dev.yml written elsewhere (other ports, a temporary SQLite file, other keys): how tests,
 * benchmarks and a second local stack run beside the default one. Comments and layout of the original are kept, so
 * the variant reads like the file it came from; the result is validated like the original.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { DEFAULT_STACK_CONFIG_PATH, loadStackConfig, type StackConfig } from './stack-config';

/** `settings` maps dotted keys (`temporal.port`, `simulator.v2.port`) to their new values. */
export function writeStackConfigVariant(file: string, settings: Record<string, unknown>): StackConfig {
  const doc = parseDocument(readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8'));
  for (const [key, value] of Object.entries(settings)) doc.setIn(key.split('.'), value);
  writeFileSync(file, doc.toString());
  return loadStackConfig(file);
}
