/**
 * The refund paths `npm run demo` walks, each with how it is set up on the simulator, what the order service asks,
 * and the end it must reach. Every run uses fresh order numbers, so the demo can run again on the same SQLite history.
 */
import type { SimulatorAdminClient } from '../../simulator/admin-client';
import type { OrderLedgerInput, RefundRequest } from '../../domain/schemas';
import type { RefundStatusView } from '../../workflows/types';

/** The demo's merchants (temporal-dev.yml `merchants:`): the default one on API v3, one on API v2, a provider. */
export const DEMO_MCHID = '1900000109';
export const DEMO_V2_MCHID = '1900000110';
export const DEMO_PROVIDER_MCHID = '1900000100';
export const DEMO_SUB_MCHID = '1900000201';

export interface DemoContext {
  admin: SimulatorAdminClient;
  /** Unique per run: prefixes every out_trade_no and out_refund_no. */
  runId: string;
  /** Real time of the run's start, as the orders' payment time. */
  paidAt: string;
}

export interface PathExpectation {
  /** A refund that must end in this state… */
  state?: RefundStatusView['state'];
  /** …and a request the ledger must refuse at once, with this WeChat rule. */
  rejectedBy?: 'M4' | 'M6';
  /** Extra check on the refund's final view; returns a complaint or undefined. */
  check?: (view: RefundStatusView) => string | undefined;
}

export interface DemoPath {
  name: string;
  description: string;
  order: OrderLedgerInput;
  /** Refunds requested before the one the path watches (e.g. to use up the cap). */
  before?: RefundRequest[];
  refund: RefundRequest;
  expect: PathExpectation;
  /** Simulator setup (faults, forced outcomes), before the refund is requested. */
  arrange?: (ctx: DemoContext, outRefundNo: string) => Promise<void>;
  /** The operator's part, run when the refund reaches a state (the ABNORMAL path). */
  operator?: { when: RefundStatusView['state']; argv: (outRefundNo: string) => string[] };
}

const yuan = (n: number) => n * 100;

export function demoPaths(ctx: DemoContext): DemoPath[] {
  const order = (suffix: string, paidTotalFen: number, bankType: string, extra: Partial<OrderLedgerInput> = {}) => ({
    outTradeNo: `${ctx.runId}${suffix}`,
    paidTotalFen,
    paidAt: ctx.paidAt,
    payerBankType: bankType,
    ...extra,
  });
  const refundNo = (suffix: string) => `${ctx.runId}${suffix}`;
  const seed = (o: OrderLedgerInput, bankType: string) =>
    ctx.admin.seedOrder({
      mchid: o.mchid ?? DEMO_MCHID,
      ...(o.subMchid !== undefined ? { subMchid: o.subMchid } : {}),
      outTradeNo: o.outTradeNo,
      totalFen: o.paidTotalFen!,
      paidAt: o.paidAt,
      payer: { bankType },
    });

  const paths: DemoPath[] = [
    {
      name: 'balance-instant',
      description: 'paid from WeChat balance: settles in minutes, notification completes it',
      order: order('BAL', yuan(88), 'OTHERS'),
      refund: { outRefundNo: refundNo('BAL-1'), amountFen: yuan(30), reason: '商品退货' },
      expect: { state: 'SUCCESS', check: (v) => (v.notifications.length ? undefined : 'no notification recorded') },
    },
    {
      name: 'bank-card-days',
      description: 'paid by bank card: settles after 1–3 simulated business days',
      order: order('CARD', yuan(299), 'CMB_CREDIT'),
      refund: { outRefundNo: refundNo('CARD-1'), amountFen: yuan(299), reason: '整单退款' },
      expect: { state: 'SUCCESS' },
    },
    {
      name: 'notification-lost',
      description: 'WeChat never delivers the notification: the 60 s query poll finds SUCCESS',
      order: order('LOST', yuan(50), 'OTHERS'),
      refund: { outRefundNo: refundNo('LOST-1'), amountFen: yuan(12) },
      arrange: async ({ admin }, no) => {
        await admin.addNotificationFault({ kind: 'DROP', outRefundNo: no });
      },
      expect: {
        state: 'SUCCESS',
        check: (v) =>
          v.notifications.length === 0 && v.polls.some((p) => p.result === 'SUCCESS')
            ? undefined
            : 'expected SUCCESS found by a query, with no notification',
      },
    },
    {
      name: 'system-error-retried',
      description: 'create answers 500 SYSTEM_ERROR twice: resent with the SAME out_refund_no',
      // A short backoff so the demo does not wait the production minute between rounds.
      order: order('SYSERR', yuan(66), 'OTHERS', {
        submitRetry: { retrySame: { initialMs: 3_000, maxMs: 10_000, coefficient: 2 } },
      }),
      refund: { outRefundNo: refundNo('SYSERR-1'), amountFen: yuan(66) },
      arrange: async ({ admin }, no) => {
        await admin.addFault({ endpoint: 'v3.create', kind: 'SYSTEM_ERROR', outRefundNo: no, times: 2 });
      },
      expect: {
        state: 'SUCCESS',
        check: (v) =>
          v.submitAttempts.filter((a) => a.result === 'FAILED').length >= 2
            ? undefined
            : 'expected at least two failed create attempts before success',
      },
    },
    {
      name: 'closed',
      description: 'WeChat closes the refund (no money moves): the amount is released',
      order: order('CLOSE', yuan(40), 'OTHERS'),
      refund: { outRefundNo: refundNo('CLOSE-1'), amountFen: yuan(40) },
      arrange: async ({ admin }, no) => {
        await admin.forceOutcome(no, { status: 'CLOSED', afterSeconds: 120 });
      },
      expect: { state: 'CLOSED' },
    },
    {
      name: 'abnormal-operator',
      description: "the payer's card is cancelled: ABNORMAL, an operator supplies another card",
      order: order('ABN', yuan(120), 'ICBC_DEBIT'),
      refund: { outRefundNo: refundNo('ABN-1'), amountFen: yuan(120) },
      arrange: async ({ admin }, no) => {
        await admin.forceOutcome(no, { status: 'ABNORMAL', afterSeconds: 600 });
      },
      operator: {
        when: 'ABNORMAL',
        argv: (no) => [
          'resolve-abnormal',
          no,
          '--type',
          'USER_BANK_CARD',
          '--bank-type',
          'CCB_DEBIT',
          '--bank-account',
          '6217000010012345678',
          '--real-name',
          '张三',
          '--operator',
          'demo-operator',
        ],
      },
      expect: {
        state: 'SUCCESS',
        check: (v) =>
          !v.abnormalResolutions.some((r) => r.result === 'ACCEPTED')
            ? 'no accepted resolution'
            : v.channel !== 'OTHER_BANKCARD'
              ? `paid via ${v.channel}, expected OTHER_BANKCARD`
              : undefined,
      },
    },
    {
      name: 'v2-merchant',
      description: 'a second merchant, on API v2 (XML, HMAC-SHA256, client certificate), in the same worker',
      order: order('V2', yuan(45), 'OTHERS', { mchid: DEMO_V2_MCHID }),
      refund: { outRefundNo: refundNo('V2-1'), amountFen: yuan(45), reason: '退货' },
      expect: {
        state: 'SUCCESS',
        check: (v) =>
          v.mchid === DEMO_V2_MCHID ? undefined : `refund of merchant ${v.mchid}, expected ${DEMO_V2_MCHID}`,
      },
    },
    {
      name: 'partner-sub-merchant',
      description: 'a service provider refunds for its sub-merchant (sp_mchid + sub_mchid)',
      order: order('SUB', yuan(72), 'OTHERS', { mchid: DEMO_PROVIDER_MCHID, subMchid: DEMO_SUB_MCHID }),
      refund: { outRefundNo: refundNo('SUB-1'), amountFen: yuan(20) },
      expect: {
        state: 'SUCCESS',
        check: (v) =>
          v.subMchid === DEMO_SUB_MCHID ? undefined : `sub-merchant ${v.subMchid}, expected ${DEMO_SUB_MCHID}`,
      },
    },
    {
      name: 'cap-50-rejected',
      description: 'the order already has 50 refunds requested: the 51st is refused at once',
      order: order('CAP', yuan(100), 'OTHERS'),
      before: Array.from({ length: 50 }, (_, i) => ({ outRefundNo: refundNo(`CAP-${i + 1}`), amountFen: 1 })),
      refund: { outRefundNo: refundNo('CAP-51'), amountFen: 1 },
      expect: { rejectedBy: 'M6' },
    },
    {
      name: 'paid-total-rejected',
      description: '¥60 of ¥100 is being refunded: asking for ¥50 more is refused at once',
      order: order('TOTAL', yuan(100), 'OTHERS'),
      before: [{ outRefundNo: refundNo('TOTAL-1'), amountFen: yuan(60) }],
      refund: { outRefundNo: refundNo('TOTAL-2'), amountFen: yuan(50) },
      expect: { rejectedBy: 'M4' },
    },
  ];

  // Every order exists at the simulated WeChat as a paid order before anything is refunded.
  for (const p of paths) {
    const arrange = p.arrange;
    p.arrange = async (c, no) => {
      await seed(p.order, p.order.payerBankType ?? 'OTHERS');
      await arrange?.(c, no);
    };
  }
  return paths;
}
