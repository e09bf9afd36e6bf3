/**
 * The fault catalogue (reference §8.6) as zod schemas, shared by the config file and the admin API.
 * Every fault is selectable per endpoint, per merchant, per out_refund_no, per out_trade_no, and/or with a seeded probability, and may be
 * limited to a number of occurrences, so every test is reproducible.
 */
import { z } from 'zod';

export const ENDPOINTS = [
  'v3.create',
  'v3.query',
  'v3.abnormal',
  'v3.certificates',
  /** Order query (§11.1): direct and partner, by out_trade_no or transaction_id. */
  'v3.orderquery',
  'v2.refund',
  'v2.refundv2',
  'v2.refundquery',
  /** POST /pay/orderquery (§11.2). */
  'v2.orderquery',
  /** Refund bills (§12): GET /v3/bill/tradebill, GET /v3/billdownload/file, POST /pay/downloadbill. */
  'v3.tradebill',
  'v3.billdownload',
  'v2.downloadbill',
] as const;
export type EndpointId = (typeof ENDPOINTS)[number];

/**
 * Endpoint faults, by when they strike:
 * - before anything is stored: SYSTEM_ERROR (F2), FREQUENCY_LIMITED (F4), SERVICE_UNAVAILABLE (F5: 502/503 HTML,
 *   unsigned), RESET (connection destroyed), HANG (no reply ever; the client must time out);
 * - after the refund is stored: SYSTEM_ERROR_AFTER_COMMIT (F3), FREQUENCY_LIMITED_AFTER_COMMIT (F4 "in acceptance"),
 *   LOST_REPLY (F1: connection destroyed after commit), SLOW (reply held `delayMs`, after commit);
 * - on a 2xx reply (F7): BAD_SIGNATURE, SIGNTEST_SIGNATURE, UNKNOWN_SERIAL, STALE_TIMESTAMP, MISSING_SIGNATURE
 *   (v2 only knows BAD_SIGNATURE: a wrong `sign`);
 * - QUERY_LAG (F6): a refund is invisible to queries for `lagSeconds` simulated seconds after acceptance.
 */
export const ENDPOINT_FAULT_KINDS = [
  'SYSTEM_ERROR',
  'FREQUENCY_LIMITED',
  'SERVICE_UNAVAILABLE',
  'RESET',
  'HANG',
  'SYSTEM_ERROR_AFTER_COMMIT',
  'FREQUENCY_LIMITED_AFTER_COMMIT',
  'LOST_REPLY',
  'SLOW',
  'BAD_SIGNATURE',
  'SIGNTEST_SIGNATURE',
  'UNKNOWN_SERIAL',
  'STALE_TIMESTAMP',
  'MISSING_SIGNATURE',
  'QUERY_LAG',
] as const;
export type EndpointFaultKind = (typeof ENDPOINT_FAULT_KINDS)[number];

const V3_ONLY_KINDS: readonly EndpointFaultKind[] = [
  'SIGNTEST_SIGNATURE',
  'UNKNOWN_SERIAL',
  'STALE_TIMESTAMP',
  'MISSING_SIGNATURE',
];

const selection = {
  /** Set by the simulator when absent; used to delete one fault. */
  id: z.string().min(1).max(64).optional(),
  /** Seeded: the same request sequence hits the same faults. */
  probability: z.number().min(0).max(1).default(1),
  /** Strike at most this many times, then the fault is spent. Absent: forever. */
  times: z.int().positive().optional(),
  /** Only requests of this caller (v3 Authorization mchid / v2 mch_id). */
  mchid: z
    .string()
    .regex(/^\d{1,32}$/)
    .optional(),
  /** Only requests about this refund number. */
  outRefundNo: z.string().min(1).max(64).optional(),
  /**
   * Only requests about this order (refund creates and order queries, whether they name it by out_trade_no or by
   * transaction_id; notifications of its refunds).
   */
  outTradeNo: z.string().min(1).max(32).optional(),
};

export const endpointFaultSchema = z
  .strictObject({
    ...selection,
    /** One endpoint, or `*` for all. */
    endpoint: z.union([z.enum(ENDPOINTS), z.literal('*')]),
    kind: z.enum(ENDPOINT_FAULT_KINDS),
    /** SLOW: how long the reply is held (real ms). */
    delayMs: z.int().nonnegative().default(3000),
    /** SERVICE_UNAVAILABLE: 502 or 503. */
    httpStatus: z.union([z.literal(502), z.literal(503)]).default(503),
    /** QUERY_LAG: simulated seconds a new refund stays invisible to queries. */
    lagSeconds: z.number().positive().default(60),
  })
  .refine((f) => !(f.endpoint.startsWith('v2.') && V3_ONLY_KINDS.includes(f.kind)), {
    error: 'this fault only exists for v3 endpoints (v2 replies are signed with `sign` only: use BAD_SIGNATURE)',
    path: ['kind'],
  });
export type EndpointFaultInput = z.input<typeof endpointFaultSchema>;
export type EndpointFault = z.output<typeof endpointFaultSchema> & { id: string };

/**
 * Notification faults (F7–F13): DROP (never sent, F12), DUPLICATE (sent `copies` times at once, F8), DELAY (first
 * delivery `delaySeconds` late), REORDER (held back until the refund's next notification was sent, F8), BAD_SIGNATURE /
 * SIGNTEST / STALE_TIMESTAMP / UNKNOWN_SERIAL (the first `attempts` deliveries are unverifiable, F7/F9), UNDECRYPTABLE
 * (signed but the GCM tag is broken, F11), V2_XML (a v3 refund notified in v2 XML, F13).
 */
export const NOTIFICATION_FAULT_KINDS = [
  'DROP',
  'DUPLICATE',
  'DELAY',
  'REORDER',
  'BAD_SIGNATURE',
  'SIGNTEST',
  'STALE_TIMESTAMP',
  'UNKNOWN_SERIAL',
  'UNDECRYPTABLE',
  'V2_XML',
] as const;
export type NotificationFaultKind = (typeof NOTIFICATION_FAULT_KINDS)[number];

export const notificationFaultSchema = z.strictObject({
  ...selection,
  kind: z.enum(NOTIFICATION_FAULT_KINDS),
  /** Only notifications of this outcome. */
  status: z.enum(['SUCCESS', 'CLOSED', 'ABNORMAL']).optional(),
  /** Signature/decryption faults: how many delivery attempts of an affected notification carry the fault. */
  attempts: z.int().positive().default(1),
  /** DELAY: simulated seconds; REORDER: longest hold (simulated seconds) when no later notification comes. */
  delaySeconds: z.number().positive().default(3600),
  /** DUPLICATE: number of copies sent at once. */
  copies: z.int().min(2).max(10).default(2),
});
export type NotificationFaultInput = z.input<typeof notificationFaultSchema>;
export type NotificationFault = z.output<typeof notificationFaultSchema> & { id: string };

/** Force the outcome of one refund (existing, or created later under this number). */
export const forcedOutcomeSchema = z.strictObject({
  outRefundNo: z.string().min(1).max(64),
  /** The refund's owner (merchant, or sub-merchant in partner mode); needed only if the number is used twice. */
  owner: z
    .string()
    .regex(/^\d{1,32}$/)
    .optional(),
  status: z.enum(['SUCCESS', 'CLOSED', 'ABNORMAL']),
  /** Simulated seconds after acceptance (or after now, for an existing refund). */
  afterSeconds: z.number().nonnegative().default(0),
  channel: z.enum(['ORIGINAL', 'BALANCE', 'OTHER_BALANCE', 'OTHER_BANKCARD']).optional(),
});
export type ForcedOutcomeInput = z.input<typeof forcedOutcomeSchema>;
export type ForcedOutcome = z.output<typeof forcedOutcomeSchema>;
