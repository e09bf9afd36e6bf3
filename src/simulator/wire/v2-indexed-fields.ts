/**
 * v2 list fields (docs/wechatpay-protocol.md §5.3, §5.6, §5.7): a list is flattened into suffixed names, counted from
 * 0 as real replies do: `refund_fee_0`, and for a list inside a list item `coupon_refund_fee_0_1`.
 * The simulator writes them itself, independently of the client's parser (src/wechatpay/v2/indexed-fields.ts).
 */

type Value = string | number | undefined;

export function indexedFields(
  items: ReadonlyArray<{ fields: Record<string, Value>; children?: ReadonlyArray<Record<string, Value>> }>,
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
