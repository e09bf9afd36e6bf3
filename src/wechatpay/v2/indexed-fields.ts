/**
 * v2 `$n` / `$n_$m` fields (reference §5.6, §5.7): a refund query reply flattens a list of refunds, each with a list
 * of coupons, into suffixed names (`refund_fee_0`, `coupon_refund_fee_0_1`). Names are matched exactly against the
 * known field names, anchored at both ends, so `refund_fee_0` is never read as part of `coupon_refund_fee_0` or
 * `settlement_refund_fee_0`. Numbering is 0-based in real replies (§10); groups are ordered by index and counted, never
 * assumed to start at a particular number.
 */

export class MalformedIndexedFields extends Error {
  override readonly name = 'MalformedIndexedFields';
}

/** Per-refund fields of /pay/refundquery (suffix `_$n`). */
export const REFUND_QUERY_ITEM_FIELDS = [
  'out_refund_no',
  'refund_id',
  'refund_channel',
  'refund_fee',
  'settlement_refund_fee',
  'fee_type',
  'coupon_refund_fee',
  'coupon_refund_count',
  'refund_status',
  'refund_account',
  'refund_recv_accout',
  'refund_success_time',
] as const;

/** Per-coupon fields of /pay/refundquery (suffix `_$n_$m`). */
export const REFUND_QUERY_COUPON_FIELDS = [
  'coupon_type',
  'coupon_refund_id',
  'coupon_refund_fee',
  'coupon_refund_batch_id',
] as const;

/** Per-coupon fields of the /secapi/pay/refund reply (suffix `_$n`). */
export const REFUND_REPLY_COUPON_FIELDS = ['coupon_type', 'coupon_refund_fee', 'coupon_refund_id'] as const;

export interface IndexedGroup {
  index: number;
  fields: Record<string, string>;
  /** Second-level groups (`_$n_$m`), ordered by `$m`. */
  children: Array<{ index: number; fields: Record<string, string> }>;
}

export interface IndexedParseResult {
  groups: IndexedGroup[];
  /** Every field that is not one of the indexed names (order-level fields such as refund_count). */
  rest: Record<string, string>;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function matcher(names: readonly string[], depth: 1 | 2): RegExp {
  const alt = names.map(escapeRe).join('|');
  return depth === 1 ? new RegExp(`^(${alt})_(\\d+)$`) : new RegExp(`^(${alt})_(\\d+)_(\\d+)$`);
}

function toIndex(s: string, key: string): number {
  // Leading zeros ("_01") would make two spellings of one index; WeChat never sends them.
  if (s.length > 1 && s.startsWith('0')) throw new MalformedIndexedFields(`bad index in ${key}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new MalformedIndexedFields(`bad index in ${key}`);
  return n;
}

/** Split flat fields into indexed groups (`F_$n`) with optional sub-groups (`G_$n_$m`). */
export function parseIndexedFields(
  flat: Record<string, string>,
  spec: { itemFields: readonly string[]; childFields?: readonly string[] },
): IndexedParseResult {
  const one = matcher(spec.itemFields, 1);
  const two = spec.childFields && spec.childFields.length > 0 ? matcher(spec.childFields, 2) : undefined;
  const groups = new Map<number, { fields: Record<string, string>; children: Map<number, Record<string, string>> }>();
  const group = (n: number) => {
    let g = groups.get(n);
    if (!g) groups.set(n, (g = { fields: {}, children: new Map() }));
    return g;
  };
  const rest: Record<string, string> = {};
  for (const [key, value] of Object.entries(flat)) {
    // Two-level names are tried first: `coupon_refund_fee_0_1` must not be read as item field `coupon_refund_fee_0`
    // (the one-level pattern could not match it anyway, being anchored, but the order keeps the intent obvious).
    const m2 = two?.exec(key);
    if (m2) {
      const g = group(toIndex(m2[2], key));
      const m = toIndex(m2[3], key);
      let child = g.children.get(m);
      if (!child) g.children.set(m, (child = {}));
      child[m2[1]] = value;
      continue;
    }
    const m1 = one.exec(key);
    if (m1) {
      group(toIndex(m1[2], key)).fields[m1[1]] = value;
      continue;
    }
    rest[key] = value;
  }
  const sorted = [...groups.entries()].sort((a, b) => a[0] - b[0]);
  return {
    groups: sorted.map(([index, g]) => ({
      index,
      fields: g.fields,
      children: [...g.children.entries()].sort((a, b) => a[0] - b[0]).map(([ci, fields]) => ({ index: ci, fields })),
    })),
    rest,
  };
}

export type IndexedValue = string | number | undefined;

/** Inverse of parseIndexedFields (0-based, as WeChat sends them): used by the simulator to build replies. */
export function buildIndexedFields(
  items: ReadonlyArray<{
    fields: Record<string, IndexedValue>;
    children?: ReadonlyArray<Record<string, IndexedValue>>;
  }>,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  items.forEach((item, n) => {
    for (const [name, v] of Object.entries(item.fields)) if (v !== undefined) out[`${name}_${n}`] = v;
    (item.children ?? []).forEach((child, m) => {
      for (const [name, v] of Object.entries(child)) if (v !== undefined) out[`${name}_${n}_${m}`] = v;
    });
  });
  return out;
}

export interface RefundQueryItem {
  index: number;
  fields: Partial<Record<(typeof REFUND_QUERY_ITEM_FIELDS)[number], string>>;
  coupons: Array<Partial<Record<(typeof REFUND_QUERY_COUPON_FIELDS)[number], string>>>;
}

function countOf(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new MalformedIndexedFields(`${name} must be a non-negative integer`);
  return Number(raw);
}

/**
 * All refunds of a /pay/refundquery reply as a list. Checks that the number of refund groups equals `refund_count`
 * and each refund's coupon count equals its `coupon_refund_count_$n` when those are present.
 */
export function parseRefundQueryItems(flat: Record<string, string>): {
  items: RefundQueryItem[];
  rest: Record<string, string>;
} {
  const { groups, rest } = parseIndexedFields(flat, {
    itemFields: REFUND_QUERY_ITEM_FIELDS,
    childFields: REFUND_QUERY_COUPON_FIELDS,
  });
  const expected = countOf(flat.refund_count, 'refund_count');
  if (expected !== undefined && expected !== groups.length) {
    throw new MalformedIndexedFields(`refund_count is ${expected} but ${groups.length} refund entries were found`);
  }
  const items = groups.map((g) => {
    const couponCount = countOf(g.fields.coupon_refund_count, `coupon_refund_count_${g.index}`);
    if (couponCount !== undefined && couponCount !== g.children.length) {
      throw new MalformedIndexedFields(
        `coupon_refund_count_${g.index} is ${couponCount} but ${g.children.length} coupon entries were found`,
      );
    }
    return { index: g.index, fields: g.fields, coupons: g.children.map((c) => c.fields) } as RefundQueryItem;
  });
  return { items, rest };
}

/** The coupons of a /secapi/pay/refund reply (`coupon_type_$n`, …), checked against coupon_refund_count. */
export function parseRefundReplyCoupons(
  flat: Record<string, string>,
): Array<Partial<Record<(typeof REFUND_REPLY_COUPON_FIELDS)[number], string>>> {
  const { groups } = parseIndexedFields(flat, { itemFields: REFUND_REPLY_COUPON_FIELDS });
  const expected = countOf(flat.coupon_refund_count, 'coupon_refund_count');
  if (expected !== undefined && expected !== groups.length) {
    throw new MalformedIndexedFields(
      `coupon_refund_count is ${expected} but ${groups.length} coupon entries were found`,
    );
  }
  return groups.map((g) => g.fields);
}
