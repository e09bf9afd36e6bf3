/**
 * Builds the MerchantRegistry (types.ts) from what was written: the registry file (registry-schema.ts), the stack
 * file's `merchants:` section, or an old single-merchant WECHATPAY_CONFIG file (a registry of one, the default).
 *
 * Credentials are read by MerchantEntry.gatewayConfig(), each time it is called (the gateway pool caches the
 * gateway, not the keys), so a key file fixed or rotated in place is picked up. The fingerprint covers everything
 * of an entry, the digest of every file it reads included, so a reload sees a rotated key file as a change; it holds
 * digests only, never a secret.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../config/config-error';
import { MIN_SECRET_LENGTH } from '../config/events-settings';
import { merchantFileSchema } from '../config/wechatpay-config';
import { describeZodError } from '../domain/zod-errors';
import { v2GatewayConfigSchema, type V2GatewayConfigInput } from '../wechatpay/v2/gateway';
import { v3GatewayConfigSchema, type V3GatewayConfigInput } from '../wechatpay/v3/gateway';
import {
  DEFAULT_BUDGET,
  DEFAULT_CERTIFICATE_REFRESH_HOURS,
  describeRegistryIssues,
  registryFileSchema,
  type FileMerchant,
  type StackMerchant,
  type StackMerchants,
} from './registry-schema';
import {
  fileDigest,
  resolvePemRef,
  resolvePemSecretRef,
  resolveRefPath,
  resolveSecretRef,
  type PemRef,
  type RefContext,
} from './secret-refs';
import {
  loadManifestFrom,
  manifestDigest,
  simulatorGatewayConfig,
  simulatorNotifyUrl,
  type SimulatorCredentialSource,
} from './simulator-credentials';
import {
  MerchantCredentialError,
  UnknownMerchantError,
  type CallBudget,
  type MerchantEntry,
  type MerchantEventsTarget,
  type MerchantRegistry,
  type RegistryChange,
  type ResolvedGatewayConfig,
  type SecretRef,
} from './types';

/** What this module's entries say beyond MerchantEntry (the gateway pool and the watcher read them when present). */
export interface RegistryMerchantEntry extends MerchantEntry {
  /** v3: hours between scheduled GET /v3/certificates (0 = never). */
  readonly certificateRefreshHours: number;
  /** Absolute paths of the files this entry reads: a watcher watches their folders too. */
  readonly files: readonly string[];
}

/** Options every builder takes. `source` names the registry in messages. */
export interface RegistryReadOptions {
  source: string;
  /** Folder relative `{ file }` references start from: the folder of the file that names them. */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
}

class Registry implements MerchantRegistry {
  private readonly byMchid: ReadonlyMap<string, MerchantEntry>;
  readonly defaultMchid?: string;

  constructor(
    readonly source: string,
    private readonly entries: readonly MerchantEntry[],
  ) {
    this.byMchid = new Map(entries.map((e) => [e.mchid, e]));
    this.defaultMchid = entries.find((e) => e.isDefault)?.mchid;
  }

  list(): readonly MerchantEntry[] {
    return this.entries;
  }

  get(mchid: string): MerchantEntry | undefined {
    return this.byMchid.get(mchid);
  }

  resolve(mchid?: string): MerchantEntry {
    if (mchid === undefined) {
      const entry = this.defaultMchid === undefined ? undefined : this.byMchid.get(this.defaultMchid);
      if (!entry) {
        throw new UnknownMerchantError(
          `no merchant named and ${this.source} has no default merchant (mark one with default: true, or name the mchid)`,
        );
      }
      return entry;
    }
    const entry = this.byMchid.get(mchid);
    if (!entry) throw new UnknownMerchantError(`merchant ${mchid} is not in the merchant registry (${this.source})`);
    return entry;
  }
}

/**
 * A registry of the given entries. The only merchant is the default when none is marked; entries are expected to be
 * validated already (one per mchid, at most one default).
 */
export function createRegistry(source: string, entries: readonly MerchantEntry[]): MerchantRegistry {
  const onlyOne = entries.length === 1 && !entries[0].isDefault;
  return new Registry(source, onlyOne ? [withDefault(entries[0])] : entries);
}

/** The only merchant becomes the default; being the default is part of what a reload compares. */
function withDefault(entry: MerchantEntry): MerchantEntry {
  return { ...entry, isDefault: true, fingerprint: digest({ default: true, of: entry.fingerprint }) };
}

/** What a reload changed: compared by mchid and fingerprint. */
export function diffRegistries(previous: MerchantRegistry, next: MerchantRegistry): RegistryChange {
  const before = new Map(previous.list().map((e) => [e.mchid, e.fingerprint]));
  const after = new Set(next.list().map((e) => e.mchid));
  return {
    added: next
      .list()
      .filter((e) => !before.has(e.mchid))
      .map((e) => e.mchid),
    removed: [...before.keys()].filter((m) => !after.has(m)),
    changed: next
      .list()
      .filter((e) => before.has(e.mchid) && before.get(e.mchid) !== e.fingerprint)
      .map((e) => e.mchid),
  };
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/**
 * The protocol layer validates the resolved configuration again (key lengths, PEM that does not load): its issues
 * become a MerchantCredentialError naming `merchants[<mchid>].<section>.<key>`. Messages never quote values.
 */
function checkResolved(
  schema: z.ZodType,
  config: V3GatewayConfigInput | V2GatewayConfigInput,
  mchid: string,
  section: 'v3' | 'v2',
): void {
  const parsed = schema.safeParse(config);
  if (parsed.success) return;
  // mchid, mode and notifyUrl are the entry's own keys; the rest belong to the protocol section.
  const ownKeys = new Set(['mchid', 'mode', 'notifyUrl']);
  const settingOf = (p: ReadonlyArray<PropertyKey>) => {
    const tail = p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
    return `merchants[${mchid}].${ownKeys.has(String(p[0])) ? '' : `${section}.`}${tail}`;
  };
  const parts = parsed.error.issues.map((i) => `${settingOf(i.path)}: ${i.message}`);
  throw new MerchantCredentialError(mchid, settingOf(parsed.error.issues[0].path), parts.join('; '));
}

/** The merchant's own events target with its secret read now (the signing secret of docs/events.md). */
function eventsResolver(m: { mchid: string; events?: { url: string; secret: SecretRef } }, ctx: RefContext) {
  return (): { url: string; secret: string } | undefined => {
    if (!m.events) return undefined;
    const owner = { mchid: m.mchid, setting: 'events.secret' };
    const secret = resolveSecretRef(m.events.secret, ctx, owner);
    if (secret.length < MIN_SECRET_LENGTH) {
      const setting = `merchants[${m.mchid}].events.secret`;
      throw new MerchantCredentialError(
        m.mchid,
        setting,
        `${setting}: must be at least ${MIN_SECRET_LENGTH} characters (HMAC's strength is the secret's)`,
      );
    }
    return { url: m.events.url, secret };
  };
}

function eventsTarget(m: { events?: { url: string; secret: SecretRef } }, ctx: RefContext) {
  if (!m.events) return undefined;
  const { secret } = m.events;
  const absolute: SecretRef = 'file' in secret ? { file: resolveRefPath(secret.file, ctx) } : secret;
  return { url: m.events.url, secret: absolute } satisfies MerchantEventsTarget;
}

/** Every `{ file }` an entry of the registry file names (credentials, certificates, the events secret). */
function referencedFiles(m: FileMerchant, ctx: RefContext): string[] {
  const refs: Array<SecretRef | PemRef | undefined> = [m.events?.secret];
  if (m.v3) {
    refs.push(m.v3.merchantPrivateKey, m.v3.apiV3Key, m.v3.caCertificate, ...m.v3.platformCertificates);
    refs.push(...m.v3.wechatpayPublicKeys);
  }
  if (m.v2) refs.push(m.v2.apiKey, m.v2.clientCertificate, m.v2.clientPrivateKey, m.v2.caCertificate);
  return refs.flatMap((r) => (r && 'file' in r ? [resolveRefPath(r.file, ctx)] : []));
}

function v3Config(m: FileMerchant, v3: NonNullable<FileMerchant['v3']>, ctx: RefContext): V3GatewayConfigInput {
  const owner = (setting: string) => ({ mchid: m.mchid, setting: `v3.${setting}` });
  return {
    ...(v3.baseUrl !== undefined ? { baseUrl: v3.baseUrl } : {}),
    mode: m.mode,
    mchid: m.mchid,
    ...(v3.defaultSubMchid !== undefined ? { defaultSubMchid: v3.defaultSubMchid } : {}),
    merchantSerialNo: v3.merchantSerialNo,
    merchantPrivateKey: resolvePemSecretRef(v3.merchantPrivateKey, ctx, owner('merchantPrivateKey'), 'PRIVATE KEY'),
    apiV3Key: resolveSecretRef(v3.apiV3Key, ctx, owner('apiV3Key')),
    platformCertificates: v3.platformCertificates.map((c, i) =>
      resolvePemRef(c, ctx, owner(`platformCertificates[${i}]`), 'CERTIFICATE'),
    ),
    wechatpayPublicKeys: v3.wechatpayPublicKeys.map((k, i) => ({
      id: k.id,
      publicKey: resolvePemRef(k, ctx, owner(`wechatpayPublicKeys[${i}]`), 'PUBLIC KEY'),
    })),
    ...(v3.autoRefreshCertificates !== undefined ? { autoRefreshCertificates: v3.autoRefreshCertificates } : {}),
    ...(m.notifyUrl !== undefined ? { notifyUrl: m.notifyUrl } : {}),
    ...(v3.userAgent !== undefined ? { userAgent: v3.userAgent } : {}),
    ...(v3.timeouts !== undefined ? { timeouts: v3.timeouts as V3GatewayConfigInput['timeouts'] } : {}),
    ...(v3.caCertificate !== undefined
      ? { caCertificate: resolvePemRef(v3.caCertificate, ctx, owner('caCertificate'), 'CERTIFICATE') }
      : {}),
  };
}

function v2Config(m: FileMerchant, v2: NonNullable<FileMerchant['v2']>, ctx: RefContext): V2GatewayConfigInput {
  const owner = (setting: string) => ({ mchid: m.mchid, setting: `v2.${setting}` });
  return {
    ...(v2.baseUrl !== undefined ? { baseUrl: v2.baseUrl } : {}),
    mode: m.mode,
    appid: v2.appid,
    mchid: m.mchid,
    ...(v2.subAppid !== undefined ? { subAppid: v2.subAppid } : {}),
    ...(v2.defaultSubMchid !== undefined ? { defaultSubMchid: v2.defaultSubMchid } : {}),
    apiKey: resolveSecretRef(v2.apiKey, ctx, owner('apiKey')),
    ...(v2.signType !== undefined ? { signType: v2.signType } : {}),
    clientCertificate: resolvePemRef(v2.clientCertificate, ctx, owner('clientCertificate'), 'CERTIFICATE'),
    clientPrivateKey: resolvePemSecretRef(v2.clientPrivateKey, ctx, owner('clientPrivateKey'), 'PRIVATE KEY'),
    ...(v2.caCertificate !== undefined
      ? { caCertificate: resolvePemRef(v2.caCertificate, ctx, owner('caCertificate'), 'CERTIFICATE') }
      : {}),
    ...(m.notifyUrl !== undefined ? { notifyUrl: m.notifyUrl } : {}),
    ...(v2.timeouts !== undefined ? { timeouts: v2.timeouts as V2GatewayConfigInput['timeouts'] } : {}),
  };
}

/** What every kind of entry shares. */
function baseEntry(m: StackMerchant | FileMerchant) {
  return {
    mchid: m.mchid,
    apiVersion: m.apiVersion,
    mode: m.mode,
    ...(m.subMchids !== undefined ? { subMchids: [...m.subMchids] } : {}),
    isDefault: m.default,
    budget: { ...m.budget } satisfies CallBudget,
  };
}

/** An entry whose credentials are named by `{ env }` / `{ file }` references. */
function referencedEntry(m: FileMerchant, ctx: RefContext): RegistryMerchantEntry {
  const files = referencedFiles(m, ctx);
  const events = eventsTarget(m, ctx);
  return {
    ...baseEntry(m),
    ...(events ? { events } : {}),
    certificateRefreshHours: m.v3?.certificateRefreshHours ?? DEFAULT_CERTIFICATE_REFRESH_HOURS,
    files,
    resolveEvents: eventsResolver(m, ctx),
    // The validated entry holds references only (names and paths); the files' contents enter as digests.
    fingerprint: digest({ kind: 'refs', entry: m, files: files.map((f) => [f, fileDigest(f, ctx)]) }),
    gatewayConfig(): ResolvedGatewayConfig {
      if (m.apiVersion === 'v3') {
        const v3 = v3Config(m, m.v3!, ctx);
        checkResolved(v3GatewayConfigSchema, v3, m.mchid, 'v3');
        return { apiVersion: 'v3', v3 };
      }
      const v2 = v2Config(m, m.v2!, ctx);
      checkResolved(v2GatewayConfigSchema, v2, m.mchid, 'v2');
      return { apiVersion: 'v2', v2 };
    },
  };
}

/** A local-stack entry with `credentials: simulator`: the keys of the manifest in the simulator's keysDir. */
function simulatorEntry(m: StackMerchant, ctx: RefContext, sim: SimulatorCredentialSource): RegistryMerchantEntry {
  const events = eventsTarget(m, ctx);
  const notifyUrl = m.notifyUrl ?? simulatorNotifyUrl(sim, m.apiVersion, m.mchid);
  const credentials = `merchants[${m.mchid}].credentials`;
  return {
    ...baseEntry(m),
    ...(events ? { events } : {}),
    certificateRefreshHours: DEFAULT_CERTIFICATE_REFRESH_HOURS,
    files: [path.join(sim.keysDir, 'manifest.json')],
    resolveEvents: eventsResolver(m, ctx),
    fingerprint: digest({ kind: 'simulator', entry: m, sim, manifest: manifestDigest(sim.keysDir) }),
    gatewayConfig(): ResolvedGatewayConfig {
      let manifest;
      try {
        manifest = loadManifestFrom(sim.keysDir);
      } catch (e) {
        throw new MerchantCredentialError(m.mchid, credentials, `${credentials}: ${(e as Error).message}`);
      }
      const known = manifest.merchants.find((x) => x.mchid === m.mchid);
      if (!known) {
        throw new MerchantCredentialError(
          m.mchid,
          credentials,
          `${credentials}: the simulator (${sim.keysDir}) has no merchant ${m.mchid}`,
        );
      }
      if (known.mode !== m.mode) {
        const setting = `merchants[${m.mchid}].mode`;
        throw new MerchantCredentialError(
          m.mchid,
          setting,
          `${setting}: is ${m.mode} but the simulator's merchant ${m.mchid} is ${known.mode}`,
        );
      }
      try {
        return simulatorGatewayConfig(manifest, { mchid: m.mchid, apiVersion: m.apiVersion, notifyUrl });
      } catch (e) {
        throw new MerchantCredentialError(m.mchid, credentials, `${credentials}: ${(e as Error).message}`);
      }
    },
  };
}

/** The registry file (WXREFUND_MERCHANTS), parsed from YAML or JSON. Throws ConfigError naming merchant and key. */
export function registryFromFile(raw: unknown, opts: RegistryReadOptions): MerchantRegistry {
  const parsed = registryFileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(`${opts.source}: ${describeRegistryIssues(parsed.error, raw)}`);
  const ctx: RefContext = { baseDir: opts.baseDir, env: opts.env ?? process.env };
  return createRegistry(
    opts.source,
    parsed.data.merchants.map((m) => referencedEntry(m, ctx)),
  );
}

/** The stack file's `merchants:` section, already validated by the stack file's schema. */
export function registryFromStackSection(
  section: StackMerchants,
  opts: RegistryReadOptions & { simulator: SimulatorCredentialSource },
): MerchantRegistry {
  const ctx: RefContext = { baseDir: opts.baseDir, env: opts.env ?? process.env };
  return createRegistry(
    opts.source,
    section.map((m) =>
      m.credentials === 'simulator' ? simulatorEntry(m, ctx, opts.simulator) : referencedEntry(m as FileMerchant, ctx),
    ),
  );
}

/** Paths an old merchant file names (its PEM fields may be a path or the PEM itself). */
function oldFormatFiles(raw: unknown): string[] {
  const r = raw as { v3?: Record<string, unknown>; v2?: Record<string, unknown> } | null;
  const values: unknown[] = [];
  if (r?.v3) {
    values.push(r.v3.merchantPrivateKey, r.v3.caCertificate);
    if (Array.isArray(r.v3.platformCertificates)) values.push(...r.v3.platformCertificates);
    if (Array.isArray(r.v3.wechatpayPublicKeys)) {
      values.push(...r.v3.wechatpayPublicKeys.map((k) => (k as { publicKey?: unknown } | null)?.publicKey));
    }
  }
  if (r?.v2) values.push(r.v2.clientCertificate, r.v2.clientPrivateKey, r.v2.caCertificate);
  return values.flatMap((v) => (typeof v === 'string' && !v.includes('-----BEGIN') ? [path.resolve(v)] : []));
}

/**
 * The old single-merchant file (WECHATPAY_CONFIG): a registry of one, the default. Its own rules stay (inline keys
 * allowed, PEM paths relative to the working directory, files read now as before), and its budget is the default.
 */
export function registryFromMerchantFile(raw: unknown, opts: { source: string }): MerchantRegistry {
  const parsed = merchantFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${opts.source}: ${describeZodError(parsed.error)}`);
  const merchant = parsed.data;
  const config: ResolvedGatewayConfig =
    merchant.apiVersion === 'v3' ? { apiVersion: 'v3', v3: merchant.v3 } : { apiVersion: 'v2', v2: merchant.v2 };
  const cfg = merchant.apiVersion === 'v3' ? merchant.v3 : merchant.v2;
  const entry: RegistryMerchantEntry = {
    mchid: cfg.mchid,
    apiVersion: merchant.apiVersion,
    mode: cfg.mode,
    isDefault: true,
    budget: { ...DEFAULT_BUDGET },
    certificateRefreshHours: DEFAULT_CERTIFICATE_REFRESH_HOURS,
    files: oldFormatFiles(raw),
    // The parsed file holds the keys themselves (the old format reads them at once): only their digest is kept.
    fingerprint: digest({ kind: 'merchant-file', merchant }),
    gatewayConfig: () => config,
    // The old format has no events target of its own: the deployment's events settings apply.
    resolveEvents: () => undefined,
  };
  return createRegistry(opts.source, [entry]);
}

/** Which of the two production formats a parsed file is: `merchants:` (registry) or `apiVersion:` (old, one merchant). */
export type RegistryFileFormat = 'registry' | 'merchant-file';

export function sniffRegistryFormat(raw: unknown): RegistryFileFormat {
  return raw && typeof raw === 'object' && 'apiVersion' in raw && !('merchants' in raw) ? 'merchant-file' : 'registry';
}

/** Reads a YAML (or JSON) file; a ConfigError names the file when it cannot be read or parsed. */
export function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML or JSON: ${(e as Error).message}`);
  }
}

/**
 * A registry file or an old merchant file (by `format`, else by its content). Relative `{ file }` references in a
 * registry file are relative to its folder.
 */
export function loadRegistryFile(
  file: string,
  opts: { env?: NodeJS.ProcessEnv; format?: RegistryFileFormat } = {},
): MerchantRegistry {
  const raw = readYamlFile(file);
  const format = opts.format ?? sniffRegistryFormat(raw);
  if (format === 'merchant-file') return registryFromMerchantFile(raw, { source: file });
  return registryFromFile(raw, { source: file, baseDir: path.dirname(path.resolve(file)), env: opts.env });
}

/** The files an entry of this module reads (empty for entries built elsewhere). */
export function filesOf(entry: MerchantEntry): readonly string[] {
  return (entry as Partial<RegistryMerchantEntry>).files ?? [];
}

/** Hours between scheduled certificate downloads of an entry (the default for entries built elsewhere). */
export function certificateRefreshHoursOf(entry: MerchantEntry): number {
  return (entry as Partial<RegistryMerchantEntry>).certificateRefreshHours ?? DEFAULT_CERTIFICATE_REFRESH_HOURS;
}
