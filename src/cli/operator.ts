/**
 * Operator CLI: inspect and steer refunds.
 *
 *   npm run ops -- list [--status ABNORMAL] [--order <out_trade_no>] [--limit 50] [--json]
 *   npm run ops -- show <out_refund_no> [--mchid <id>] [--sub-mchid <id>] [--json]
 *   npm run ops -- resolve-abnormal <out_refund_no> --type USER_BANK_CARD --bank-type ICBC_DEBIT
 *                  --bank-account <digits> --real-name <name> [--operator <who>]
 *   npm run ops -- resolve-abnormal <out_refund_no> --type MERCHANT_BANK_CARD [--operator <who>]
 *   npm run ops -- retry-now <out_refund_no> [--operator <who>] [--note <text>]
 *   npm run ops -- order <out_trade_no> [--json]
 *   npm run ops -- reconcile --date 2026-11-30 [--mchid <id>] [--sub-mchid <id>] [--json]
 *
 * `reconcile` runs the day's reconciliation against WeChat's refund bill now (docs/reconciliation.md), as the daily
 * schedule does, waits for it, and prints its summary (or, with --json, its result: counts and the report's place).
 *
 * Every command on one refund or order takes --mchid (the merchant; absent: the deployment's default) and --sub-mchid
 * (a service provider's sub-merchant). They are checked against the deployment's merchants
 * (src/merchants/program-registry.ts), whose default merchant decides the workflow IDs (domain/ids.ts); a refund of
 * the default merchant named by neither flag needs no registry (its IDs are the single-merchant ones).
 *
 * Bank details are validated here and by the workflow's update validator and never printed back (the card is masked).
 * With payload encryption on (docs/encryption.md: WXREFUND_PAYLOAD_KEYS, or the local stack's key file), the whole
 * update reaches Temporal encrypted by the codec, details included, and is sent as it is. Only with encryption off
 * (WXREFUND_PAYLOAD_ENCRYPTION=off, or decrypt-only) are they sealed with WXREFUND_SEAL_KEYS (src/secrets/seal.ts) for
 * the worker to open, or, without those either, sent in clear with a warning.
 *
 * Temporal: its env conventions (TEMPORAL_ADDRESS …); payloads are read and written through the same codec as every
 * other process, so `show`, `order` and the updates work on encrypted histories.
 */
import { Client, WorkflowUpdateFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { chooseMerchant, MerchantChoiceError, type MerchantRoster } from '../api/merchant-choice';
import { encryptsNewPayloads, isEncryptionWarning } from '../codec/process-encryption';
import { programPayloadEncryption } from '../config/program-encryption';
import { connectClient } from '../config/temporal-connection';
import type { MerchantScope } from '../domain/ids';
import { formatFen } from '../domain/money';
import { REFUND_STATES } from '../domain/status';
import { describeZodError, resolveAbnormalSchema, type ResolveAbnormalRequest } from '../domain/schemas';
import { loadProgramRegistry } from '../merchants/program-registry';
import { sealerFromEnv, type Sealer } from '../secrets/seal';
import {
  eventDeliveries,
  listRefunds,
  orderLedger,
  refundStatus,
  resolveAbnormal,
  retryNow,
  timeline,
} from '../ops/refund-ops';
import type { EventDeliveryView, RefundStatusView } from '../workflows/types';
import { parseFlags, UsageError } from './support/args';
import { loadStackConfig } from '../config/stack-config';
import { readSummary, reconcileNow } from '../ops/reconcile';

const USAGE = `Usage: npm run ops -- <command> [flags]
  list [--status ${REFUND_STATES.join('|')}] [--order <out_trade_no>] [--limit N] [--json]
  show <out_refund_no> [--mchid <id>] [--sub-mchid <id>] [--json]
  resolve-abnormal <out_refund_no> --type USER_BANK_CARD --bank-type <e.g. ICBC_DEBIT> --bank-account <digits>
                   --real-name <name> [--operator <who>] [--mchid <id>] [--sub-mchid <id>]
  resolve-abnormal <out_refund_no> --type MERCHANT_BANK_CARD [--operator <who>] [--mchid <id>] [--sub-mchid <id>]
  retry-now <out_refund_no> [--operator <who>] [--note <text>] [--mchid <id>] [--sub-mchid <id>]
  order <out_trade_no> [--mchid <id>] [--sub-mchid <id>] [--json]
  reconcile --date <YYYY-MM-DD, Beijing> [--mchid <id>] [--sub-mchid <id>] [--task-queue <q>] [--json]
--mchid: the merchant (default: the deployment's default merchant); --sub-mchid: a service provider's sub-merchant.`;

type Out = (line: string) => void;

/** The flags naming a refund's merchant, on every command about one refund or order. */
const MERCHANT_OPTIONS = { mchid: { type: 'string' }, 'sub-mchid': { type: 'string' } } as const;
const merchantNumber = z.string().regex(/^[0-9]{1,32}$/, 'must be 1–32 digits');
const merchantFlags = { mchid: merchantNumber.optional(), subMchid: merchantNumber.optional() };

/** The deployment's merchants, read only when a command names a merchant. */
const programMerchants = (): MerchantRoster => loadProgramRegistry(process.env).registry;

/**
 * The workflow-ID scope of the merchant the flags name. Neither flag: the default merchant, whose IDs are the same
 * whatever the registry says, so it is not read. Otherwise checked against it: a merchant it does not have is a
 * UsageError naming the flag.
 */
export function scopeOfFlags(
  flags: { mchid?: string; subMchid?: string },
  merchants: () => MerchantRoster,
): MerchantScope {
  if (flags.mchid === undefined && flags.subMchid === undefined) return {};
  try {
    return chooseMerchant(merchants(), flags).scope;
  } catch (err) {
    if (err instanceof MerchantChoiceError) throw new UsageError(`--${err.param.replace('_', '-')}: ${err.message}`);
    throw err;
  }
}

function positional(argv: string[], what: string): [string, string[]] {
  const [value, ...rest] = argv;
  if (!value || value.startsWith('--')) throw new UsageError(`${what} is required`);
  return [value, rest];
}

function printStatus(view: RefundStatusView, deliveries: readonly EventDeliveryView[], out: Out): void {
  out(`${view.workflowId}  ${view.state}${view.reviewReason ? ` (${view.reviewReason})` : ''}`);
  out(`  order ${view.outTradeNo ?? '-'}  refund ${formatFen(view.requestedFen)} of ${formatFen(view.totalFen)} CNY`);
  out(
    `  channel ${view.channel}${view.userReceivedAccount ? ` → ${view.userReceivedAccount}` : ''}  refund_id ${view.refundId ?? '-'}`,
  );
  if (view.note) out(`  note: ${view.note}`);
  if (view.nextPollAt) out(`  next query: ${view.nextPollAt}`);
  if (view.nextSubmitAt) out(`  next submit: ${view.nextSubmitAt}`);
  for (const alert of view.alerts) out(`  ALERT: ${alert}`);
  out('  timeline:');
  if (view.metadata) out(`  metadata: ${JSON.stringify(view.metadata)}`);
  for (const e of timeline(view, deliveries)) out(`    ${e.at}  ${e.kind.padEnd(19)} ${e.text}`);
}

/**
 * USER_BANK_CARD → USER_BANK_CARD_SEALED: only the bank, the last four digits and ciphertext reach Temporal. Used only
 * when payloads are not encrypted (encryption off or decrypt-only): otherwise the codec encrypts the whole update.
 */
function sealBankDetails(
  request: Extract<ResolveAbnormalRequest, { type: 'USER_BANK_CARD' }>,
  sealer: Sealer,
): ResolveAbnormalRequest {
  return {
    type: 'USER_BANK_CARD_SEALED',
    bankType: request.bankType,
    cardLast4: request.bankAccount.slice(-4),
    sealedBankAccount: sealer.seal(request.bankAccount),
    sealedRealName: sealer.seal(request.realName),
    operator: request.operator,
  };
}

export async function run(
  argv: string[],
  client: Client,
  out: Out = console.log,
  sealer: Sealer | undefined = sealerFromEnv(),
  warn: Out = console.error,
  merchants: () => MerchantRoster = programMerchants,
): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'list': {
      const f = parseFlags(
        rest,
        { status: { type: 'string' }, order: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
        z.object({
          status: z.enum(REFUND_STATES).optional(),
          order: z.string().optional(),
          limit: z
            .string()
            .regex(/^[1-9][0-9]{0,3}$/, 'must be 1–9999')
            .transform(Number)
            .optional(),
          json: z.boolean().optional(),
        }),
      );
      const items = await listRefunds(client, { status: f.status, outTradeNo: f.order, limit: f.limit });
      if (f.json) out(JSON.stringify(items, null, 2));
      else {
        out(
          `${'OUT_REFUND_NO'.padEnd(28)} ${'ORDER'.padEnd(24)} ${'STATUS'.padEnd(14)} ${'AMOUNT'.padStart(12)} CHANNEL`,
        );
        for (const i of items) {
          const amount = i.amountFen === undefined ? '-' : formatFen(i.amountFen);
          out(
            `${(i.outRefundNo ?? i.workflowId).padEnd(28)} ${(i.outTradeNo ?? '-').padEnd(24)} ${(i.status ?? '-').padEnd(14)} ${amount.padStart(12)} ${i.channel ?? '-'}`,
          );
        }
        out(`${items.length} refund(s)`);
      }
      return 0;
    }
    case 'show': {
      const [no, flags] = positional(rest, 'out_refund_no');
      const f = parseFlags(
        flags,
        { ...MERCHANT_OPTIONS, json: { type: 'boolean' } },
        z.object({ ...merchantFlags, json: z.boolean().optional() }),
      );
      const view = await refundStatus(client, no, scopeOfFlags(f, merchants));
      const deliveries = await eventDeliveries(client, view);
      if (f.json) out(JSON.stringify({ ...view, eventDeliveries: deliveries }, null, 2));
      else printStatus(view, deliveries, out);
      return 0;
    }
    case 'resolve-abnormal': {
      const [no, flags] = positional(rest, 'out_refund_no');
      const f = parseFlags(
        flags,
        {
          type: { type: 'string' },
          'bank-type': { type: 'string' },
          'bank-account': { type: 'string' },
          'real-name': { type: 'string' },
          operator: { type: 'string' },
          ...MERCHANT_OPTIONS,
        },
        z.object({
          type: z.enum(['USER_BANK_CARD', 'MERCHANT_BANK_CARD'], {
            error: 'must be USER_BANK_CARD or MERCHANT_BANK_CARD',
          }),
          bankType: z.string().optional(),
          bankAccount: z.string().optional(),
          realName: z.string().optional(),
          operator: z.string().optional(),
          ...merchantFlags,
        }),
      );
      const scope = scopeOfFlags(f, merchants);
      const plain =
        f.type === 'USER_BANK_CARD'
          ? {
              type: f.type,
              bankType: f.bankType,
              bankAccount: f.bankAccount,
              realName: f.realName,
              operator: f.operator,
            }
          : { type: f.type, operator: f.operator };
      // Checked here first, so only valid details are sent; the workflow's validator checks again.
      const valid = resolveAbnormalSchema.safeParse(plain);
      if (!valid.success) throw new UsageError(describeZodError(valid.error));
      let request: ResolveAbnormalRequest = valid.data;
      let protection = '';
      if (valid.data.type === 'USER_BANK_CARD') {
        // The client's own codecs say whether the update leaves encrypted: then one mechanism protects it all.
        if (await encryptsNewPayloads(client.options?.loadedDataConverter?.payloadCodecs)) protection = ', encrypted';
        else if (sealer) {
          request = sealBankDetails(valid.data, sealer);
          protection = ', sealed';
        } else {
          warn(
            'warning: payload encryption is off and WXREFUND_SEAL_KEYS is not set: the card number is stored in ' +
              'clear in the workflow history',
          );
        }
      }
      const view = await resolveAbnormal(client, no, request, scope);
      const masked = f.bankAccount ? ` card ****${f.bankAccount.slice(-4)}` : '';
      out(`abnormal refund ${no} handed to WeChat (${f.type}${masked}${protection}); now ${view.state}`);
      return 0;
    }
    case 'retry-now': {
      const [no, flags] = positional(rest, 'out_refund_no');
      const f = parseFlags(
        flags,
        { operator: { type: 'string' }, note: { type: 'string' }, ...MERCHANT_OPTIONS },
        z.object({ operator: z.string().optional(), note: z.string().optional(), ...merchantFlags }),
      );
      const r = await retryNow(client, no, { operator: f.operator, note: f.note }, scopeOfFlags(f, merchants));
      out(`retry-now on ${no}: ${r.action} (state ${r.state})`);
      return 0;
    }
    case 'order': {
      const [no, flags] = positional(rest, 'out_trade_no');
      const f = parseFlags(
        flags,
        { ...MERCHANT_OPTIONS, json: { type: 'boolean' } },
        z.object({ ...merchantFlags, json: z.boolean().optional() }),
      );
      const ledger = await orderLedger(client, no, scopeOfFlags(f, merchants));
      if (f.json) out(JSON.stringify(ledger, null, 2));
      else {
        out(
          `order ${ledger.outTradeNo}: paid ${formatFen(ledger.paidTotalFen)} CNY at ${ledger.paidAt}; refunds until ${ledger.refundDeadline}`,
        );
        out(`  ${JSON.stringify(ledger.money)}`);
        for (const e of ledger.refunds)
          out(
            `  ${e.outRefundNo.padEnd(28)} ${e.status.padEnd(14)} ${formatFen(e.amountFen).padStart(12)}  ${e.lastChangeAt}`,
          );
        if (ledger.queue.length) out(`  queued: ${ledger.queue.join(', ')}`);
      }
      return 0;
    }
    case 'reconcile': {
      const f = parseFlags(
        rest,
        { date: { type: 'string' }, 'task-queue': { type: 'string' }, json: { type: 'boolean' }, ...MERCHANT_OPTIONS },
        z.object({
          date: z
            .string({ error: 'is required (YYYY-MM-DD, a Beijing-time day)' })
            .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'),
          taskQueue: z.string().min(1).optional(),
          json: z.boolean().optional(),
          ...merchantFlags,
        }),
      );
      const merchant = f.mchid ?? merchants().defaultMchid;
      if (merchant === undefined) throw new UsageError('--mchid: required (the deployment has no default merchant)');
      scopeOfFlags({ mchid: merchant, subMchid: f.subMchid }, merchants); // a merchant it does not serve: UsageError
      const result = await reconcileNow(client, {
        mchid: merchant,
        ...(f.subMchid ? { subMchid: f.subMchid } : {}),
        billDate: f.date,
        taskQueue: f.taskQueue ?? process.env.WXREFUND_TASK_QUEUE ?? loadStackConfig().worker.taskQueue,
      });
      if (f.json) out(JSON.stringify(result, null, 2));
      else out(readSummary(result));
      return result.counts.unresolved > 0 ? 2 : 0;
    }
    case undefined:
    case 'help':
    case '--help':
      out(USAGE);
      return command === undefined ? 64 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

if (require.main === module) {
  (async () => {
    // Before connecting: without WXREFUND_PAYLOAD_KEYS (or the local stack's key file) it refuses, naming it.
    const { dataConverter, description } = programPayloadEncryption();
    if (isEncryptionWarning(description)) console.error(description);
    const { connection, namespace } = await connectClient();
    try {
      return await run(process.argv.slice(2), new Client({ connection, namespace, dataConverter }));
    } finally {
      await connection.close();
    }
  })().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) console.error(`${err.message}\n\n${USAGE}`);
      else if (err instanceof WorkflowUpdateFailedError) console.error(`refused: ${err.cause?.message ?? err.message}`);
      else if (err instanceof WorkflowNotFoundError) console.error(`not found: ${err.message}`);
      else console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof UsageError ? 64 : 1);
    },
  );
}
