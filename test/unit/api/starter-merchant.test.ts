/**
 * What the refund library (src/starter.ts) sends for an order that names its merchant, seen through a client that
 * records the calls instead of reaching Temporal: the ledger's ID and start input name the merchant only when it is not
 * the deployment's default, so naming the default merchant and naming none reach the same ledger, started the same way.
 */
import type { Client } from '@temporalio/client';
import { cancelRefund, ledgerStartOf, requestRefund, type OrderParams } from '../../../src/starter';

const DEFAULT = '1900000109';
const OTHER = '1900000110';
const PROVIDER = '1900000100';
const SUB = '1900000201';
const TRADE = 'T2026120300001';

interface Sent {
  workflowId: string;
  args: unknown[];
}

/** A client whose update-with-start records the ledger's start options and answers with a receipt. */
function recordingClient(): { client: Client; sent: Sent[]; handles: string[] } {
  const sent: Sent[] = [];
  const handles: string[] = [];
  const fake = {
    workflow: {
      executeUpdateWithStart: async (
        _update: unknown,
        { startWorkflowOperation }: { startWorkflowOperation: { options: Sent } },
      ) => {
        sent.push({ workflowId: startWorkflowOperation.options.workflowId, args: startWorkflowOperation.options.args });
        return {
          outTradeNo: TRADE,
          outRefundNo: 'R1',
          amountFen: 100,
          refundWorkflowId: 'from-the-ledger',
          requestedAt: new Date().toISOString(),
        };
      },
      getHandle: (id: string) => {
        handles.push(id);
        return { executeUpdate: async () => ({ outRefundNo: 'R1', status: 'CANCELLED' }) };
      },
    },
  };
  return { client: fake as unknown as Client, sent, handles };
}

async function ledgerSentFor(order: OrderParams, defaultMchid?: string): Promise<Sent> {
  const { client, sent } = recordingClient();
  await requestRefund(
    { client, taskQueue: 'q', defaultMchid },
    { order, refund: { outRefundNo: 'R1', amountFen: 100 } },
  );
  expect(sent).toHaveLength(1);
  return sent[0];
}

describe('requestRefund names the merchant in the ledger only when it is not the default', () => {
  test('naming the default merchant sends exactly what naming none sends', async () => {
    const named = await ledgerSentFor({ outTradeNo: TRADE, mchid: DEFAULT }, DEFAULT);
    const unnamed = await ledgerSentFor({ outTradeNo: TRADE }, DEFAULT);
    expect(named).toEqual(unnamed);
    expect(named.workflowId).toBe(`refund-order-${TRADE}`);
    expect(named.args).toEqual([{ outTradeNo: TRADE }]);
  });

  test('another merchant gets a ledger of its own, and its input carries the mchid', async () => {
    const sent = await ledgerSentFor({ outTradeNo: TRADE, mchid: OTHER }, DEFAULT);
    expect(sent.workflowId).toBe(`refund-order-${OTHER}.${TRADE}`);
    expect(sent.args).toEqual([{ outTradeNo: TRADE, mchid: OTHER }]);
  });

  test("a service provider's sub-merchant: both in the ID and the input", async () => {
    const sent = await ledgerSentFor({ outTradeNo: TRADE, mchid: PROVIDER, subMchid: SUB }, DEFAULT);
    expect(sent.workflowId).toBe(`refund-order-${PROVIDER}.${SUB}.${TRADE}`);
    expect(sent.args).toEqual([{ outTradeNo: TRADE, mchid: PROVIDER, subMchid: SUB }]);
  });

  test("the claims about the order stay out of the ledger's input", async () => {
    const sent = await ledgerSentFor({ outTradeNo: TRADE, mchid: OTHER, paidTotalFen: 1_000 }, DEFAULT);
    expect(sent.args).toEqual([{ outTradeNo: TRADE, mchid: OTHER }]);
  });
});

describe('ledgerStartOf', () => {
  test('without a configured default merchant, a named merchant is named in its IDs', () => {
    expect(ledgerStartOf({ outTradeNo: TRADE, mchid: DEFAULT }, undefined)).toEqual({
      workflowId: `refund-order-${DEFAULT}.${TRADE}`,
      input: { outTradeNo: TRADE, mchid: DEFAULT },
    });
    expect(ledgerStartOf({ outTradeNo: TRADE }, undefined).workflowId).toBe(`refund-order-${TRADE}`);
  });

  test('a sub-merchant of the default merchant keeps its older ID', () => {
    expect(ledgerStartOf({ outTradeNo: TRADE, mchid: DEFAULT, subMchid: SUB }, DEFAULT)).toEqual({
      workflowId: `refund-order-${SUB}-${TRADE}`,
      input: { outTradeNo: TRADE, subMchid: SUB },
    });
  });
});

describe('cancelRefund reaches the same ledger', () => {
  test.each([
    [{ mchid: DEFAULT }, `refund-order-${TRADE}`],
    [{}, `refund-order-${TRADE}`],
    [{ mchid: OTHER }, `refund-order-${OTHER}.${TRADE}`],
    [{ mchid: PROVIDER, subMchid: SUB }, `refund-order-${PROVIDER}.${SUB}.${TRADE}`],
  ])('%j → %s', async (merchant, ledgerId) => {
    const { client, handles } = recordingClient();
    await cancelRefund({ client, defaultMchid: DEFAULT }, { outTradeNo: TRADE, outRefundNo: 'R1', ...merchant });
    expect(handles).toEqual([ledgerId]);
  });
});
