import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { diffRegistries, loadRegistryFile } from '../../../src/merchants/registry';
import { watchRegistry, type RegistryWatch } from '../../../src/merchants/registry-watch';
import type { MerchantRegistry } from '../../../src/merchants/types';
import { tempDir, v2Merchant, v3Merchant, write, writeRegistry } from './support';

const A = '1900000109';
const B = '1900000110';

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 300));

describe('following the registry file', () => {
  let watch: RegistryWatch | undefined;
  afterEach(() => watch?.close());

  function follow(file: string) {
    const reloads: MerchantRegistry[] = [];
    const errors: Error[] = [];
    const controller = new AbortController();
    watch = watchRegistry(file, {
      onReload: (r) => reloads.push(r),
      onError: (e) => errors.push(e),
      signal: controller.signal,
      debounceMs: 50,
      env: {},
    });
    return { reloads, errors, controller };
  }

  it('reloads a valid new file, reports an invalid one naming merchant and key, and goes on', async () => {
    const dir = tempDir();
    const a = v3Merchant(dir, A);
    const file = writeRegistry(dir, [a]);
    const { reloads, errors } = follow(file);

    writeRegistry(dir, [a, v2Merchant(dir, B)]);
    await until(() => reloads.length === 1);
    expect(reloads[0].list().map((m) => m.mchid)).toEqual([A, B]);

    write(file, JSON.stringify({ merchants: [{ ...a, budget: { createsPerSecond: 1000 } }] }));
    await until(() => errors.length === 1);
    expect(errors[0].message).toContain(`merchants[${A}].budget.createsPerSecond: must be at most 150`);
    expect(reloads).toHaveLength(1);

    writeRegistry(dir, [a]);
    await until(() => reloads.length === 2);
    expect(reloads[1].list().map((m) => m.mchid)).toEqual([A]);
  });

  it('sees a key file rotated in its own folder as a change of that merchant', async () => {
    const dir = tempDir();
    const registryDir = path.join(dir, 'config');
    const entry = v3Merchant(dir, A);
    (entry.v3 as Record<string, unknown>).apiV3Key = { file: path.join(dir, A, 'apiv3_key.txt') };
    (entry.v3 as Record<string, unknown>).merchantPrivateKey = { file: path.join(dir, A, 'apiclient_key.pem') };
    (entry.v3 as Record<string, unknown>).wechatpayPublicKeys = [];
    const file = writeRegistry(registryDir, [entry]);
    const before = loadRegistryFile(file, { env: {} });
    const { reloads } = follow(file);

    writeFileSync(path.join(dir, A, 'apiv3_key.txt'), 'Q'.repeat(32));
    await until(() => reloads.length === 1);
    expect(diffRegistries(before, reloads[0])).toEqual({ added: [], removed: [], changed: [A] });
  });

  it('stays quiet when an unrelated file of the folder changes; SIGHUP reloads at once', async () => {
    const dir = tempDir();
    const file = writeRegistry(dir, [v3Merchant(dir, A)]);
    const { reloads } = follow(file);
    write(path.join(dir, 'notes.txt'), 'unrelated');
    await settle();
    expect(reloads).toHaveLength(0);

    process.emit('SIGHUP', 'SIGHUP');
    expect(reloads).toHaveLength(1);
  });

  it('stops when its signal is aborted', async () => {
    const dir = tempDir();
    const file = writeRegistry(dir, [v3Merchant(dir, A)]);
    const { reloads, controller } = follow(file);
    controller.abort();
    writeRegistry(dir, [v3Merchant(dir, A), v2Merchant(dir, B)]);
    process.emit('SIGHUP', 'SIGHUP');
    await settle();
    expect(reloads).toHaveLength(0);
  });
});
