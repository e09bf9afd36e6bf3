/**
 * The merchant registry as the rest of the product sees it (docs/merchants.md): which merchants this deployment
 * serves, how each talks to WeChat Pay, and the WeChat call budget of each. Built by registry.ts from the registry file
 * (production: WXREFUND_MERCHANTS; a single-merchant WECHATPAY_CONFIG file is a registry of one) or the stack file's
 * `merchants:` section (local stack, credentials from the simulator's manifest).
 *
 * Credentials are resolved when a merchant is first used, not when the registry is read: one merchant's broken key
 * file must not stop the others (its refunds go to MANUAL_REVIEW with a reason naming it and the setting).
 */
import type { V2GatewayConfigInput } from '../wechatpay/v2/gateway';
import type { V3GatewayConfigInput } from '../wechatpay/v3/gateway';

/** A secret or key named by reference only: never the value itself in a registry file. */
export type SecretRef = { env: string } | { file: string };

/** WeChat's documented per-merchant limits are 150 creates/s and 300 queries/s (docs §3.10); we stay below them. */
export interface CallBudget {
  createsPerSecond: number;
  /** Refund queries and apply-abnormal-refund. */
  queriesPerSecond: number;
}

/** A merchant's own events target, overriding the deployment's (events settings). */
export interface MerchantEventsTarget {
  url: string;
  secret: SecretRef;
}

/** The gateway configuration of a merchant with its credentials read (the protocol layer validates it again). */
export type ResolvedGatewayConfig =
  { apiVersion: 'v3'; v3: V3GatewayConfigInput } | { apiVersion: 'v2'; v2: V2GatewayConfigInput };

export interface MerchantEntry {
  /** The merchant (direct) or the service provider (partner). */
  readonly mchid: string;
  readonly apiVersion: 'v3' | 'v2';
  readonly mode: 'direct' | 'partner';
  /** Partner mode: the sub-merchants it refunds for; undefined: any sub_mchid WeChat accepts. */
  readonly subMchids?: readonly string[];
  /** Requests that name no merchant are this one's; its workflow IDs are the single-merchant ones (domain/ids.ts). */
  readonly isDefault: boolean;
  readonly budget: CallBudget;
  readonly events?: MerchantEventsTarget;
  /**
   * Changes whenever anything of this entry changes, credentials' references and referenced files' contents included
   * (so a rotated key file is a change); never contains a secret. Reloads compare it.
   */
  readonly fingerprint: string;
  /**
   * Reads the credentials now (env variables, files, the simulator's manifest) and returns the gateway configuration.
   * Throws MerchantCredentialError naming `merchants[<mchid>].<key>` and the cause, never a secret's value.
   */
  gatewayConfig(): ResolvedGatewayConfig;
  /**
   * The merchant's own events target with its secret read now (`events.secret`), undefined when it has none.
   * Throws MerchantCredentialError naming `merchants[<mchid>].events.secret`. (Added by the lead at 07:06.)
   */
  resolveEvents(): { url: string; secret: string } | undefined;
}

export interface MerchantRegistry {
  /** Where it was read from, for messages (a file path, or "temporal-dev.yml merchants"). */
  readonly source: string;
  readonly defaultMchid?: string;
  list(): readonly MerchantEntry[];
  get(mchid: string): MerchantEntry | undefined;
  /** The merchant a request names, else the default. Throws UnknownMerchantError naming the mchid (or "no default"). */
  resolve(mchid?: string): MerchantEntry;
}

/** A request names a merchant the registry does not have (or names none and there is no default). */
export class UnknownMerchantError extends Error {
  override readonly name = 'UnknownMerchantError';
}

/** A merchant's credentials cannot be read or are invalid: names the merchant and the setting, never a value. */
export class MerchantCredentialError extends Error {
  override readonly name = 'MerchantCredentialError';
  constructor(
    readonly mchid: string,
    /** e.g. `merchants[1900000109].v3.merchantPrivateKey`. */
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a reload changed, by mchid. */
export interface RegistryChange {
  added: string[];
  removed: string[];
  /** Fingerprint differs: its cached gateway is replaced on next use (the old one closes once idle). */
  changed: string[];
}

/**
 * Every merchant's gateway, built on first use and cached (gateway-pool.ts). One pool per process: the worker's
 * activities and the webhook's verifiers share its keyrings, so a certificate downloaded for one serves both.
 */
export interface MerchantGateways {
  registry(): MerchantRegistry;
  /**
   * The gateway of `mchid` (absent: the default merchant). Throws UnknownMerchantError, or MerchantCredentialError
   * when the merchant's credentials cannot be read (built again on the next call, so a fixed file is picked up).
   */
  forMerchant(mchid?: string): import('../wechatpay/gateway').RefundGateway;
  /** The v3 keyring of a v3 merchant (built with its gateway); undefined for v2 merchants. */
  keyringOf(mchid: string): import('../wechatpay/v3/keyring').WechatPayKeyring | undefined;
  /** Swap in a new registry (reload): added, removed and changed merchants; unchanged gateways are kept. */
  replaceRegistry(next: MerchantRegistry): RegistryChange;
  /** Called after each replaceRegistry (the worker starts and stops per-merchant activity workers). */
  onChange(listener: (change: RegistryChange, registry: MerchantRegistry) => void): () => void;
  close(): Promise<void>;
}
