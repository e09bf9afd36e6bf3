/**
 * The simulator's configuration (the `simulator:` section of temporal-dev.yml, a YAML/JSON file, or an object passed to
 * startSimulator). Every field has a default, so `{}` is a complete configuration: a demo merchant and all of
 * WeChat's keys are then generated (and, with `keysDir`, written where the worker and webhook find them).
 *
 * Times that model WeChat's business behaviour (delays, the one-year window, the 60 s spacing, the notification retry
 * schedule) are in SIMULATED seconds and follow the virtual clock. Times that model the network (HTTP timeouts,
 * slow or hung replies, rate-limit windows) are in REAL milliseconds.
 */
import { z } from 'zod';
import { pemSource } from '../wechatpay/config-rules';
import { endpointFaultSchema, forcedOutcomeSchema, notificationFaultSchema } from './fault-schemas';
import { seedOrderSchema } from './order-schemas';

const digits = (what: string) => z.string().regex(/^\d{1,32}$/, { error: `${what} must be 1-32 digits` });
const key32 = (what: string) =>
  z
    .string()
    .refine((k) => Buffer.byteLength(k, 'utf8') === 32, { error: `${what} must be exactly 32 ASCII characters` });
const fen = z.int({ error: 'must be an integer number of fen' }).nonnegative({ error: 'must be ≥ 0 fen' });
const port = z.int().min(0).max(65535);
/** §3.4: what signs replies and notifications (see wechatIdentitySchema.signWith). */
export const signingModeSchema = z.enum(['certificate', 'publicKey', 'both'], {
  error: 'must be certificate, publicKey or both',
});
const seconds = z.number().nonnegative({ error: 'must be a non-negative number of seconds' });

/** A merchant API certificate (apiclient_cert.pem), or only its public key plus serial. */
export const merchantCertificateSchema = z
  .strictObject({
    serialNo: z
      .string()
      .regex(/^[0-9A-Fa-f]{1,40}$/, { error: 'must be the hex serial of the merchant API certificate' })
      .transform((s) => s.toUpperCase().replace(/^0+(?=.)/, ''))
      .optional(),
    certificate: pemSource('CERTIFICATE').optional(),
    publicKey: pemSource('PUBLIC KEY').optional(),
  })
  .refine((c) => (c.certificate === undefined) !== (c.publicKey === undefined), {
    error: 'give exactly one of certificate or publicKey',
  })
  .refine((c) => c.certificate !== undefined || c.serialNo !== undefined, {
    error: 'serialNo is required when only a publicKey is given',
    path: ['serialNo'],
  });

export const subMerchantSchema = z.strictObject({
  subMchid: digits('subMchid'),
  subAppid: z.string().min(1).max(32).optional(),
  /** Refunds of a sub-merchant's orders are paid from the sub-merchant's account. */
  balanceFen: fen.optional(),
});

export const merchantConfigSchema = z
  .strictObject({
    mchid: digits('mchid'),
    appid: z.string().min(1).max(32).default('wx8888888888888888'),
    /** direct: a merchant refunding its own orders; partner: a service provider acting for sub-merchants. */
    mode: z.enum(['direct', 'partner']).default('direct'),
    /** Generated (seeded) when absent. */
    apiV3Key: key32('apiV3Key').optional(),
    /** Generated (seeded) when absent. */
    apiV2Key: key32('apiV2Key').optional(),
    /** Merchant API certificates; one is generated (with its private key) when absent. */
    certificates: z.array(merchantCertificateSchema).optional(),
    /** Only for generated-style setups: lets the simulator write the key into the manifest for the worker. */
    privateKey: pemSource('PRIVATE KEY').optional(),
    subMerchants: z.array(subMerchantSchema).default([]),
    /** Available balance refunds are paid from (fen). */
    balanceFen: fen.default(1_000_000_00),
    /** Balance short at create time: refuse with NOT_ENOUGH, or accept and retry daily for 7 days, then CLOSED. */
    insufficientFunds: z.enum(['reject', 'accept']).default('reject'),
    /** Refund permission of the merchant (403 NO_AUTH when false). */
    refundPermission: z.boolean().default(true),
    /** Processing fee rate in basis points (0.6 % = 60): refund_fee = round(refund × rate) (§2.2, §8.4). */
    feeRateBps: z.int().min(0).max(10_000).default(60),
    /** Refund notification URL configured in the merchant portal (used when a request has no notify_url). */
    portalNotifyUrl: z.url().optional(),
    /**
     * Signing mode of this merchant's replies and notifications (WeChat moves merchants to public keys one by one);
     * absent: `wechat.signWith`. `publicKey` here also makes GET /v3/certificates answer 403 NO_AUTH.
     */
    signWith: signingModeSchema.optional(),
  })
  .refine((m) => m.mode === 'partner' || m.subMerchants.length === 0, {
    error: 'only a partner (service provider) merchant has sub-merchants',
    path: ['subMerchants'],
  });

export const platformCertificateConfigSchema = z.strictObject({
  certificate: pemSource('CERTIFICATE'),
  privateKey: pemSource('PRIVATE KEY'),
});

export const publicKeyConfigSchema = z.strictObject({
  id: z.string().regex(/^PUB_KEY_ID_\d{1,40}$/, { error: 'must be PUB_KEY_ID_ followed by digits' }),
  privateKey: pemSource('PRIVATE KEY'),
});

export const wechatIdentitySchema = z.strictObject({
  /**
   * certificate: replies and notifications signed by a platform certificate (GET /v3/certificates serves them).
   * publicKey: signed by a WeChat Pay public key (PUB_KEY_ID_…); /v3/certificates answers 404 RESOURCE_NOT_EXISTS.
   * both: migration; signatures alternate between the two kinds (§3.4, F10).
   * A merchant's own `signWith` overrides this for that merchant.
   */
  signWith: signingModeSchema.default('both'),
  /** Generated (issued by the simulator's CA) when absent. */
  platformCertificates: z.array(platformCertificateConfigSchema).optional(),
  /** Generated when absent. */
  publicKeys: z.array(publicKeyConfigSchema).optional(),
});

export const lifecycleConfigSchema = z.strictObject({
  /** Payer paid from the WeChat balance: SUCCESS after this many simulated seconds (§8.4 default 30 s). */
  balanceDelaySeconds: seconds.default(30),
  /** Card failed, refund fell back to the balance (OTHER_BALANCE). */
  otherBalanceDelaySeconds: seconds.default(120),
  /** Valid bank card: SUCCESS after a seeded number of business days in [min, max] (weekends skipped). */
  bankCardBusinessDays: z
    .strictObject({ min: z.int().min(0).default(1), max: z.int().min(0).default(3) })
    .refine((r) => r.min <= r.max, { error: 'min must be ≤ max' })
    .prefault({}),
  /** "Sometimes longer": with this probability a bank-card refund takes this many extra business days. */
  slowBankCardProbability: z.number().min(0).max(1).default(0.1),
  slowBankCardExtraBusinessDays: z.int().min(1).default(3),
  /** Probability that a balance refund is already SUCCESS in the create reply (§3.6: "often instant"). */
  instantSuccessProbability: z.number().min(0).max(1).default(0),
  /** Chaos: probability that an accepted refund closes / goes abnormal instead of succeeding (seeded). */
  closedProbability: z.number().min(0).max(1).default(0),
  abnormalProbability: z.number().min(0).max(1).default(0),
  /** Accepted with funds short: WeChat retries internally every day, then closes after this many days. */
  fundsRetryIntervalSeconds: seconds.default(86_400),
  fundsWaitDays: z.int().min(1).default(7),
});

export const rulesConfigSchema = z.strictObject({
  maxRefundsPerOrder: z.int().min(1).default(50),
  refundWindowDays: z.int().min(1).default(365),
  /** M9: second create on one order within this many simulated seconds → FREQUENCY_LIMITED. 0 disables. */
  sameOrderSpacingSeconds: seconds.default(60),
  /** §8.7: HTTP status of the undocumented v3 codes TRADE_OVERDUE / REFUND_FEE_MISMATCH (400 → INVALID_REQUEST). */
  undocumentedCodes: z.enum(['403', '400-INVALID_REQUEST']).default('403'),
  /** §8.3 step 2: reject v3 requests without User-Agent / Accept. */
  requireUserAgent: z.boolean().default(true),
  requireAccept: z.boolean().default(true),
  /** §3.3: 4xx/5xx replies are unsigned by default (observed). */
  signErrorReplies: z.boolean().default(false),
  /**
   * Real milliseconds WeChat spends on an accepted create before replying. Another create of the same order inside
   * that window is refused as concurrent (M9: v3 500 SYSTEM_ERROR, v2 BIZERR_NEED_RETRY).
   */
  createProcessingMs: z.int().nonnegative().default(0),
  /** §11.1: v3 code of an unknown order on the order query (404); some WeChat pages say RESOURCE_NOT_EXISTS. */
  orderNotFoundCode: z.enum(['ORDER_NOT_EXIST', 'RESOURCE_NOT_EXISTS']).default('ORDER_NOT_EXIST'),
  /** Request timestamps further than this from the real clock → 401 SIGN_ERROR. */
  authTimestampToleranceSeconds: z.int().positive().default(300),
  /**
   * §12.1: a day without refunds has no refund bill (NO_STATEMENT_EXIST / v2 `No Bill Exist`, as WeChat answers);
   * EMPTY_FILE serves a bill with the header and a zero summary instead.
   */
  emptyRefundBill: z.enum(['NO_STATEMENT_EXIST', 'EMPTY_FILE']).default('NO_STATEMENT_EXIST'),
});

export const rateLimitConfigSchema = z.strictObject({
  /** Real-time window the per-merchant budgets below are counted in. */
  windowMs: z.int().positive().default(1000),
  create: z.int().positive().default(150),
  query: z.int().positive().default(300),
  abnormal: z.int().positive().default(150),
  /** Failing calls per merchant per window (F22). */
  errors: z.int().positive().default(6),
  /** Creates for orders older than one month, per real minute. */
  oldOrderCreatesPerMinute: z.int().positive().default(5000),
  /** v2 INVALID_REQ_TOO_MUCH lasts this long (real ms) once the error budget is exhausted. */
  v2ErrorBlockMs: z.int().nonnegative().default(60_000),
});

export const WECHAT_RETRY_SCHEDULE_SECONDS = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600,
];

export const notificationConfigSchema = z.strictObject({
  /** Waits (simulated seconds) before each retry; default WeChat's 15 steps (§4.6), after one immediate delivery. */
  retryScheduleSeconds: z.array(seconds).default(WECHAT_RETRY_SCHEDULE_SECONDS),
  /** The receiver must answer within this many real milliseconds (§4.1: 5 s). */
  timeoutMs: z.int().positive().default(5000),
  /** v3: 200/204 count as success (§8.5); `any-2xx` relaxes that. v2 also needs return_code=SUCCESS in the body. */
  successStatuses: z.enum(['200-or-204', 'any-2xx']).default('200-or-204'),
});

export const simulatorConfigSchema = z.strictObject({
  /** Read by the stack launcher (temporal-dev.yml); the simulator itself ignores it. */
  enabled: z.boolean().default(true),
  /** Seed of every business random choice (ids, delays, outcomes, faults). Crypto nonces are not seeded. */
  seed: z.int().default(1),
  /** Simulated seconds per real second (1440 = one simulated day per real minute; 0 = frozen, admin advances it). */
  timeScale: z.number().nonnegative().default(1440),
  /** Simulated time at start (RFC 3339); default: the real time at start. */
  startTime: z.iso.datetime({ offset: true }).optional(),
  /** Interface of both servers. */
  host: z.string().min(1).default('127.0.0.1'),
  /** API v3 + admin API port; 0 picks a free port (the manifest records the real one). */
  port: port.default(0),
  /** Serve API v3 over https (certificate from the simulator's CA). */
  tls: z.boolean().default(false),
  v2: z
    .strictObject({
      host: z.string().min(1).optional(),
      port: port.default(0),
      /** https requesting the merchant's client certificate (required on /secapi/*). */
      tls: z.boolean().default(true),
    })
    .prefault({}),
  /** Where generated keys and manifest.json are written (and re-read on the next start); none = memory only. */
  keysDir: z.string().min(1).optional(),
  /**
   * Keep orders, refunds (status history, scheduled processing), notifications (retry state), balances and the
   * virtual clock in this SQLite file across restarts (created when missing; relative paths are resolved like
   * keysDir). Absent: state lives in memory only.
   */
  stateFile: z.string().min(1, { error: 'stateFile must be a file path' }).optional(),
  /** Re-use keys found in keysDir (a restarted simulator keeps the identity the worker was configured with). */
  reuseKeys: z.boolean().default(true),
  wechat: wechatIdentitySchema.prefault({}),
  /**
   * Absent: three demo merchants are generated: direct 1900000109, service provider 1900000100 with sub-merchant
   * 1900000201, and direct 1900000110 (the demo's API v2 merchant; the simulator serves both APIs to every merchant).
   */
  merchants: z.array(merchantConfigSchema).optional(),
  lifecycle: lifecycleConfigSchema.prefault({}),
  rules: rulesConfigSchema.prefault({}),
  rateLimits: rateLimitConfigSchema.prefault({}),
  notifications: notificationConfigSchema.prefault({}),
  faults: z.array(endpointFaultSchema).default([]),
  notificationFaults: z.array(notificationFaultSchema).default([]),
  forcedOutcomes: z.array(forcedOutcomeSchema).default([]),
  /** Paid orders present at start (same shape as POST /__admin/orders). */
  orders: z.array(seedOrderSchema).default([]),
  /** Log every request to stderr. */
  logRequests: z.boolean().default(false),
});

export type SimulatorConfigInput = z.input<typeof simulatorConfigSchema>;
export type SimulatorConfig = z.output<typeof simulatorConfigSchema>;
export type MerchantConfig = z.output<typeof merchantConfigSchema>;
export type LifecycleConfig = z.output<typeof lifecycleConfigSchema>;
export type RulesConfig = z.output<typeof rulesConfigSchema>;
export type RateLimitConfig = z.output<typeof rateLimitConfigSchema>;
export type NotificationConfig = z.output<typeof notificationConfigSchema>;
