/**
 * A refund's line to WeChat Pay: the three activities that call it, one call at a time (WorkflowMutex: a poll never
 * overtakes a create, an abnormal-refund application never races a query), on the task queues the call budgets need.
 *
 * With the merchant known and its worker serving the merchant's queues (refundPolicy, asked once under
 * MERCHANT_CALL_BUDGETS), creates go to `<queue>.wechat.<mchid>.create` and
 * queries and abnormal-refund applications to `….query` (domain/merchant-queues.ts), whose activity rate the server
 * holds to the merchant's budget across every worker. Otherwise (older histories; refunds started without a merchant)
 * they run on the workflow's own queue, as before.
 */
import * as wf from '@temporalio/workflow';
import type { RefundActivities } from '../activities';
import { NON_RETRYABLE_FAILURE_CLASSES } from '../domain/failure-classes';
import { merchantTaskQueue } from '../domain/merchant-queues';
import { WorkflowMutex } from './support';

type WechatActivities = Pick<RefundActivities, 'submitRefund' | 'queryRefund' | 'applyAbnormalRefund'>;

function proxies(queues: { create?: string; query?: string }): WechatActivities {
  /**
   * Creates are retried by the refund workflow, never by Temporal (so the activity never sees a second attempt): each
   * round is visible, backoffs differ by class, and after an unknown outcome every resend is preceded by a query.
   */
  const { submitRefund } = wf.proxyActivities<RefundActivities>({
    ...(queues.create ? { taskQueue: queues.create } : {}),
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 1 },
  });
  /** Queries have no side effects: let Temporal retry blips quickly; a failed poll just waits for the next one. */
  const { queryRefund } = wf.proxyActivities<RefundActivities>({
    ...(queues.query ? { taskQueue: queues.query } : {}),
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 3,
      nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_CLASSES],
    },
  });
  /** Not blindly retried: a resend after an unknown outcome could be refused although the first one worked. */
  const { applyAbnormalRefund } = wf.proxyActivities<RefundActivities>({
    ...(queues.query ? { taskQueue: queues.query } : {}),
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 1 },
  });
  return { submitRefund, queryRefund, applyAbnormalRefund };
}

export class WechatLine extends WorkflowMutex {
  readonly calls: WechatActivities;

  /** `mchid`: the refund's merchant; `routed`: its worker serves the merchant's queues (refundPolicy). */
  constructor(mchid: string | undefined, routed: boolean) {
    super();
    const base = wf.workflowInfo().taskQueue;
    this.calls =
      routed && mchid !== undefined
        ? proxies({ create: merchantTaskQueue(base, mchid, 'create'), query: merchantTaskQueue(base, mchid, 'query') })
        : proxies({});
  }
}
