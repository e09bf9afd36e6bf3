/**
 * Which processes `npm run dev` and the demo start, in which order: the codec server first (the Web UI decodes through
 * it), the stand-in order service only for a local events URL and before the worker (the first events find it
 * listening), the HTTP API unless it is turned off.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_STACK_CONFIG_PATH, parseStackConfig, type StackConfig } from '../../../src/config/stack-config';
import { devServerArgs } from '../../../src/stack/dev-server';
import { codecServerUrl, stackServices } from '../../../src/stack/services';

const shipped = readFileSync(DEFAULT_STACK_CONFIG_PATH, 'utf8');
const names = (cfg: StackConfig) => stackServices(cfg).map((s) => s.name);

it('temporal-dev.yml: the codec server, simulator, webhook, the events receiver, worker, then the API', () => {
  const cfg = parseStackConfig(shipped);
  expect(names(cfg)).toEqual(['codec', 'simulator', 'webhook', 'events', 'worker', 'api']);
  const events = stackServices(cfg).find((s) => s.name === 'events')!;
  expect(events.entry).toMatch(/src\/cli\/event-receiver\.ts$/);
});

it('no stand-in receiver when events are off or go to a real order service', () => {
  const off = parseStackConfig(
    shipped.replace(/^events:\n {2}(#.*\n {2})*enabled: true/m, (m) => m.replace('true', 'false')),
  );
  expect(off.events.enabled).toBe(false);
  expect(names(off)).not.toContain('events');
  const remote = parseStackConfig(
    shipped.replace('url: http://127.0.0.1:18095/refund-events', 'url: https://orders.example.com/refund-events'),
  );
  expect(remote.events.url).toBe('https://orders.example.com/refund-events');
  expect(names(remote)).toEqual(['codec', 'simulator', 'webhook', 'worker', 'api']);
});

it('no API when api.enabled is false', () => {
  const cfg = parseStackConfig(shipped.replace(/^api:\n/m, 'api:\n  enabled: false\n'));
  expect(names(cfg)).not.toContain('api');
});

describe('the codec server', () => {
  it("runs src/cli/codec-server.ts, and the dev server's Web UI decodes through it", () => {
    const cfg = parseStackConfig(shipped);
    const codec = stackServices(cfg).find((s) => s.name === 'codec')!;
    expect(codec.entry).toMatch(/src\/cli\/codec-server\.ts$/);
    expect(codecServerUrl(cfg)).toBe('http://127.0.0.1:18099');
    const args = devServerArgs(cfg.temporal, { codecEndpoint: codecServerUrl(cfg) }).join(' ');
    expect(args).toContain('--ui-port 8233 --ui-codec-endpoint http://127.0.0.1:18099');
    // A headless server has no Web UI to point anywhere.
    expect(devServerArgs(cfg.temporal, { ui: false, codecEndpoint: 'http://127.0.0.1:1' })).not.toContain(
      '--ui-codec-endpoint',
    );
  });

  it('is not started when codec.server.enabled is false, and has no URL', () => {
    const cfg = parseStackConfig(
      shipped.replace(/^( {2}server:\n(?: {4}#.*\n)*) {4}enabled: true/m, '$1    enabled: false'),
    );
    expect(cfg.codec.server.enabled).toBe(false);
    expect(names(cfg)).not.toContain('codec');
    expect(codecServerUrl(cfg)).toBeUndefined();
  });
});
