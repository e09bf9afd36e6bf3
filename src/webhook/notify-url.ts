/**
 * The webhook's notification routes, and the notify_url a refund carries so WeChat calls them. Kept apart from the
 * server so the worker can build notify URLs without loading the HTTP stack.
 */
export type NotifyApiVersion = 'v3' | 'v2';

export const V3_NOTIFY_PATH = '/wechatpay/v3/refund-notify';
export const V2_NOTIFY_PATH = '/wechatpay/v2/refund-notify';

/** The notify_url to give WeChat for a merchant (what the refund's `notify_url` should be). */
export function notifyUrl(baseUrl: string, apiVersion: NotifyApiVersion, mchid?: string): string {
  const path = apiVersion === 'v3' ? V3_NOTIFY_PATH : V2_NOTIFY_PATH;
  return `${baseUrl.replace(/\/+$/, '')}${path}${mchid ? `/${encodeURIComponent(mchid)}` : ''}`;
}
