/**
 * Workflow IDs are business keys (design.md): Temporal's ID uniqueness plus WeChat's out_refund_no give idempotency,
 * so there is no side table. Every part of the product builds IDs through these functions.
 *
 * Many merchants share one deployment (docs/merchants.md), and two merchants may use the same out_refund_no, so an ID
 * names its merchant, with one exception that keeps every existing ID and history working: the deployment's
 * *default* merchant (the registry's `default: true`, the only merchant of a single-merchant deployment) keeps the IDs
 * of the versions that served one merchant:
 *
 *   default merchant     refund-<out_refund_no>                    refund-order-<out_trade_no>
 *     its sub-merchant   refund-<sub_mchid>-<out_refund_no>        refund-order-<sub_mchid>-<out_trade_no>
 *   any other merchant   refund-<mchid>.<out_refund_no>            refund-order-<mchid>.<out_trade_no>
 *     its sub-merchant   refund-<mchid>.<sub_mchid>.<out_refund_no> refund-order-<mchid>.<sub_mchid>.<out_trade_no>
 *
 * `.` occurs in neither number's alphabet (docs §1.1), so the merchant forms can never equal a default-merchant ID or
 * each other. `MerchantScope.mchid` is therefore set only for merchants other than the default: `merchantScope()`
 * below is the one place that decides it.
 */
// The schemas through lazy-schemas.ts: these IDs are built inside workflows too, where importing schemas.ts would
// build every schema again for each workflow instance.
import { schemas } from './lazy-schemas';

const LEDGER_PREFIX = 'refund-order-';
const REFUND_PREFIX = 'refund-';
const MCHID = /^[0-9]{1,32}$/;

/** Whose refund: `mchid` only when it is not the deployment's default merchant (see the module header). */
export interface MerchantScope {
  mchid?: string;
  subMchid?: string;
}

/**
 * The scope of a refund of `mchid` (absent: the default merchant) and `subMchid`, given the deployment's default
 * merchant. Naming the default merchant explicitly gives the same IDs as naming none.
 */
export function merchantScope(mchid: string | undefined, subMchid: string | undefined, defaultMchid?: string) {
  const scope: MerchantScope = {};
  if (mchid !== undefined && mchid !== defaultMchid) scope.mchid = mchid;
  if (subMchid !== undefined) scope.subMchid = subMchid;
  return scope;
}

/** `scope` as the older signature gave it: a bare string is a sub_mchid of the default merchant. */
function normalise(scope: string | MerchantScope | undefined): MerchantScope {
  return typeof scope === 'string' ? { subMchid: scope } : (scope ?? {});
}

function merchantPart(scope: MerchantScope): string {
  const { mchid, subMchid } = scope;
  const sub = subMchid === undefined ? undefined : schemas().subMchidSchema.parse(subMchid);
  if (mchid === undefined) return sub === undefined ? '' : `${sub}-`;
  if (!MCHID.test(mchid)) throw new TypeError(`mchid must be 1–32 digits, got ${JSON.stringify(mchid)}`);
  return sub === undefined ? `${mchid}.` : `${mchid}.${sub}.`;
}

/**
 * The refund workflow's ID (module header). An out_refund_no starting with `order-` is refused: `refund-order-…` is
 * the ledger's namespace and the two IDs could collide (`refund-order-123456` would be both).
 */
export function refundWorkflowId(outRefundNo: string, scope?: string | MerchantScope): string {
  const no = schemas().outRefundNoSchema.parse(outRefundNo);
  return `${REFUND_PREFIX}${merchantPart(normalise(scope))}${no}`;
}

/** The order ledger's ID (module header). */
export function orderWorkflowId(outTradeNo: string, scope?: string | MerchantScope): string {
  const no = schemas().outTradeNoSchema.parse(outTradeNo);
  return `${LEDGER_PREFIX}${merchantPart(normalise(scope))}${no}`;
}
