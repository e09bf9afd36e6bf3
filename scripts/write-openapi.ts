/**
 * `npm run openapi`: writes the API's OpenAPI document (src/api/openapi.ts, generated from the routes' zod schemas)
 * to docs/openapi.json. Run it after changing a schema or a route; test/api/openapi.test.ts fails until the checked-in
 * file matches. `--check` only compares (exit 1 when stale), for CI or a pre-commit hook.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openApiFileText } from '../src/api/openapi';

const file = path.resolve(__dirname, '..', 'docs', 'openapi.json');
const text = openApiFileText();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== text) {
    console.error(`${path.relative(process.cwd(), file)} is stale: run npm run openapi`);
    process.exit(1);
  }
  console.log(`${path.relative(process.cwd(), file)} is up to date`);
} else {
  writeFileSync(file, text);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
