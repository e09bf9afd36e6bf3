/**
 * `patched()` ids of behaviour changes to released workflows. A running workflow whose history predates a change
 * keeps the old behaviour (the marker is absent on replay); new ones record the marker and take the new path.
 * Never reuse or rename an id; remove one only with `deprecatePatch` once no history without it can still replay.
 */

/**
 * v2 refund notifications are unsigned and their req_info is AES-256-ECB, whose blocks can be spliced without the key
 * (found by the reliability fuzz): a v2 notification is taken as "look now", and a query's answer moves the state.
 */
export const V2_NOTIFICATIONS_VERIFIED_BY_QUERY = 'v2-notifications-verified-by-query';

/**
 * The order ledger reads its order's facts from WeChat (not from the first request) and starts each refund's
 * workflow when the refund is requested, binding its out_refund_no before a receipt is given (issue: aliased refund
 * numbers, poisoned ledgers). Older ledgers keep the caller's facts and start refunds when dispatched.
 */
export const LEDGER_VERIFIES_ORDER_AND_BINDS_NUMBERS = 'ledger-verifies-order-and-binds-numbers';

/**
 * The refund workflow compares every create reply, query reply and notification with its request before it moves
 * state, and learns the channel of a refund settled without one (domain/evidence.ts).
 */
export const REFUND_EVIDENCE_CHECKED = 'refund-evidence-checked';

/**
 * The refund workflow announces the states an order service acts on (SUCCESS, CLOSED, REJECTED, ABNORMAL,
 * MANUAL_REVIEW, CANCELLED) as events, each delivered by its own workflow (refund-events.ts), when the worker has an
 * events target. Older histories sent none.
 */
export const REFUND_EVENTS = 'refund-events';

/**
 * Many merchants in one deployment (docs/merchants.md): the refund workflow sends its WeChat calls to its merchant's
 * task queues (`<queue>.wechat.<mchid>.create|query`, rate-limited by the server to the merchant's call budget), spreads
 * its polls by a small per-refund offset so refunds accepted together do not poll together, and numbers its events
 * after its own workflow ID (which names the merchant). Older histories call on the worker's own queue.
 */
export const MERCHANT_CALL_BUDGETS = 'merchant-call-budgets';

/**
 * The lean refund (issue 18), one marker instead of the three above for every new refund: the three behaviours are
 * taken as given. Besides, it reports to its ledger only what the ledger must hear by signal (the end of its create
 * when a refund of the order waits for the slot, and its end once its ledger has continued-as-new; otherwise the
 * ledger hears the end as the child's completion), and skips the first search-attribute upsert when its ledger
 * started it with those attributes.
 */
export const LEAN_REFUND = 'lean-refund';

/**
 * The lean ledger (issue 18), one marker instead of LEDGER_VERIFIES_ORDER_AND_BINDS_NUMBERS for every new ledger: reads
 * the order with a local activity (no workflow task of its own), starts refunds with their search attributes, asks a
 * refund for the end of its create only when another waits for the slot, hears refunds' ends as child completions
 * (telling those in flight to signal instead before it continues-as-new), and keeps one timer for the one-year window
 * per run instead of one per wake-up.
 */
export const LEAN_LEDGER = 'lean-ledger';
