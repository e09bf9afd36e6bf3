/**
 * Which merchant a request names, checked against the deployment's merchants (docs/merchants.md): the API answers 422
 * naming `mchid` or `sub_mchid` and the CLIs refuse their flags, before anything reaches Temporal, so a refund is never
 * started for a merchant no worker serves (it would wait for a gateway that does not exist).
 *
 * Messages name the mchid sent, never the deployment's other merchants: a caller learns nothing of who else is served.
 *
 * Pure, and it needs only what a MerchantRegistry (src/merchants/types.ts) shows of its merchants, so the API's
 * tests build one by hand (`merchantRoster`) and the programs pass the registry itself.
 */
import { merchantScope, type MerchantScope } from '../domain/ids';

/** The merchants a program serves, as choosing one needs them: a `MerchantRegistry` is one. */
export interface MerchantRoster {
  readonly defaultMchid?: string;
  list(): readonly MerchantListing[];
  get(mchid: string): MerchantListing | undefined;
}

export interface MerchantListing {
  readonly mchid: string;
  readonly mode: 'direct' | 'partner';
  /** Partner mode: the sub-merchants it refunds for; undefined: any. */
  readonly subMchids?: readonly string[];
}

/** A roster from plain values (tests, and programs that know their merchants without a registry). */
export function merchantRoster(plain: {
  defaultMchid?: string;
  merchants: readonly MerchantListing[];
}): MerchantRoster {
  const byMchid = new Map(plain.merchants.map((m) => [m.mchid, m]));
  const defaultMchid = plain.defaultMchid ?? (plain.merchants.length === 1 ? plain.merchants[0].mchid : undefined);
  return { defaultMchid, list: () => plain.merchants, get: (mchid) => byMchid.get(mchid) };
}

/** The request names a merchant (or sub-merchant) this deployment does not serve; `param` is the field at fault. */
export class MerchantChoiceError extends Error {
  override readonly name = 'MerchantChoiceError';
  constructor(
    readonly param: 'mchid' | 'sub_mchid',
    message: string,
  ) {
    super(message);
  }
}

export interface MerchantChoice {
  /** The merchant (the service provider in partner mode) the request is for; undefined only for an empty roster. */
  mchid?: string;
  subMchid?: string;
  /** For the workflow IDs (domain/ids.ts): names the merchant only when it is not the default. */
  scope: MerchantScope;
  /** The deployment's default merchant, for the starter's `defaultMchid`. */
  defaultMchid?: string;
}

/**
 * The merchant of `mchid` (absent: the default) and `subMchid`, or MerchantChoiceError naming the field: an unknown
 * mchid; no mchid where several merchants and no default; a sub_mchid of a direct merchant, or not among a partner's
 * listed sub-merchants.
 */
export function chooseMerchant(roster: MerchantRoster, named: { mchid?: string; subMchid?: string }): MerchantChoice {
  const { defaultMchid } = roster;
  const merchants = roster.list();
  let entry: MerchantListing | undefined;
  if (named.mchid !== undefined) {
    entry = roster.get(named.mchid);
    if (!entry) {
      throw new MerchantChoiceError('mchid', `no merchant ${named.mchid} in this deployment`);
    }
  } else if (defaultMchid !== undefined) {
    entry = roster.get(defaultMchid);
  } else if (merchants.length > 1) {
    throw new MerchantChoiceError(
      'mchid',
      'mchid is required: this deployment serves several merchants and none is the default',
    );
  }
  if (named.subMchid !== undefined && entry) checkSubMerchant(entry, named.subMchid);
  const mchid = entry?.mchid ?? named.mchid;
  return {
    ...(mchid !== undefined ? { mchid } : {}),
    ...(named.subMchid !== undefined ? { subMchid: named.subMchid } : {}),
    scope: merchantScope(mchid, named.subMchid, defaultMchid),
    ...(defaultMchid !== undefined ? { defaultMchid } : {}),
  };
}

function checkSubMerchant(entry: MerchantListing, subMchid: string): void {
  if (entry.mode === 'direct') {
    throw new MerchantChoiceError(
      'sub_mchid',
      `merchant ${entry.mchid} is a direct merchant: it has no sub-merchants, so sub_mchid must not be sent`,
    );
  }
  if (entry.subMchids !== undefined && !entry.subMchids.includes(subMchid)) {
    throw new MerchantChoiceError(
      'sub_mchid',
      `sub-merchant ${subMchid} is not one of service provider ${entry.mchid}'s sub-merchants in this deployment`,
    );
  }
}
