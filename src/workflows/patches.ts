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
