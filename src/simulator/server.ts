/**
 * Starts the simulator in-process: one server for API v3 and the admin API (http, or https with `tls`), one for
 * API v2 (https requesting client certificates by default), both on the same simulated WeChat Pay.
 *
 *   const sim = await startSimulator({ timeScale: 0 });
 *   const gateway = createV3Gateway(v3GatewayConfigFor(sim.manifest, sim.merchants[0].mchid));
 *   await sim.admin.seedOrder({ mchid, outTradeNo: 'T20240001', totalFen: 1000 });
 *   ...
 *   await sim.close();
 */
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { describeZodError as formatZodError } from '../domain/zod-errors';
import { buildV2Xml } from '../wechatpay/v2/xml';
import { SimulatorAdminClient } from './admin-client';
import { ADMIN_PREFIX, registerAdminRoutes } from './admin-routes';
import type { VirtualClock } from './clock';
import { simulatorConfigSchema, type SimulatorConfig, type SimulatorConfigInput } from './config';
import { SimulatorCore } from './core';
import { rawBodies } from './http-common';
import {
  buildManifest,
  refreshManifest,
  writeManifest,
  type ManifestMerchant,
  type SimulatorManifest,
} from './manifest';
import { registerV2Routes, V2_PATHS } from './v2/routes';
import { registerV3Routes, V3_PATHS } from './v3/routes';

export interface SimulatorHandle {
  /** API v3 base URL, e.g. http://127.0.0.1:51234 (what WeChat's https://api.mch.weixin.qq.com is in production). */
  baseUrl: string;
  /** API v2 base URL (https with client certificates unless `v2.tls: false`). */
  v2BaseUrl: string;
  /** Admin API root, `${baseUrl}/__admin`. */
  adminUrl: string;
  admin: SimulatorAdminClient;
  /** URLs, CA, WeChat's public keys and every merchant's keys (PEM text). */
  manifest: SimulatorManifest;
  merchants: ManifestMerchant[];
  /** Path of manifest.json when `keysDir` is set. */
  manifestPath?: string;
  config: SimulatorConfig;
  clock: VirtualClock;
  /** Direct access to state for in-process tests (prefer the admin client). */
  core: SimulatorCore;
  close(): Promise<void>;
}

export class SimulatorConfigError extends Error {
  override readonly name = 'SimulatorConfigError';
}

export function parseSimulatorConfig(input: unknown, source = 'simulator config'): SimulatorConfig {
  const parsed = simulatorConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw new SimulatorConfigError(`${source}: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

function urlOf(app: FastifyInstance, tls: boolean, host: string): string {
  const { port } = app.server.address() as AddressInfo;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${tls ? 'https' : 'http'}://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

export async function startSimulator(input: SimulatorConfigInput | SimulatorConfig = {}): Promise<SimulatorHandle> {
  const config = parseSimulatorConfig(input);
  const core = new SimulatorCore(config);
  const { tls } = core.material;
  const logger = config.logRequests ? { level: 'info' } : false;

  const v3 = fastify({
    logger,
    forceCloseConnections: true,
    ...(config.tls ? { https: { key: tls.serverKeyPem, cert: tls.serverCertPem } } : {}),
  }) as unknown as FastifyInstance;
  rawBodies(v3);
  registerV3Routes(v3, core);
  registerAdminRoutes(v3, core);
  // Known only once the servers listen (the URLs carry the ports).
  const published: { manifest?: SimulatorManifest } = {};
  v3.get(`${ADMIN_PREFIX}/manifest`, async () => published.manifest);
  v3.setNotFoundHandler((req, reply) => {
    const path = (req.raw.url ?? '').split('?')[0];
    core.calls.record('unknown', 404);
    reply.header('Request-ID', core.requestIds.requestId());
    if (path.startsWith(ADMIN_PREFIX)) return reply.code(404).send({ error: `no admin route ${req.method} ${path}` });
    // §8.3 step 1: unknown path 404, known path with the wrong method 405, both with an empty body.
    return reply.code(V3_PATHS.some((re) => re.test(path)) ? 405 : 404).send();
  });

  const v2 = fastify({
    logger,
    forceCloseConnections: true,
    ...(config.v2.tls
      ? {
          https: {
            key: tls.serverKeyPem,
            cert: tls.serverCertPem,
            ca: [tls.caCertPem],
            // Ask for the merchant certificate but decide per path: /pay/refundquery works without one (§5.1).
            requestCert: true,
            rejectUnauthorized: false,
          },
        }
      : {}),
  }) as unknown as FastifyInstance;
  rawBodies(v2);
  registerV2Routes(v2, core, config.v2.tls);
  v2.setNotFoundHandler((req, reply) => {
    const path = (req.raw.url ?? '').split('?')[0];
    core.calls.record('unknown', 404);
    if (V2_PATHS.includes(path)) {
      return reply
        .code(200)
        .type('text/xml')
        .send(buildV2Xml({ return_code: 'FAIL', return_msg: 'REQUIRE_POST_METHOD: 请使用post方法' }));
    }
    return reply.code(404).send();
  });

  try {
    await v3.listen({ host: config.host, port: config.port });
    await v2.listen({ host: config.v2.host ?? config.host, port: config.v2.port });
  } catch (e) {
    await core.close();
    await v3.close();
    await v2.close();
    throw e;
  }
  const baseUrl = urlOf(v3, config.tls, config.host);
  const v2BaseUrl = urlOf(v2, config.v2.tls, config.v2.host ?? config.host);
  const adminUrl = `${baseUrl}${ADMIN_PREFIX}`;
  const manifest = buildManifest(core.material, { v3: baseUrl, v2: v2BaseUrl, admin: adminUrl });
  published.manifest = manifest;
  const manifestPath = config.keysDir ? writeManifest(config.keysDir, manifest) : undefined;
  // A rotated certificate or a merchant's new signing mode: the manifest (and its file) follows.
  core.keys.onChange(() => {
    refreshManifest(manifest, core.material);
    if (config.keysDir) writeManifest(config.keysDir, manifest);
  });
  const admin = new SimulatorAdminClient(adminUrl, config.tls ? { ca: tls.caCertPem } : {});

  let closed = false;
  return {
    baseUrl,
    v2BaseUrl,
    adminUrl,
    admin,
    manifest,
    merchants: manifest.merchants,
    manifestPath,
    config,
    clock: core.clock,
    core,
    async close() {
      if (closed) return;
      closed = true;
      await admin.close();
      await core.close();
      await Promise.all([v3.close(), v2.close()]);
    },
  };
}
