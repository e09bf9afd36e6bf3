/**
 * Activities are factories over injected dependencies (design.md): production passes the v3/v2 gateway, tests pass
 * a scriptable fake or the simulator-backed gateway. No module mocks, no Temporal mocks.
 */
import { Context } from '@temporalio/activity';
import type {
  ApplyAbnormalRefundInput,
  CreateRefundInput,
  QueryRefundInput,
  RefundGateway,
  RefundRecord,
} from '../wechatpay/gateway';
import { toApplicationFailure } from './failures';

export { toApplicationFailure, ACTIVITY_FAILURE_TYPES } from './failures';
export type { ActivityFailureType, GatewayFailureDetails } from './failures';

export interface ActivityDeps {
  gateway: RefundGateway;
}

export interface SubmitRefundInput {
  request: CreateRefundInput;
  /**
   * An earlier create with this out_refund_no had an unknown outcome (§3.9 RETRY_SAME): look the refund up first and
   * adopt it if WeChat has it, instead of sending the create again.
   */
  queryFirst: boolean;
}

export interface SubmitRefundResult {
  record: RefundRecord;
  /** true when the refund was found by the preceding query, i.e. an earlier create had in fact been accepted. */
  adopted: boolean;
}

const QUERY_THROTTLED_RETRY_MS = 60_000;

export function createActivities({ gateway }: ActivityDeps) {
  return {
    async submitRefund({ request, queryFirst }: SubmitRefundInput): Promise<SubmitRefundResult> {
      const log = Context.current().log;
      // Temporal's own retry of this activity is also a resend after an unknown outcome.
      const resending = queryFirst || Context.current().info.attempt > 1;
      try {
        if (resending) {
          const found = await gateway.queryRefund({ outRefundNo: request.outRefundNo, subMchid: request.subMchid });
          // NOTSURE (legacy v2) means "resend the identical create"; anything else is the refund itself.
          if (found && found.status !== 'NOTSURE') {
            log.info('adopting refund found before resend', { outRefundNo: request.outRefundNo, status: found.status });
            return { record: found, adopted: true };
          }
        }
        const record = await gateway.createRefund(request);
        return { record, adopted: false };
      } catch (err) {
        throw toApplicationFailure(err);
      }
    },

    async queryRefund(input: QueryRefundInput): Promise<RefundRecord | null> {
      try {
        return await gateway.queryRefund(input);
      } catch (err) {
        throw toApplicationFailure(err, { throttledRetryDelayMs: QUERY_THROTTLED_RETRY_MS });
      }
    },

    async applyAbnormalRefund(input: ApplyAbnormalRefundInput): Promise<RefundRecord> {
      try {
        return await gateway.applyAbnormalRefund(input);
      } catch (err) {
        throw toApplicationFailure(err);
      }
    },
  };
}

export type RefundActivities = ReturnType<typeof createActivities>;
