import { ConfigError } from '../../../src/config/config-error';
import { codecConfigSchema, codecServerSettings, resolveCodecPaths } from '../../../src/config/codec-settings';

const stack = {
  temporal: { ip: '127.0.0.1', uiPort: 8233, namespace: 'default' },
  api: { keys: [], devKeyFile: '/repo/.data/api/dev-api-key' },
};
const HASH = 'a'.repeat(64);

describe('the codec: section of a stack file', () => {
  it("defaults to the dev server's Web UI, its namespace and the API's keys (its dev key when it has none)", () => {
    const s = codecServerSettings(undefined, stack);
    expect(s.enabled).toBe(true);
    expect(s.server).toMatchObject({
      host: '127.0.0.1',
      port: 18099,
      namespaces: ['default'],
      allowOriginWithoutKey: false,
    });
    expect(s.server.allowedOrigins).toEqual(['http://127.0.0.1:8233', 'http://localhost:8233']);
    expect(s.server.apiKeys).toEqual([]);
    expect(s.devApiKeyFile).toBe('/repo/.data/api/dev-api-key');
    // No default key file: a stack file that does not name one never makes a payload key on disk.
    expect(s.devKeyFile).toBeUndefined();
  });

  it("adds the cluster's Web UI when the stack file has a cluster (npm run stack:cluster)", () => {
    const withCluster = { ...stack, cluster: { uiPort: 8333 } };
    expect(codecServerSettings(undefined, withCluster).server.allowedOrigins).toEqual([
      'http://127.0.0.1:8233',
      'http://localhost:8233',
      'http://127.0.0.1:8333',
      'http://localhost:8333',
    ]);
    // Origins named in the file are the whole list.
    const named = codecServerSettings({ server: { allowedOrigins: ['https://ui.example.com'] } }, withCluster);
    expect(named.server.allowedOrigins).toEqual(['https://ui.example.com']);
  });

  it("uses the API's configured keys, or its own when it has some", () => {
    const withApiKeys = { ...stack, api: { ...stack.api, keys: [{ name: 'order-service', sha256: HASH }] } };
    expect(codecServerSettings(undefined, withApiKeys).server.apiKeys).toEqual([
      { name: 'order-service', sha256: HASH },
    ]);
    expect(codecServerSettings(undefined, withApiKeys).devApiKeyFile).toBeUndefined();
    const own = codecServerSettings({ server: { keys: [{ name: 'sre', sha256: HASH }] } }, withApiKeys);
    expect(own.server.apiKeys).toEqual([{ name: 'sre', sha256: HASH }]);
  });

  it('takes explicit origins, namespaces and the dev key file', () => {
    const s = codecServerSettings(
      {
        devKeyFile: '/repo/.data/codec/payload-keys',
        server: { allowedOrigins: ['https://temporal-ui.example.com'], namespaces: ['refunds-prod'], port: 0 },
      },
      stack,
    );
    expect(s.server.allowedOrigins).toEqual(['https://temporal-ui.example.com']);
    expect(s.server.namespaces).toEqual(['refunds-prod']);
    expect(s.devKeyFile).toBe('/repo/.data/codec/payload-keys');
  });

  it.each([
    [
      { server: { host: '0.0.0.0', allowOriginWithoutKey: true } },
      /codec: server\.allowOriginWithoutKey: only with a loopback host/,
    ],
    [{ server: { allowedOrigins: ['ftp://ui'] } }, /codec: server\.allowedOrigins\.0: must be an origin/],
    [{ server: { keys: [{ name: 'x', sha256: 'not-a-hash' }] } }, /codec: server\.keys\.0\.sha256: /],
    [{ server: { prot: 1 } }, /codec: server: Unrecognized key: "prot"/],
    [{ devKeyFile: '' }, /codec: devKeyFile: /],
  ])('refuses %j, naming the key', (section, message) => {
    expect(() => codecServerSettings(section as never, stack, 'temporal-dev.yml')).toThrow(ConfigError);
    expect(() => codecServerSettings(section as never, stack, 'temporal-dev.yml')).toThrow(message);
  });

  it('accepts its own parsed output again (stack-config.ts parses it first), and resolves the key file', () => {
    const parsed = codecConfigSchema.parse({
      devKeyFile: '.data/codec/payload-keys',
      server: { allowOriginWithoutKey: true },
    });
    const resolved = resolveCodecPaths((p) => `/repo/${p}`, parsed);
    expect(resolved.devKeyFile).toBe('/repo/.data/codec/payload-keys');
    expect(codecServerSettings(resolved, stack).devKeyFile).toBe('/repo/.data/codec/payload-keys');
    expect(resolveCodecPaths((p) => `/repo/${p}`, codecConfigSchema.parse({})).devKeyFile).toBeUndefined();
  });
});
