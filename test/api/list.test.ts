/**
 * GET /v1/refunds on the real stack: refunds from Temporal visibility, filtered by order and state, paginated.
 *
 * Refunds of one order are created one at a time (M9: 60 s between creates), so of three refunds requested at once
 * the first reaches WeChat (PROCESSING) and the other two stay queued (PENDING) for the whole test: two states to
 * filter by. Visibility trails the workflows, so every expectation is polled with a deadline.
 */
import { refundListSchema } from '../../src/api/schemas';
import { newRefundNo } from '../workflows/helpers';
import { eventually, startApiStack, type ApiStack, type Json } from './api-stack';

const KEY = 'test-key-list-0123456789abcdef';

let stack: ApiStack;
let tradeNo: string;
let otherTradeNo: string;
const numbers: string[] = [];
let otherNumber: string;

interface Item {
  out_refund_no: string;
  out_trade_no?: string;
  amount_fen: number;
  state: string;
  created_at: string;
}

/** One page, checked against the documented list resource. */
async function page(query: string): Promise<{ data: Item[]; next_page_token?: string }> {
  const res = await stack.get(`/v1/refunds${query}`);
  expect(res.status).toBe(200);
  expect(refundListSchema.parse(res.body)).toEqual(res.body);
  return res.body as unknown as { data: Item[]; next_page_token?: string };
}

const numbersOf = (items: Item[]) => items.map((i) => i.out_refund_no).sort();

beforeAll(async () => {
  stack = await startApiStack(KEY);
  tradeNo = await stack.order(10_000);
  otherTradeNo = await stack.order(10_000);
  for (const amount of [100, 200, 300]) {
    const no = newRefundNo('LST');
    const res = await stack.post('/v1/refunds', { out_trade_no: tradeNo, out_refund_no: no, amount_fen: amount });
    expect(res.status).toBe(201);
    numbers.push(no);
  }
  otherNumber = newRefundNo('LSO');
  const other = await stack.post('/v1/refunds', {
    out_trade_no: otherTradeNo,
    out_refund_no: otherNumber,
    amount_fen: 50,
  });
  expect(other.status).toBe(201);
}, 60_000);

afterAll(() => stack?.close());

test("by order: that order's refunds only, each with its amount and state", async () => {
  const { data } = await eventually(
    () => page(`?out_trade_no=${tradeNo}`),
    (p) => p.data.length === 3 && p.data.some((i) => i.state === 'PROCESSING'),
    { what: `three refunds of ${tradeNo}, one PROCESSING` },
  );
  expect(numbersOf(data)).toEqual([...numbers].sort());
  for (const item of data) {
    expect(item).toMatchObject({ object: 'refund', out_trade_no: tradeNo });
    expect(Date.parse(item.created_at)).not.toBeNaN();
  }
  expect(data.map((i) => i.amount_fen).sort((a, b) => a - b)).toEqual([100, 200, 300]);
  expect(data.map((i) => i.state).sort()).toEqual(['PENDING', 'PENDING', 'PROCESSING']);
});

test('by state: only refunds in that state; with the order too, exactly those', async () => {
  const pending = await eventually(
    () => page(`?out_trade_no=${tradeNo}&status=PENDING`),
    (p) => p.data.length === 2,
    { what: 'two PENDING refunds' },
  );
  expect(pending.data.every((i) => i.state === 'PENDING')).toBe(true);
  const processing = await eventually(
    () => page(`?status=PROCESSING&out_trade_no=${tradeNo}`),
    (p) => p.data.length === 1,
    { what: 'one PROCESSING refund' },
  );
  expect(numbersOf([...pending.data, ...processing.data])).toEqual([...numbers].sort());

  // Across all orders (the dev server is shared with other test files): every item is in the state asked for.
  const allPending = await page('?status=PENDING&limit=100');
  expect(allPending.data.length).toBeGreaterThan(0);
  expect(allPending.data.every((i) => i.state === 'PENDING')).toBe(true);
  expect((await page(`?status=SUCCESS&out_trade_no=${tradeNo}`)).data).toEqual([]);
});

test('without filters: every refund, a page at a time, ours among them', async () => {
  const wanted = new Set([...numbers, otherNumber]);
  await eventually(
    async () => {
      const seen = new Set<string>();
      let token: string | undefined;
      do {
        const p = await page(`?limit=100${token ? `&page_token=${token}` : ''}`);
        for (const item of p.data) seen.add(item.out_refund_no);
        token = p.next_page_token;
      } while (token && [...wanted].some((n) => !seen.has(n)));
      return [...wanted].filter((n) => !seen.has(n));
    },
    (missing) => missing.length === 0,
    { what: 'our refunds in the unfiltered list' },
  );
});

test('limit 2: pages of at most 2 with a token, until a page without one; each refund exactly once', async () => {
  await eventually(
    () => page(`?out_trade_no=${tradeNo}`),
    (p) => p.data.length === 3,
  );
  const seen: string[] = [];
  const sizes: number[] = [];
  let token: string | undefined;
  let firstToken: string | undefined;
  for (let pages = 0; ; pages++) {
    expect(pages).toBeLessThan(5);
    const p = await page(`?out_trade_no=${tradeNo}&limit=2${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    sizes.push(p.data.length);
    seen.push(...p.data.map((i) => i.out_refund_no));
    token = p.next_page_token;
    if (token === undefined) break;
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    firstToken ??= token;
  }
  expect(sizes[0]).toBe(2);
  expect(sizes.every((n) => n <= 2)).toBe(true);
  expect(seen.sort()).toEqual([...numbers].sort());

  // A token belongs to its filters: with another order's filter it would skip or repeat refunds, so it is refused.
  const elsewhere = await stack.get(`/v1/refunds?out_trade_no=${otherTradeNo}&limit=2&page_token=${firstToken}`);
  expect(elsewhere.status).toBe(400);
  expect(elsewhere.body).toMatchObject({ error: { type: 'invalid_request', param: 'page_token' } });
});

describe('400 naming the parameter', () => {
  test.each([
    ['a page_token that is not one of ours', '?page_token=not%20a%20token', 'page_token'],
    ['a made-up page_token', `?page_token=${Buffer.from('{"StartTime":0}').toString('base64url')}`, 'page_token'],
    ['an unknown parameter', '?state=PENDING', 'state'],
    ['an unknown status', '?status=DONE', 'status'],
    ['a limit of 0', '?limit=0', 'limit'],
    ['a limit over 100', '?limit=101', 'limit'],
    ['a limit that is not a number', '?limit=ten', 'limit'],
    ['a malformed out_trade_no', "?out_trade_no=T'%20OR%20'1'='1", 'out_trade_no'],
  ])('%s', async (_what, query, param) => {
    const res = await stack.get(`/v1/refunds${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { type: 'invalid_request', param, message: expect.stringContaining(param) } });
  });
});

test('401 without a key', async () => {
  const res = await stack.call('/v1/refunds');
  expect(res.status).toBe(401);
  expect((res.body.error as Json).type).toBe('unauthorized');
});
