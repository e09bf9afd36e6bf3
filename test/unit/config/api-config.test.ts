import { readFileSync } from 'node:fs';
import path from 'node:path';
import { apiConfigSchema } from '../../../src/api/config';
import { ConfigError, DEFAULT_STACK_CONFIG_PATH, parseStackConfig } from '../../../src/config/stack-config';

const shipped = readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8');
const HASH = 'a'.repeat(64);

describe('the api: section of temporal-dev.yml', () => {
  it('the shipped file describes the API on 127.0.0.1:18070 with a 16 KiB body limit and no key hashes', () => {
    const { api } = parseStackConfig(shipped);
    expect(api).toMatchObject({ enabled: true, host: '127.0.0.1', port: 18070, keys: [], bodyLimitBytes: 16_384 });
  });

  it('resolves the dev key file against the stack file’s folder', () => {
    const file = '/srv/stack/dev.yml';
    expect(parseStackConfig(shipped, 'dev.yml', file).api.devKeyFile).toBe(
      path.resolve('/srv/stack', '.data/api/dev-api-key'),
    );
  });

  it('is optional: defaults apply without the section', () => {
    const withoutApi = shipped.slice(0, shipped.indexOf('\napi:'));
    expect(parseStackConfig(withoutApi).api).toMatchObject({ port: 18070, keys: [], decisionTimeoutMs: 5_000 });
  });

  it.each([
    ['a port that is not a number', 'port: 18070', 'port: "x"', /api\.port/],
    ['an unknown key', 'bodyLimitBytes: 16384', 'bodyLimitBytes: 16384\n  bodyLimit: 1', /api: .*bodyLimit|bodyLimit/],
    [
      'a key given in clear instead of its hash',
      'keys: []',
      'keys: [{ name: shop, sha256: my-secret-key }]',
      /api\.keys\.0\.sha256: must be the SHA-256/,
    ],
    ['a key without a name', 'keys: []', `keys: [{ sha256: ${HASH} }]`, /api\.keys\.0\.name/],
    ['a body limit under 1 KiB', 'bodyLimitBytes: 16384', 'bodyLimitBytes: 10', /api\.bodyLimitBytes/],
  ])('names the key that holds %s', (_what, from, to, message) => {
    const bad = shipped.replace(from, to);
    expect(bad).not.toBe(shipped);
    expect(() => parseStackConfig(bad)).toThrow(ConfigError);
    expect(() => parseStackConfig(bad)).toThrow(message);
  });

  it('refuses the same key hash twice', () => {
    const result = apiConfigSchema.safeParse({
      keys: [
        { name: 'a', sha256: HASH },
        { name: 'b', sha256: HASH },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].path).toEqual(['keys', 1, 'sha256']);
  });
});
