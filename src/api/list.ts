/**
 * `GET /v1/refunds`: refunds from Temporal visibility, filtered by state and order, a page at a time.
 *
 * Each refund workflow publishes its number, amount, state, order and channel as search attributes
 * (domain/search-attributes.ts, workflows/refund-view.ts); a page is one ListWorkflowExecutions call.
 *
 * Page tokens: Temporal's token is a cursor for the query it came from, and Temporal answers a garbled one with
 * UNKNOWN, which the client retries until the deadline (a 503 ten seconds later, for a caller's typo). So the caller
 * gets Temporal's token wrapped with a check (a version byte and 8 bytes of SHA-256 over the visibility query and the
 * token, base64url): a token that was altered, or is used with other filters than the page that gave it (which would
 * silently skip or repeat refunds), is a 400 naming page_token without asking Temporal. The check is not a secret and
 * need not be: a token only moves a cursor through a list the caller may read anyway, so forging one grants nothing.
 *
 * Visibility trails the workflows by a moment: a refund just requested shows up, and a state change shows, a second
 * or so later. A workflow whose search attributes are not indexed yet (it has not run its first step) is left out of
 * its page rather than shown without its number or amount.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import {
  OutRefundNoKey,
  OutTradeNoKey,
  RefundAmountFenKey,
  RefundChannelKey,
  RefundStatusKey,
} from '../domain/search-attributes';
import { ApiError } from './errors';
import {
  refundChannelSchema,
  refundStateSchema,
  type ListRefundsQuery,
  type RefundList,
  type RefundListItem,
} from './schemas';

type ListResponse = Awaited<ReturnType<Client['workflowService']['listWorkflowExecutions']>>;
type RawExecution = ListResponse['executions'][number];

export interface ListContext {
  client: Client;
  queryTimeoutMs: number;
}

/** The workflow type of refunds (ledgers share the OutTradeNo attribute and must not be listed). */
const REFUND_WORKFLOW_TYPE = 'refundWorkflow';

/**
 * A visibility-query string literal. Every value reaching here was validated by listRefundsQuerySchema (a state name
 * from a fixed list, an out_trade_no of 6–32 of 0-9 A-Z a-z _ - | *), so none can hold a quote or a backslash and
 * close the literal; this check says so again where the query is built, so a later change to the schemas cannot
 * open an injection.
 */
function literal(value: string): string {
  if (!/^[0-9A-Za-z_\-|*]+$/.test(value)) throw new Error(`refusing to put ${JSON.stringify(value)} in a query`);
  return `'${value}'`;
}

export function visibilityQuery(filter: Pick<ListRefundsQuery, 'status' | 'out_trade_no'>): string {
  const parts = [`WorkflowType = ${literal(REFUND_WORKFLOW_TYPE)}`];
  if (filter.status !== undefined) parts.push(`${RefundStatusKey.name} = ${literal(filter.status)}`);
  if (filter.out_trade_no !== undefined) parts.push(`${OutTradeNoKey.name} = ${literal(filter.out_trade_no)}`);
  return parts.join(' AND ');
}

const TOKEN_VERSION = 1;
const CHECK_BYTES = 8;

function tokenCheck(query: string, cursor: Uint8Array): Buffer {
  return createHash('sha256').update(query).update('\0').update(cursor).digest().subarray(0, CHECK_BYTES);
}

export function encodePageToken(query: string, cursor: Uint8Array): string {
  return Buffer.concat([Buffer.from([TOKEN_VERSION]), tokenCheck(query, cursor), cursor]).toString('base64url');
}

/** Temporal's cursor, or undefined when the token is not one this list gave for this query. */
export function decodePageToken(query: string, token: string): Buffer | undefined {
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length <= 1 + CHECK_BYTES || bytes[0] !== TOKEN_VERSION) return undefined;
  const cursor = bytes.subarray(1 + CHECK_BYTES);
  return bytes.subarray(1, 1 + CHECK_BYTES).equals(tokenCheck(query, cursor)) ? cursor : undefined;
}

const badToken = () =>
  new ApiError(
    400,
    'invalid_request',
    'page_token: not a next_page_token of this list with these filters (pass it unchanged, with the same status ' +
      'and out_trade_no as the request that returned it)',
    { param: 'page_token' },
  );

export async function listRefunds(ctx: ListContext, query: ListRefundsQuery): Promise<RefundList> {
  const { client } = ctx;
  const visibility = visibilityQuery(query);
  const cursor = query.page_token === undefined ? undefined : decodePageToken(visibility, query.page_token);
  if (query.page_token !== undefined && cursor === undefined) throw badToken();
  let response: ListResponse;
  try {
    response = await client.withDeadline(Date.now() + ctx.queryTimeoutMs, () =>
      client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        pageSize: query.limit,
        nextPageToken: cursor,
        query: visibility,
      }),
    );
  } catch (err) {
    // INVALID_ARGUMENT: our query is built from validated values, so a refusal is the cursor's.
    if (cursor !== undefined && (err as { code?: unknown }).code === 3) throw badToken();
    throw err;
  }
  const data = (response.executions ?? []).flatMap((raw) => {
    const item = listItemOf(raw);
    return item ? [item] : [];
  });
  const token = response.nextPageToken;
  return {
    object: 'list',
    data,
    ...(token && token.length > 0 ? { next_page_token: encodePageToken(visibility, token) } : {}),
  };
}

function listItemOf(raw: RawExecution): RefundListItem | undefined {
  const sa = decodeTypedSearchAttributes(raw.searchAttributes?.indexedFields);
  const outRefundNo = sa.get(OutRefundNoKey);
  const amountFen = sa.get(RefundAmountFenKey);
  const state = refundStateSchema.safeParse(sa.get(RefundStatusKey));
  const startedAt = optionalTsToDate(raw.startTime);
  if (outRefundNo === undefined || amountFen === undefined || !state.success || !startedAt) return undefined;
  const outTradeNo = sa.get(OutTradeNoKey);
  const channel = refundChannelSchema.safeParse(sa.get(RefundChannelKey));
  const closedAt = optionalTsToDate(raw.closeTime);
  return {
    object: 'refund',
    out_refund_no: outRefundNo,
    ...(outTradeNo !== undefined ? { out_trade_no: outTradeNo } : {}),
    amount_fen: amountFen,
    state: state.data,
    ...(channel.success ? { channel: channel.data } : {}),
    created_at: startedAt.toISOString(),
    ...(closedAt ? { closed_at: closedAt.toISOString() } : {}),
  };
}
