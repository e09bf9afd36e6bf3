/** What the gateway tests (v2 and v3, refunds and order queries) share: the refund they create, and how a call failed. */

/** The refund the gateway tests create: 1.00 of a 3.00 order, notified at `notifyUrl`. */
export function refundToCreate(notifyUrl: string) {
  return {
    outRefundNo: 'R20240101000001',
    outTradeNo: 'T20240101000001',
    refundFen: 100,
    totalFen: 300,
    reason: '退货',
    notifyUrl,
  };
}

/** The error `p` rejects with; fails the test if it resolves. */
export async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}
