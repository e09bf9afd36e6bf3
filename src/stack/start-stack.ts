/**
 * Brings up the whole local stack described by temporal-dev.yml: provisions the Temporal tools, makes the stack's
 * payload key on first start, starts the dev server (with the Web UI, decoding through the codec server), then the
 * codec server, simulator, webhook, stand-in event receiver, worker and HTTP API (services.ts), each only once the
 * previous one is ready.
 * Shared by `npm run dev` and `npm run demo`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { PayloadEncryption } from '../codec/process-encryption';
import { devPayloadKeyFile, programPayloadEncryption } from '../config/program-encryption';
import type { StackConfig } from '../config/stack-config';
import { REPO_ROOT } from '../config/tools';
import { startDevServer, type DevServerHandle } from './dev-server';
import { codecServerUrl, stackServices } from './services';
import { Supervisor } from './supervisor';

export interface RunningStack {
  supervisor: Supervisor;
  server: DevServerHandle;
  uiUrl: string;
  /** The codec server the Web UI decodes through; undefined when it is off, or payload encryption is. */
  codecUrl?: string;
  /** What every process of the stack encrypts with (the launcher's own clients use its dataConverter). */
  payloadEncryption: PayloadEncryption;
}

export async function startStack(
  cfg: StackConfig,
  supervisor: Supervisor,
  progress: (line: string) => void = console.log,
): Promise<RunningStack> {
  // Once, before any child starts: a bad WXREFUND_PAYLOAD_KEYS stops here, and the processes that start together all
  // read the one key made now instead of racing to make it.
  const devKeyFile = devPayloadKeyFile(process.env, cfg);
  const hadKeyFile = devKeyFile !== undefined && existsSync(devKeyFile);
  const payloadEncryption = programPayloadEncryption(process.env, cfg);
  if (devKeyFile !== undefined && !hadKeyFile && existsSync(devKeyFile)) {
    progress(`made the stack's payload key in ${devKeyFile} (deleting it makes the local histories unreadable)`);
  }
  progress(payloadEncryption.description);

  progress('checking Temporal tools (scripts/ensure-temporal)...');
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-temporal')], { stdio: 'inherit' });

  // Without keys (WXREFUND_PAYLOAD_ENCRYPTION=off) there is nothing to decode: no codec server.
  const codecUrl = payloadEncryption.keys ? codecServerUrl(cfg) : undefined;
  progress(
    `starting Temporal dev server on ${cfg.temporal.ip}:${cfg.temporal.port} (Web UI :${cfg.temporal.uiPort}` +
      `${codecUrl ? `, decoding through ${codecUrl}` : ''})...`,
  );
  const server = await startDevServer(cfg.temporal, {
    stdio: 'pipe',
    ...(codecUrl ? { codecEndpoint: codecUrl } : {}),
  });
  // Adopted (no spec), so never restarted: every other part depends on it, and its death stops the whole stack.
  supervisor.adopt('temporal', server.process);

  for (const service of stackServices(cfg)) {
    if (!existsSync(service.entry)) {
      progress(`(${service.name}: not part of this build, skipped)`);
      continue;
    }
    if (service.name === 'codec' && !payloadEncryption.keys) {
      progress('(codec: payload encryption is off, nothing to decode: skipped)');
      continue;
    }
    progress(`starting ${service.name}...`);
    await supervisor.start(service.spec);
  }
  const uiUrl = `http://${cfg.temporal.ip}:${cfg.temporal.uiPort}`;
  return { supervisor, server, uiUrl, ...(codecUrl ? { codecUrl } : {}), payloadEncryption };
}
