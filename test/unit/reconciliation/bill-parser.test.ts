import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BillFormatError, parseRefundBill } from '../../../src/reconciliation/bill-parser';
import type { BillRow, BillSummary } from '../../../src/reconciliation/types';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'bills');
const V2 = readFileSync(path.join(FIXTURES, 'v2-refund-2026-11-30.csv'));
const V3 = readFileSync(path.join(FIXTURES, 'v3-refund-2026-11-30.csv'));

/** `data` as a byte stream, cut into chunks of `chunk` bytes (1: every multi-byte character split across chunks). */
function bytes(data: Buffer | string, chunk = 64 * 1024): Readable {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
    })(),
  );
}

async function parseAll(data: Buffer | string, chunk?: number): Promise<{ rows: BillRow[]; summary: BillSummary }> {
  const bill = parseRefundBill(bytes(data, chunk), { source: 'test bill' });
  const rows: BillRow[] = [];
  for await (const row of bill.rows) rows.push(row);
  return { rows, summary: await bill.summary };
}

async function parseError(data: Buffer | string): Promise<BillFormatError> {
  const bill = parseRefundBill(bytes(data), { source: 'test bill' });
  try {
    for await (const _row of bill.rows) {
      // read on
    }
  } catch (e) {
    expect(e).toBeInstanceOf(BillFormatError);
    // The summary promise reports the same failure to whoever awaits it.
    await expect(bill.summary).rejects.toBe(e);
    return e as BillFormatError;
  }
  throw new Error('the bill was accepted');
}

/**
 * Edits a fixture as a grid of cells (the fixtures have no commas inside fields). Returns LF text without a BOM, so
 * the edit is the only difference from the original the test cares about.
 */
function editBill(data: Buffer, edit: (grid: string[][]) => void): string {
  const grid = data
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l !== '')
    .map((l) => l.split(','));
  edit(grid);
  return grid.map((cells) => cells.join(',')).join('\n') + '\n';
}
/** Index of a header name in the detail header (row 0 of the grid). */
const col = (grid: string[][], name: string) => {
  const i = grid[0].indexOf(name);
  if (i < 0) throw new Error(`fixture has no column ${name}`);
  return i;
};
/** A full garbage collection, for measuring what is retained (jest does not run node with --expose-gc). */
function exposedGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** The summary row is the grid's last row, its header the one before. */
const summaryCol = (grid: string[][], name: string) => grid[grid.length - 2].indexOf(name);

describe('parseRefundBill: the v2 REFUND bill (older spellings, CRLF, old summary header)', () => {
  it('reads every detail row by header name, amounts in fen, statuses normalised, with their line numbers', async () => {
    const { rows, summary } = await parseAll(V2);
    expect(rows).toEqual([
      {
        line: 2,
        tradeTime: '2026-11-29 18:02:11',
        mchid: '1900000109',
        transactionId: '4200001234202611290000000001',
        outTradeNo: 'T20261129001',
        refundId: '50300000012026113000000000001',
        outRefundNo: 'R20261130001',
        refundFen: 1,
        orderFen: 1,
        refundRequestedAt: '2026-11-30 09:15:00',
        refundSucceededAt: '2026-11-30 09:15:03',
        refundType: 'ORIGINAL',
        refundStatus: 'SUCCESS',
      },
      expect.objectContaining({ line: 3, outRefundNo: 'R20261130002', refundFen: 123450, orderFen: 200000 }),
      expect.objectContaining({ line: 4, outRefundNo: 'R20261130003', refundFen: 50, refundStatus: 'CLOSED' }),
      expect.objectContaining({ line: 5, outRefundNo: 'R20261130004', refundFen: 30000, refundStatus: 'PROCESSING' }),
      expect.objectContaining({ line: 6, outRefundNo: 'R20261130005', refundFen: 777, refundStatus: 'ABNORMAL' }),
    ]);
    // 子商户号 `0` in a merchant's own bill means none; an empty 退款成功时间 is absent, not "".
    expect(rows.every((r) => !('subMchid' in r))).toBe(true);
    expect(rows[3]).not.toHaveProperty('refundSucceededAt');
    expect(rows[3]).not.toHaveProperty('requestedRefundFen'); // the v2 file has no 申请退款金额 column
    // The old v2 summary writes 总退款金额 (not 退款总金额).
    expect(summary).toEqual({ rows: 5, refundTotalFen: 154278 });
  });
});

describe('parseRefundBill: the v3 refund bill (v3 spellings, newer columns, BOM, a stray quote)', () => {
  it('reads the v3 names (特约商户号, 应结订单金额) and the newer 申请退款金额', async () => {
    const { rows, summary } = await parseAll(V3);
    expect(
      rows.map((r) => [r.line, r.outRefundNo, r.refundFen, r.requestedRefundFen, r.orderFen, r.refundStatus]),
    ).toEqual([
      [2, 'PR20261130011', 1, 1, 1, 'SUCCESS'],
      [3, 'PR20261130012', 123450, 123450, 200000, 'SUCCESS'],
      [4, 'PR20261130013', 1200, 1200, 1200, 'PROCESSING'],
      [5, 'PR20261130014', 510, 510, 1000, 'CLOSED'],
      // 应结订单金额 (99.99) is preferred over the newer 订单金额 (109.99).
      [6, 'PR20261130015', 9999, 10999, 9999, 'ABNORMAL'],
    ]);
    expect(rows.every((r) => r.mchid === '1900000100' && r.subMchid === '1900000109')).toBe(true);
    // The BOM does not hide the first column's name.
    expect(rows[0].tradeTime).toBe('2026-11-29 18:02:11');
    // The product name `13" 显示器` (a quote inside a field) did not swallow the following fields or rows.
    expect(rows[1]).toMatchObject({ refundType: 'BALANCE', refundRequestedAt: '2026-11-30 10:20:30' });
    expect(summary).toEqual({ rows: 5, refundTotalFen: 135160, requestedRefundTotalFen: 136160 });
  });

  it('gives the same result when every byte arrives in its own chunk (UTF-8 characters split across reads)', async () => {
    expect(await parseAll(V3, 1)).toEqual(await parseAll(V3));
    expect(await parseAll(V2, 7)).toEqual(await parseAll(V2));
  });
});

describe('parseRefundBill: columns are found by name', () => {
  it('reads the same rows when columns are in another order (header and rows moved together)', async () => {
    const moved = editBill(V3, (grid) => {
      const detail = grid.slice(0, grid.length - 2);
      const order = [
        col(grid, '退款状态'),
        col(grid, '商户退款单号'),
        col(grid, '退款金额'),
        ...grid[0].map((_, i) => i).reverse(),
      ].filter((i, at, all) => all.indexOf(i) === at);
      for (const row of detail) row.splice(0, row.length, ...order.map((i) => row[i]));
    });
    expect(await parseAll(moved)).toEqual(await parseAll(editBill(V3, () => undefined)));
  });

  it('ignores columns it does not know (a newer file with more columns)', async () => {
    const wider = editBill(V3, (grid) => {
      grid.forEach((row, i) => {
        if (i < grid.length - 2) row.push(i === 0 ? '新增字段' : '`x');
      });
    });
    expect((await parseAll(wider)).rows).toHaveLength(5);
  });

  it('refuses a file without a required column, naming it', async () => {
    const noKey = editBill(V2, (grid) => (grid[0][col(grid, '商户退款单号')] = '退款单号'));
    const e = await parseError(noKey);
    expect(e.line).toBe(1);
    expect(e.message).toMatch(/商户退款单号/);
  });

  it('refuses a header with the same amount column twice', async () => {
    const twice = editBill(V2, (grid) => (grid[0][col(grid, '代金券或立减优惠退款金额')] = '退款金额'));
    expect((await parseError(twice)).message).toMatch(/退款金额 twice/);
  });
});

describe('parseRefundBill: a row that does not fit the header is refused, with its line and column', () => {
  it('a row with one field too many (a column shifted inside the row)', async () => {
    const shifted = editBill(V3, (grid) => grid[3].splice(5, 0, '`extra'));
    const e = await parseError(shifted);
    expect(e.line).toBe(4);
    expect(e.message).toMatch(/line 4/);
    expect(e.message).toMatch(/30 columns where the header \(line 1\) has 29/);
  });

  it('values moved between two columns of a row (same field count) are caught by their format', async () => {
    const swapped = editBill(V2, (grid) => {
      const [a, b] = [col(grid, '退款金额'), col(grid, '退款状态')];
      [grid[2][a], grid[2][b]] = [grid[2][b], grid[2][a]];
    });
    const e = await parseError(swapped);
    expect({ line: e.line, column: e.column }).toEqual({ line: 3, column: '退款金额' });
    expect(e.message).toMatch(/"SUCCESS" is not an amount in yuan/);
  });

  it('a row with an empty 商户退款单号 (out_refund_no): the key of the comparison', async () => {
    const missing = editBill(V3, (grid) => (grid[4][col(grid, '商户退款单号')] = '`'));
    const e = await parseError(missing);
    expect({ line: e.line, column: e.column }).toEqual({ line: 5, column: '商户退款单号' });
    expect(e.message).toBe('refund bill (test bill, line 5, column 商户退款单号): is empty');
  });

  it.each([
    ['1.234', /"1.234" is not an amount/],
    ['-0.50', /"-0.50" is not an amount/],
    ['1,234.50'.replace(',', '，'), /is not an amount/],
    ['', /is empty/],
  ])('an amount written %j', async (amount, message) => {
    const bad = editBill(V2, (grid) => (grid[1][col(grid, '退款金额')] = `\`${amount}`));
    const e = await parseError(bad);
    expect({ line: e.line, column: e.column }).toEqual({ line: 2, column: '退款金额' });
    expect(e.message).toMatch(message);
  });

  it('a 申请退款金额 that is not yuan, in the v3 column', async () => {
    const bad = editBill(V3, (grid) => (grid[2][col(grid, '申请退款金额')] = '`12.3.4'));
    expect(await parseError(bad)).toMatchObject({ line: 3, column: '申请退款金额' });
  });

  it('an unknown 退款状态', async () => {
    const bad = editBill(V3, (grid) => (grid[1][col(grid, '退款状态')] = '`REFUNDED'));
    const e = await parseError(bad);
    expect(e).toMatchObject({ line: 2, column: '退款状态' });
    expect(e.message).toMatch(/"REFUNDED" is not one of SUCCESS, PROCESSING, REFUNDCLOSE, CLOSED, CHANGE/);
  });

  it('a 退款申请时间 that is not a time', async () => {
    const bad = editBill(V3, (grid) => (grid[5][col(grid, '退款申请时间')] = '`2026/11/30 23:59'));
    expect(await parseError(bad)).toMatchObject({ line: 6, column: '退款申请时间' });
  });

  it('a stray opening quote that never closes (it would swallow the rest of the file)', async () => {
    const bad = editBill(V3, (grid) => (grid[2][col(grid, '商品名称')] = '"未闭合'));
    const e = await parseError(bad);
    expect(e.line).toBeGreaterThanOrEqual(3);
    expect(e.message).toMatch(/not valid CSV|columns where/);
  });
});

describe('parseRefundBill: the summary is checked against the detail rows', () => {
  it('refuses a summary whose 总交易单数 disagrees with the rows', async () => {
    const bad = editBill(V3, (grid) => (grid[grid.length - 1][summaryCol(grid, '总交易单数')] = '`6'));
    const e = await parseError(bad);
    expect({ line: e.line, column: e.column }).toEqual({ line: 8, column: '总交易单数' });
    expect(e.message).toMatch(/the summary says 6 rows, the file has 5/);
  });

  it('refuses a summary whose 退款总金额 is off by one fen', async () => {
    const bad = editBill(V3, (grid) => (grid[grid.length - 1][summaryCol(grid, '退款总金额')] = '`1351.61'));
    const e = await parseError(bad);
    expect(e.column).toBe('退款总金额');
    expect(e.message).toMatch(/says 135161 fen, the rows' 退款金额 add up to 135160 fen/);
  });

  it('refuses a detail row whose amount changed while the summary did not', async () => {
    const bad = editBill(V2, (grid) => (grid[2][col(grid, '退款金额')] = '`1234.49'));
    expect((await parseError(bad)).column).toBe('总退款金额'); // the v2 file's own spelling
  });

  it('refuses a summary whose 申请退款总金额 disagrees with the rows', async () => {
    const bad = editBill(V3, (grid) => (grid[grid.length - 1][summaryCol(grid, '申请退款总金额')] = '`1351.60'));
    expect((await parseError(bad)).column).toBe('申请退款总金额');
  });

  it('refuses a summary row that is not numbers', async () => {
    const bad = editBill(V3, (grid) => (grid[grid.length - 1][summaryCol(grid, '总交易单数')] = '`五'));
    expect(await parseError(bad)).toMatchObject({ line: 8, column: '总交易单数' });
  });

  it.each([
    ['no summary at all', (g: string[][]) => g.splice(g.length - 2, 2), /without the summary header/],
    ['a summary header without its row', (g: string[][]) => g.pop(), /without the summary row/],
    ['rows after the summary', (g: string[][]) => g.push(g[1]), /unexpected content after the summary row/],
    ['the summary first', (g: string[][]) => g.splice(0, g.length - 2), /no detail header/],
  ])('refuses a file with %s', async (_what, edit, message) => {
    expect((await parseError(editBill(V3, edit))).message).toMatch(message);
  });

  it('refuses an empty file', async () => {
    expect((await parseError('')).message).toMatch(/empty/);
  });

  it('accepts a day without refunds: header, then a summary of zero', async () => {
    const none = editBill(V3, (grid) => {
      grid.splice(1, grid.length - 3);
      grid[grid.length - 1] = grid[grid.length - 1].map(() => '`0');
      grid[grid.length - 1][summaryCol(grid, '退款总金额')] = '`0.00';
    });
    expect(await parseAll(none)).toEqual({
      rows: [],
      summary: { rows: 0, refundTotalFen: 0, requestedRefundTotalFen: 0 },
    });
  });
});

describe('parseRefundBill: a stream, read once', () => {
  it('rejects the summary when the consumer stops before the end', async () => {
    const bill = parseRefundBill(bytes(V3));
    for await (const _row of bill.rows) break;
    await expect(bill.summary).rejects.toThrow(/not read to the end/);
  });

  it('cannot be iterated twice', async () => {
    const bill = parseRefundBill(bytes(V3));
    for await (const _row of bill.rows) {
      // read all
    }
    expect(() => bill.rows[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  it('fails with the input’s own error (a truncated download, a gunzip failure)', async () => {
    const broken = Readable.from(
      (async function* () {
        yield V3.subarray(0, 500);
        throw new Error('unexpected end of file');
      })(),
    );
    const bill = parseRefundBill(broken);
    await expect(
      (async () => {
        for await (const _row of bill.rows) {
          // read on
        }
      })(),
    ).rejects.toThrow('unexpected end of file');
    await expect(bill.summary).rejects.toThrow('unexpected end of file');
  });

  it('yields rows while the file is still being read, and keeps nothing of the rows it has yielded', async () => {
    const ROWS = 100_000;
    const header = V3.toString('utf8')
      .replace(/^\uFEFF/, '')
      .split('\n')[0];
    const template = V3.toString('utf8').split('\n')[2].split(','); // a 1234.50 row
    const outRefundNoAt = header.split(',').indexOf('商户退款单号');
    let linesProduced = 0;
    const source = Readable.from(
      (function* () {
        yield header + '\n';
        linesProduced++;
        for (let i = 0; i < ROWS; i += 1000) {
          const lines: string[] = [];
          for (let j = i; j < i + 1000; j++) {
            template[outRefundNoAt] = `\`R${String(j).padStart(10, '0')}`;
            lines.push(template.join(','));
          }
          linesProduced += lines.length;
          yield lines.join('\n') + '\n';
        }
        const total = ((123450 * ROWS) / 100).toFixed(2);
        yield `总交易单数,退款总金额,申请退款总金额\n\`${ROWS},\`${total},\`${total}\n`;
      })(),
    );
    // Live heap, not RSS: RSS also counts garbage the collector has not reclaimed yet (the bench reports RSS, in a
    // fresh process). A parser that kept its rows, or the file, would retain tens of MB between the two samples.
    const gc = exposedGc();
    let producedAtFirstRow = -1;
    let heapAt1k = 0;
    let retainedMiB = Infinity;
    let n = 0;
    let wrong = 0;
    const bill = parseRefundBill(source);
    for await (const row of bill.rows) {
      if (n === 0) producedAtFirstRow = linesProduced;
      if (row.refundFen !== 123450 || row.outRefundNo !== `R${String(n).padStart(10, '0')}`) wrong++;
      if (++n === 1000) {
        gc();
        heapAt1k = process.memoryUsage().heapUsed;
      } else if (n === 90_000) {
        gc();
        retainedMiB = (process.memoryUsage().heapUsed - heapAt1k) / 2 ** 20;
      }
    }
    expect({ n, wrong }).toEqual({ n: ROWS, wrong: 0 });
    expect(await bill.summary).toEqual({
      rows: ROWS,
      refundTotalFen: 123450 * ROWS,
      requestedRefundTotalFen: 123450 * ROWS,
    });
    // A parser that read the whole file before yielding would see all 100,001 lines produced by then.
    expect(producedAtFirstRow).toBeLessThan(5000);
    expect(retainedMiB).toBeLessThan(10);
  }, 120_000);
});
