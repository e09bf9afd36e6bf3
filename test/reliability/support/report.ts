/**
 * Every scenario reports its figures (refunds, faults injected, API calls, durations...): printed to the test log and
 * appended as one JSON line to test-output/reliability/figures.jsonl, which the README and issue notes quote.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { OUTPUT_DIR } from '../../harness/paths';
import { PROFILE } from './profile';

export const FIGURES_FILE = path.join(OUTPUT_DIR, 'reliability', 'figures.jsonl');

export function reportFigures(scenario: string, figures: Record<string, unknown>): void {
  const line = { scenario, profile: PROFILE, at: new Date().toISOString(), ...figures };
  mkdirSync(path.dirname(FIGURES_FILE), { recursive: true });
  appendFileSync(FIGURES_FILE, `${JSON.stringify(line)}\n`);
  console.log(`[reliability] ${scenario}: ${JSON.stringify(figures)}`);
}
