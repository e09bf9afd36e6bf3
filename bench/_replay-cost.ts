import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker, bundleWorkflowCode, Runtime, DefaultLogger } from '@temporalio/worker';
import { payloadDataConverter } from '../src/codec/data-converter';
import { loadPayloadKeys } from '../src/codec/payload-keys';
import { TEST_PAYLOAD_KEYS } from '../test/harness/paths';
import { historyFromJson } from '../test/replay/history-json';
import { quietBundlerLogger } from '../test/harness/temporal';

const DIR = path.join(__dirname, '../test/fixtures/histories');
const rounds = Number(process.env.ROUNDS ?? 10);
const stub = process.env.STUB === '1';
(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const histories = readdirSync(DIR).filter((f) => f.endsWith('.json')).map((file) => ({
    workflowId: path.basename(file, '.json'),
    history: historyFromJson(JSON.parse(readFileSync(path.join(DIR, file), 'utf8'))),
  }));
  const dataConverter = payloadDataConverter(loadPayloadKeys({ env: { WXREFUND_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS } }));
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: quietBundlerLogger as any,
    failureConverterPath: dataConverter.failureConverterPath,
    ...(process.env.PRELOAD ? { preloadModules: process.env.PRELOAD.split(',') } : {}),
    ...(stub ? { webpackConfigHook: (c: any) => { c.resolve.alias = { ...(c.resolve.alias ?? {}), [path.resolve(__dirname, '../src/domain/schemas')]: path.resolve(__dirname, '_schemas-stub.ts') }; return c; } } : {}),
  });
  const all = Array.from({ length: rounds }, () => histories).flat();
  // warm
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter }, histories)) if (r.error) console.log('ERR', r.workflowId, r.error.message.slice(0, 200));
  const c0 = process.cpuUsage(); const t0 = Date.now();
  let fails = 0;
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter }, all)) if (r.error) fails++;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ stub, replays: all.length, fails, cpuMsPerReplay: +((c.user + c.system) / 1000 / all.length).toFixed(2), wallMsPerReplay: +((Date.now() - t0) / all.length).toFixed(2), load: require('os').loadavg()[0] }));
})();
