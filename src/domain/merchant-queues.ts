/**
 * The task queues of a merchant's WeChat calls (docs/merchants.md "Call budgets"). WeChat limits calls per merchant
 * (docs §3.10: 150 creates/s, 300 queries/s), across every worker of the deployment; Temporal's server enforces a
 * task queue's `maxTaskQueueActivitiesPerSecond` across all its pollers, so each merchant gets two queues, one per
 * budget, and the refund workflow schedules its calls there. Pure: imported by workflow code and the worker.
 */
export type MerchantCallKind = 'create' | 'query';

export function merchantTaskQueue(baseQueue: string, mchid: string, kind: MerchantCallKind): string {
  return `${baseQueue}.wechat.${mchid}.${kind}`;
}
