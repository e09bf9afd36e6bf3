/**
 * Which merchants the webhook verifies for, and which of them is the deployment's default: the one the routes without
 * `/:mchid` serve, and whose refunds keep the single-merchant workflow IDs (src/domain/ids.ts).
 *
 * A request takes one *view* when it arrives and uses it to the end, so a registry reload in the middle of a request
 * never mixes two configurations: requests in flight finish with the verifier (and default) they started with.
 *
 * Two directories exist: a fixed list (`fixedDirectory`: `webhook.merchants`, the simulator's manifest, tests) and
 * the live one over the merchant registry (registry-verifiers.ts), whose verifiers are built per merchant on first use.
 */
import type { MerchantVerifier } from './merchant-verifier';

/** What a view knows about one mchid. */
export type MerchantLookup =
  | { kind: 'ready'; verifier: MerchantVerifier }
  | { kind: 'unknown' }
  /** A configured merchant whose keys cannot be read now: its notifications fail (WeChat retries), nobody else's. */
  | { kind: 'unavailable'; setting: string; message: string };

export interface MerchantDirectoryView {
  /** The default merchant; undefined when several are configured and none is marked default. */
  readonly defaultMchid: string | undefined;
  lookup(mchid: string): MerchantLookup;
  /** Every merchant but `mchid` whose verifier can be had (tells a notification replayed to the wrong path). */
  others(mchid: string): Iterable<MerchantVerifier>;
  mchids(): readonly string[];
}

export interface MerchantDirectory {
  /** The configuration as of now; take it once per request. */
  current(): MerchantDirectoryView;
  /** Stops following changes (the live directory); a no-op for fixed lists. */
  close(): void;
}

/**
 * A fixed list of verifiers. The default is the configured one (`webhook.defaultMchid`), else the verifier marked
 * `isDefault` (the simulator manifest's first direct merchant), else the only merchant. A configured default that
 * names no merchant is a configuration error.
 */
export function fixedDirectory(
  verifiers: readonly MerchantVerifier[],
  configuredDefault: string | undefined,
): MerchantDirectory {
  const byMchid = new Map(verifiers.map((m) => [m.mchid, m]));
  if (configuredDefault !== undefined && !byMchid.has(configuredDefault)) {
    throw new Error(
      `webhook.defaultMchid ${configuredDefault} is not one of the merchants (${[...byMchid.keys()].join(', ')})`,
    );
  }
  const marked = verifiers.filter((m) => m.isDefault);
  if (marked.length > 1) throw new Error(`several merchants marked default: ${marked.map((m) => m.mchid).join(', ')}`);
  const defaultMchid =
    configuredDefault ?? marked[0]?.mchid ?? (byMchid.size === 1 ? [...byMchid.keys()][0] : undefined);
  const view: MerchantDirectoryView = {
    defaultMchid,
    lookup(mchid) {
      const verifier = byMchid.get(mchid);
      return verifier ? { kind: 'ready', verifier } : { kind: 'unknown' };
    },
    others: (mchid) => [...byMchid.values()].filter((m) => m.mchid !== mchid),
    mchids: () => [...byMchid.keys()],
  };
  return { current: () => view, close: () => undefined };
}
