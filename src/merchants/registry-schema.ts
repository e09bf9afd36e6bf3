/**
 * The merchant registry as written (docs/merchants.md): the registry file production names in WXREFUND_MERCHANTS, and
 * the `merchants:` section of the stack file (temporal-dev.yml), whose entries may take their keys from the local
 * simulator (`credentials: simulator`). Only the shape is checked here; credentials are read when a merchant is
 * first used (registry.ts), so one merchant's missing key file does not stop the others.
 *
 * Messages name the merchant by its mchid, not its position: `merchants[1900000109].v3.apiV3Key: …`
 * (`merchants[2]` when the entry has no usable mchid).
 */
import { z } from 'zod';
import { describeZodError } from '../domain/zod-errors';
import { baseUrlSchema } from '../wechatpay/config-rules';
import { PUBLIC_KEY_ID_PREFIX } from '../wechatpay/v3/keyring';
import { pemRefSchema, secretRefSchema } from './secret-refs';

/** WeChat's documented per-merchant limits (docs/wechatpay-protocol.md §3.10). */
export const WECHAT_CREATES_PER_SECOND_LIMIT = 150;
export const WECHAT_QUERIES_PER_SECOND_LIMIT = 300;
/** Our defaults stay well below them: other systems of the merchant call WeChat too. */
export const DEFAULT_BUDGET = { createsPerSecond: 100, queriesPerSecond: 200 } as const;
export const DEFAULT_CERTIFICATE_REFRESH_HOURS = 12;

const MCHID_RE = /^[0-9]{1,32}$/;
const digits = z.string({ error: 'must be a string of 1-32 digits' }).regex(MCHID_RE, 'must be 1-32 digits');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const budgetSchema = z
  .strictObject({
    createsPerSecond: z
      .number()
      .positive('must be greater than 0')
      .max(
        WECHAT_CREATES_PER_SECOND_LIMIT,
        `must be at most ${WECHAT_CREATES_PER_SECOND_LIMIT} (WeChat's per-merchant create limit, §3.10)`,
      )
      .default(DEFAULT_BUDGET.createsPerSecond),
    queriesPerSecond: z
      .number()
      .positive('must be greater than 0')
      .max(
        WECHAT_QUERIES_PER_SECOND_LIMIT,
        `must be at most ${WECHAT_QUERIES_PER_SECOND_LIMIT} (WeChat's per-merchant query limit, §3.10)`,
      )
      .default(DEFAULT_BUDGET.queriesPerSecond),
  })
  .prefault({});

const timeoutsSchema = z
  .strictObject({
    connectMs: z.int().positive().optional(),
    headersMs: z.int().positive().optional(),
    bodyMs: z.int().positive().optional(),
  })
  .optional();

const publicKeyRefSchema = z
  .strictObject({
    id: z.string().startsWith(PUBLIC_KEY_ID_PREFIX, { error: `must start with ${PUBLIC_KEY_ID_PREFIX}` }),
    file: z.string().min(1, 'must be a path').optional(),
    pem: z.string().includes('-----BEGIN', { message: 'must be PEM text' }).optional(),
  })
  .refine((k) => (k.file === undefined) !== (k.pem === undefined), { error: 'needs exactly one of file or pem' })
  .transform((k) => ({ id: k.id, ...(k.file !== undefined ? { file: k.file } : { pem: k.pem as string }) }));

const v3SectionSchema = z.strictObject({
  merchantSerialNo: z
    .string()
    .regex(/^[0-9A-Fa-f]{1,40}$/, { error: 'must be the hex serial of the merchant API certificate' }),
  merchantPrivateKey: secretRefSchema,
  apiV3Key: secretRefSchema,
  /** Platform certificates known up front; more are downloaded (GET /v3/certificates). */
  platformCertificates: z.array(pemRefSchema).default([]),
  /** WeChat Pay public keys (`PUB_KEY_ID_…`); both kinds at once while a merchant migrates. */
  wechatpayPublicKeys: z.array(publicKeyRefSchema).default([]),
  /** Scheduled GET /v3/certificates (0 = never); unknown serials still trigger a (rate-limited) download. */
  certificateRefreshHours: z.number().min(0, 'must be 0 (never) or more').default(DEFAULT_CERTIFICATE_REFRESH_HOURS),
  baseUrl: baseUrlSchema.optional(),
  /** Partner mode: the sub-merchant of calls that name none. */
  defaultSubMchid: digits.optional(),
  autoRefreshCertificates: z.boolean().optional(),
  userAgent: z.string().min(1).optional(),
  timeouts: timeoutsSchema,
  caCertificate: pemRefSchema.optional(),
});

const v2SectionSchema = z.strictObject({
  appid: z.string().min(1).max(32),
  subAppid: z.string().min(1).max(32).optional(),
  defaultSubMchid: digits.optional(),
  apiKey: secretRefSchema,
  signType: z.enum(['MD5', 'HMAC-SHA256'], { error: 'must be MD5 or HMAC-SHA256' }).optional(),
  /** apiclient_cert.pem (mutual TLS). */
  clientCertificate: pemRefSchema,
  /** apiclient_key.pem. */
  clientPrivateKey: secretRefSchema,
  caCertificate: pemRefSchema.optional(),
  baseUrl: baseUrlSchema.optional(),
  timeouts: timeoutsSchema,
});

const commonShape = {
  mchid: digits,
  default: z.boolean().default(false),
  apiVersion: z.enum(['v3', 'v2'], { error: 'must be v3 or v2' }),
  mode: z.enum(['direct', 'partner'], { error: 'must be direct or partner' }).default('direct'),
  /** Partner mode: the sub-merchants it refunds for (absent: any sub_mchid WeChat accepts). */
  subMchids: z.array(digits).min(1, 'must list at least one sub_mchid (or leave it out: any)').optional(),
  notifyUrl: httpUrl.optional(),
  budget: budgetSchema,
  events: z.strictObject({ url: httpUrl, secret: secretRefSchema }).optional(),
  v3: v3SectionSchema.optional(),
  v2: v2SectionSchema.optional(),
};

type CommonEntry = {
  apiVersion: 'v3' | 'v2';
  mode: 'direct' | 'partner';
  subMchids?: string[];
  v3?: { defaultSubMchid?: string };
  v2?: { defaultSubMchid?: string; subAppid?: string };
  credentials?: 'simulator';
};

function checkEntry(entry: CommonEntry, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (entry.mode !== 'partner' && entry.subMchids !== undefined) issue(['subMchids'], 'only allowed in partner mode');
  const other = entry.apiVersion === 'v3' ? 'v2' : 'v3';
  if (entry.credentials === 'simulator') {
    for (const section of ['v3', 'v2'] as const) {
      if (entry[section] !== undefined) {
        issue([section], "not allowed with credentials: simulator (the keys come from the simulator's manifest)");
      }
    }
    return;
  }
  if (entry[entry.apiVersion] === undefined) {
    issue([entry.apiVersion], `is required with apiVersion: ${entry.apiVersion}`);
  }
  if (entry[other] !== undefined) issue([other], `not allowed with apiVersion: ${entry.apiVersion}`);
  const section = entry[entry.apiVersion];
  if (section?.defaultSubMchid !== undefined) {
    if (entry.mode !== 'partner') issue([entry.apiVersion, 'defaultSubMchid'], 'only allowed in partner mode');
    else if (entry.subMchids && !entry.subMchids.includes(section.defaultSubMchid)) {
      issue([entry.apiVersion, 'defaultSubMchid'], 'must be one of subMchids');
    }
  }
  if (entry.v2?.subAppid !== undefined && entry.mode !== 'partner') {
    issue(['v2', 'subAppid'], 'only allowed in partner mode');
  }
}

/** A merchant of the registry file: credentials by reference, always. */
export const fileMerchantSchema = z
  .strictObject({
    ...commonShape,
    credentials: z
      .never({ error: 'credentials: simulator is for the local stack only; here give the v3 / v2 keys by reference' })
      .optional(),
  })
  .superRefine(checkEntry);
export type FileMerchant = z.output<typeof fileMerchantSchema>;

/** A merchant of the stack file: as in the registry file, or `credentials: simulator` (the local demo keys). */
export const stackMerchantSchema = z
  .strictObject({
    ...commonShape,
    credentials: z
      .literal('simulator', { error: 'must be simulator (or leave it out and give v3/v2 keys)' })
      .optional(),
  })
  .superRefine(checkEntry);
export type StackMerchant = z.output<typeof stackMerchantSchema>;

/** Rules across entries: one entry per mchid, at most one default. */
function merchantList<S extends z.ZodType<{ mchid: string; default: boolean }>>(entry: S) {
  return z
    .array(entry)
    .min(1, 'must list at least one merchant')
    .superRefine((list, ctx) => {
      const seen = new Map<string, number>();
      let defaultAt: number | undefined;
      list.forEach((m, i) => {
        if (seen.has(m.mchid)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'mchid'],
            message: `listed twice (also entry ${seen.get(m.mchid)})`,
          });
        } else seen.set(m.mchid, i);
        if (m.default) {
          if (defaultAt !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'default'],
              message: `only one merchant may be the default (merchants[${list[defaultAt].mchid}] is already)`,
            });
          } else defaultAt = i;
        }
      });
    });
}

export const stackMerchantsSchema = merchantList(stackMerchantSchema);
export type StackMerchants = z.output<typeof stackMerchantsSchema>;

/** The registry file (WXREFUND_MERCHANTS). */
export const registryFileSchema = z.strictObject({ merchants: merchantList(fileMerchantSchema) });
export type RegistryFile = z.output<typeof registryFileSchema>;

/** `merchants[<mchid>]` for entry `index` of the raw list, `merchants[<index>]` when it has no usable mchid. */
function merchantLabel(raw: unknown, index: number): string {
  const list = (raw as { merchants?: unknown } | null | undefined)?.merchants;
  const mchid = Array.isArray(list) ? (list[index] as { mchid?: unknown } | null | undefined)?.mchid : undefined;
  return `merchants[${typeof mchid === 'string' && MCHID_RE.test(mchid) ? mchid : index}]`;
}

function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * One line naming every bad key, merchants by mchid (`merchants[1900000109].v3.apiV3Key: …`). `raw` is what was
 * validated (the mchids are looked up there). Issues outside `merchants` read as describeZodError writes them.
 */
export function describeRegistryIssues(error: z.ZodError, raw: unknown): string {
  return error.issues
    .map((issue) => {
      const [head, index, ...rest] = issue.path;
      if (head !== 'merchants' || typeof index !== 'number') {
        return describeZodError(new z.ZodError([issue]));
      }
      const tail = pathText(rest);
      const key = `${merchantLabel(raw, index)}${tail && !tail.startsWith('[') ? '.' : ''}${tail}`;
      return `${key}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * A stack-file entry with its `{ file }` references made absolute by `resolve` (the stack file's rule: relative to
 * its folder), so that a loaded stack config holds absolute paths only.
 */
export function withAbsoluteRefs(m: StackMerchant, resolve: (p: string) => string): StackMerchant {
  const ref = <R extends object>(r: R): R =>
    'file' in r && typeof r.file === 'string' ? { ...r, file: resolve(r.file) } : r;
  const opt = <R extends object>(r: R | undefined): R | undefined => (r === undefined ? undefined : ref(r));
  return {
    ...m,
    ...(m.events ? { events: { ...m.events, secret: ref(m.events.secret) } } : {}),
    ...(m.v3
      ? {
          v3: {
            ...m.v3,
            merchantPrivateKey: ref(m.v3.merchantPrivateKey),
            apiV3Key: ref(m.v3.apiV3Key),
            platformCertificates: m.v3.platformCertificates.map(ref),
            wechatpayPublicKeys: m.v3.wechatpayPublicKeys.map(ref),
            caCertificate: opt(m.v3.caCertificate),
          },
        }
      : {}),
    ...(m.v2
      ? {
          v2: {
            ...m.v2,
            apiKey: ref(m.v2.apiKey),
            clientCertificate: ref(m.v2.clientCertificate),
            clientPrivateKey: ref(m.v2.clientPrivateKey),
            caCertificate: opt(m.v2.caCertificate),
          },
        }
      : {}),
  };
}
