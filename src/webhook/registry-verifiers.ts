/**
 * The webhook's merchants from the merchant registry (docs/merchants.md), the one the worker reads. Each merchant's
 * verifier is built on its first notification from the registry entry's credentials and the gateway pool's keyring:
 * the pool gives that keyring the v3 client as refresher, so a notification signed by a certificate we have never
 * seen downloads WeChat's certificates (rate-limited by the keyring), and the pool's scheduled refresh keeps it fresh.
 *
 * One merchant's unreadable credentials make only its own notifications fail (answered so WeChat retries later; the
 * next notification tries again, so a fixed file is picked up). A reload (pool.replaceRegistry) drops the verifiers
 * of changed and removed merchants; views taken before it keep theirs, so requests in flight finish as they started.
 */
import {
  MerchantCredentialError,
  type MerchantEntry,
  type MerchantGateways,
  type MerchantRegistry,
} from '../merchants/types';
import type { MerchantDirectory, MerchantDirectoryView, MerchantLookup } from './merchant-directory';
import { merchantVerifier, type MerchantVerifier } from './merchant-verifier';

export interface RegistryDirectoryOptions {
  /** ±window for Wechatpay-Timestamp (webhook.timestampToleranceSeconds). */
  toleranceSeconds?: number;
}

/** Both WeChat keys are exactly 32 printable ASCII characters (reference §4.3, §5.2); say which one is not. */
function checkedKey(mchid: string, key: 'v3.apiV3Key' | 'v2.apiKey', value: string): string {
  if (/^[\x21-\x7e]{32}$/.test(value)) return value;
  const setting = `merchants[${mchid}].${key}`;
  throw new MerchantCredentialError(mchid, setting, `${setting}: must be 32 printable ASCII characters`);
}

function unavailable(mchid: string, err: unknown): MerchantLookup {
  if (err instanceof MerchantCredentialError)
    return { kind: 'unavailable', setting: err.setting, message: err.message };
  // e.g. the protocol layer refusing the gateway configuration: its message names the field, never a value.
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'unavailable', setting: `merchants[${mchid}]`, message };
}

export function registryDirectory(gateways: MerchantGateways, opts: RegistryDirectoryOptions = {}): MerchantDirectory {
  /** Built verifiers by mchid, with the fingerprint of the entry they were built from. */
  const built = new Map<string, { fingerprint: string; verifier: MerchantVerifier }>();

  function build(entry: MerchantEntry): MerchantVerifier {
    const { mchid } = entry;
    const config = entry.gatewayConfig();
    const tolerance = { toleranceSeconds: opts.toleranceSeconds };
    if (config.apiVersion === 'v2') {
      return merchantVerifier({ mchid, v2: { apiKey: checkedKey(mchid, 'v2.apiKey', config.v2.apiKey) } }, tolerance);
    }
    const apiV3Key = checkedKey(mchid, 'v3.apiV3Key', config.v3.apiV3Key);
    const keyring = gateways.keyringOf(mchid);
    if (!keyring) {
      const setting = `merchants[${mchid}].apiVersion`;
      throw new MerchantCredentialError(mchid, setting, `${setting}: the gateway pool has no v3 keyring for it`);
    }
    return merchantVerifier({ mchid, v3: { apiV3Key, keyring } }, tolerance);
  }

  function lookupIn(registry: MerchantRegistry, mchid: string): MerchantLookup {
    const entry = registry.get(mchid);
    if (!entry) return { kind: 'unknown' };
    const cached = built.get(mchid);
    if (cached?.fingerprint === entry.fingerprint) return { kind: 'ready', verifier: cached.verifier };
    let verifier: MerchantVerifier;
    try {
      verifier = build(entry);
    } catch (err) {
      return unavailable(mchid, err);
    }
    // Only the current registry's entry is kept: a view taken before a reload must not put back an outdated one.
    if (gateways.registry().get(mchid)?.fingerprint === entry.fingerprint) {
      built.set(mchid, { fingerprint: entry.fingerprint, verifier });
    }
    return { kind: 'ready', verifier };
  }

  const unsubscribe = gateways.onChange((change) => {
    for (const mchid of [...change.changed, ...change.removed]) built.delete(mchid);
  });

  return {
    current(): MerchantDirectoryView {
      const registry = gateways.registry();
      return {
        defaultMchid: registry.defaultMchid,
        lookup: (mchid) => lookupIn(registry, mchid),
        *others(mchid) {
          for (const entry of registry.list()) {
            if (entry.mchid === mchid) continue;
            const found = lookupIn(registry, entry.mchid);
            if (found.kind === 'ready') yield found.verifier;
          }
        },
        mchids: () => registry.list().map((e) => e.mchid),
      };
    },
    close: unsubscribe,
  };
}
