/**
 * The local stack's merchants take their keys from the simulator (`credentials: simulator` in the stack file): its
 * manifest.json in the simulator's keysDir holds every demo merchant's keys, and refunds carry the local webhook's
 * URL as notify_url. One place for how that is read, shared by the registry (registry.ts) and the single-merchant
 * default of a stack file without a `merchants:` section (program-registry.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/config-error';
import {
  loadSimulatorManifest,
  MANIFEST_FILE,
  v2GatewayConfigFor,
  v3GatewayConfigFor,
  type SimulatorManifest,
} from '../simulator/manifest';
import { notifyUrl as webhookNotifyUrl } from '../webhook/notify-url';
import type { ResolvedGatewayConfig } from './types';

/** Where the local stack's simulator keys are, and the webhook URL WeChat (the simulator) calls. */
export interface SimulatorCredentialSource {
  /** Absolute: the stack file's `simulator.keysDir`, resolved. */
  keysDir: string;
  /** The stack file's `webhook.publicBaseUrl`. */
  webhookBaseUrl?: string;
}

/** The manifest, or a ConfigError that says how to get one. */
export function loadManifestFrom(keysDir: string): SimulatorManifest {
  try {
    return loadSimulatorManifest(keysDir);
  } catch (e) {
    throw new ConfigError(
      `simulator keys not found in ${keysDir} (start the simulator first: npm run sim): ${(e as Error).message}`,
    );
  }
}

/** The merchant a single-merchant local stack serves: WECHATPAY_MCHID, else the manifest's first direct merchant. */
export function defaultSimulatorMchid(manifest: SimulatorManifest, env: NodeJS.ProcessEnv): string {
  return (
    env.WECHATPAY_MCHID ?? manifest.merchants.find((m) => m.mode === 'direct')?.mchid ?? manifest.merchants[0].mchid
  );
}

/** What a reload compares: the manifest changes when the simulator makes new keys. */
export function manifestDigest(keysDir: string): string {
  try {
    return createHash('sha256')
      .update(readFileSync(path.join(keysDir, MANIFEST_FILE)))
      .digest('hex');
  } catch (e) {
    return `unreadable:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/** The notify_url of a local-stack merchant: the webhook's route for it (none when the webhook has no public URL). */
export function simulatorNotifyUrl(
  source: SimulatorCredentialSource,
  apiVersion: 'v3' | 'v2',
  mchid: string,
): string | undefined {
  return source.webhookBaseUrl ? webhookNotifyUrl(source.webhookBaseUrl, apiVersion, mchid) : undefined;
}

/** A manifest merchant's gateway configuration (throws plain Errors: the caller names the setting). */
export function simulatorGatewayConfig(
  manifest: SimulatorManifest,
  merchant: { mchid: string; apiVersion: 'v3' | 'v2'; notifyUrl?: string },
): ResolvedGatewayConfig {
  const overrides = merchant.notifyUrl ? { notifyUrl: merchant.notifyUrl } : {};
  return merchant.apiVersion === 'v3'
    ? { apiVersion: 'v3', v3: v3GatewayConfigFor(manifest, merchant.mchid, overrides) }
    : { apiVersion: 'v2', v2: v2GatewayConfigFor(manifest, merchant.mchid, overrides) };
}
