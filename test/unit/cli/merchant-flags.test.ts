/**
 * --mchid on `npm run refund` and `npm run ops`: parsed, checked against the deployment's merchants (a merchant it does
 * not serve is a usage error naming the flag), and turned into the same workflow IDs as the API and the library give.
 * The operator CLI is run against a client that records which workflow it would ask.
 */
import type { Client } from '@temporalio/client';
import { merchantRoster } from '../../../src/api/merchant-choice';
import { run as ops } from '../../../src/cli/operator';
import { parseRefundFlags, refundRequestOf } from '../../../src/cli/refund';
import { UsageError } from '../../../src/cli/support/args';
import { ledgerStartOf } from '../../../src/starter';

const DEFAULT = '1900000109';
const V2 = '1900000110';
const PROVIDER = '1900000100';
const SUB = '1900000201';

const merchants = merchantRoster({
  defaultMchid: DEFAULT,
  merchants: [
    { mchid: DEFAULT, mode: 'direct' },
    { mchid: V2, mode: 'direct' },
    { mchid: PROVIDER, mode: 'partner', subMchids: [SUB] },
  ],
});

const base = ['--out-trade-no', 'T2026120300001', '--out-refund-no', 'R2026120300001', '--amount-fen', '100'];

/** The ledger `npm run refund` would reach with these flags. */
function ledgerOf(extra: string[]): string {
  const { defaultMchid, params } = refundRequestOf(parseRefundFlags([...base, ...extra]), merchants);
  return ledgerStartOf(params.order, defaultMchid).workflowId;
}

describe('npm run refund --mchid', () => {
  test('parses --mchid next to --sub-mchid', () => {
    expect(parseRefundFlags([...base, '--mchid', PROVIDER, '--sub-mchid', SUB])).toMatchObject({
      mchid: PROVIDER,
      subMchid: SUB,
    });
  });

  test('names the merchant in the IDs only when it is not the default', () => {
    expect(ledgerOf(['--mchid', DEFAULT])).toBe('refund-order-T2026120300001');
    expect(ledgerOf([])).toBe('refund-order-T2026120300001');
    expect(ledgerOf(['--mchid', V2])).toBe(`refund-order-${V2}.T2026120300001`);
    expect(ledgerOf(['--mchid', PROVIDER, '--sub-mchid', SUB])).toBe(`refund-order-${PROVIDER}.${SUB}.T2026120300001`);
  });

  test('a merchant the deployment does not serve is a usage error naming the flag', () => {
    expect(() => ledgerOf(['--mchid', '123'])).toThrow(new UsageError('--mchid: no merchant 123 in this deployment'));
    expect(() => ledgerOf(['--mchid', V2, '--sub-mchid', SUB])).toThrow(
      /^--sub-mchid: merchant 1900000110 is a direct/,
    );
  });

  test('a malformed --mchid is refused by the flag rules', () => {
    expect(() => parseRefundFlags([...base, '--mchid', '19x'])).toThrow(new UsageError('--mchid: must be 1–32 digits'));
  });
});

describe('npm run ops --mchid', () => {
  /** Runs the operator CLI; returns the workflow IDs it asked for. */
  async function asked(argv: string[]): Promise<string[]> {
    const ids: string[] = [];
    const handle = {
      query: async () => {
        throw new Error('stop here: only the workflow ID matters');
      },
      executeUpdate: async () => {
        throw new Error('stop here: only the workflow ID matters');
      },
    };
    const client = {
      workflow: {
        getHandle: (id: string) => {
          ids.push(id);
          return handle;
        },
      },
    } as unknown as Client;
    await ops(
      argv,
      client,
      () => undefined,
      undefined,
      () => undefined,
      () => merchants,
    ).catch((err: unknown) => {
      if (err instanceof UsageError) throw err;
    });
    return ids;
  }

  test.each([
    [['show', 'R2026120300001', '--mchid', DEFAULT], 'refund-R2026120300001'],
    [['show', 'R2026120300001'], 'refund-R2026120300001'],
    [['show', 'R2026120300001', '--mchid', V2], `refund-${V2}.R2026120300001`],
    [
      ['retry-now', 'R2026120300001', '--mchid', PROVIDER, '--sub-mchid', SUB],
      `refund-${PROVIDER}.${SUB}.R2026120300001`,
    ],
    [
      ['resolve-abnormal', 'R2026120300001', '--type', 'MERCHANT_BANK_CARD', '--mchid', V2],
      `refund-${V2}.R2026120300001`,
    ],
    [['order', 'T2026120300001', '--mchid', V2], `refund-order-${V2}.T2026120300001`],
    [['order', 'T2026120300001', '--mchid', DEFAULT], 'refund-order-T2026120300001'],
  ])('%j asks %s', async (argv, id) => {
    expect(await asked(argv)).toEqual([id]);
  });

  test('a merchant the deployment does not serve is a usage error naming the flag', async () => {
    await expect(asked(['show', 'R2026120300001', '--mchid', '123'])).rejects.toThrow(
      new UsageError('--mchid: no merchant 123 in this deployment'),
    );
    await expect(asked(['order', 'T2026120300001', '--mchid', PROVIDER, '--sub-mchid', '42'])).rejects.toThrow(
      /^--sub-mchid: sub-merchant 42 is not one of service provider 1900000100/,
    );
  });
});
