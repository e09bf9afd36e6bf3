/**
 * `npm run refund`: asks for one refund from the command line, through the order service's library (src/starter.ts).
 *
 *   npm run refund -- --out-trade-no T20261123001 --out-refund-no R20261123001 --amount-fen 2500 \
 *     [--paid-total-fen 10000] [--paid-at 2026-11-20T10:00:00+08:00] [--reason ...] [--transaction-id ...] [--wait]
 *     [--mchid 1900000110] [--sub-mchid ...]
 *
 * --mchid names the merchant (absent: the deployment's default), checked against the deployment's merchants
 * (src/merchants/program-registry.ts: WXREFUND_MERCHANTS or WECHATPAY_CONFIG in production, the stack file locally),
 * whose default merchant also decides the workflow IDs (domain/ids.ts), as for the API and the worker.
 *
 * Exit codes: 0 accepted (with --wait: ended SUCCESS), 3 ended otherwise, 64 bad flags, 75 undecided, 2 rejected or
 * failed. Without --task-queue the task queue is the local stack's (temporal-dev.yml or WXREFUND_STACK_CONFIG).
 * Payloads are encrypted as by every process (WXREFUND_PAYLOAD_KEYS, else the local stack's key file).
 */
import { Client } from '@temporalio/client';
import { z } from 'zod';
import { chooseMerchant, MerchantChoiceError, type MerchantRoster } from '../api/merchant-choice';
import { isEncryptionWarning } from '../codec/process-encryption';
import { programPayloadEncryption } from '../config/program-encryption';
import { loadStackConfig } from '../config/stack-config';
import { connectClient } from '../config/temporal-connection';
import { formatFen } from '../domain/money';
import { loadProgramRegistry } from '../merchants/program-registry';
import {
  awaitRefundOutcome,
  RefundRejected,
  RefundUndecided,
  requestRefund,
  type RefundStarterOptions,
  type RequestRefundParams,
} from '../starter';
import { fenFlag, parseFlags, UsageError } from './support/args';

const cliOptions = {
  'out-trade-no': { type: 'string' },
  'transaction-id': { type: 'string' },
  mchid: { type: 'string' },
  'sub-mchid': { type: 'string' },
  'paid-total-fen': { type: 'string' },
  'paid-at': { type: 'string' },
  'payer-bank-type': { type: 'string' },
  'out-refund-no': { type: 'string' },
  'amount-fen': { type: 'string' },
  reason: { type: 'string' },
  'requested-by': { type: 'string' },
  'task-queue': { type: 'string' },
  'decision-timeout-ms': { type: 'string' },
  wait: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const required = { error: 'is required' };
const merchantNumber = z.string().regex(/^[0-9]{1,32}$/, 'must be 1–32 digits');
const cliSchema = z.object({
  outTradeNo: z.string(required),
  transactionId: z.string().optional(),
  mchid: merchantNumber.optional(),
  subMchid: merchantNumber.optional(),
  paidTotalFen: fenFlag.optional(),
  paidAt: z.string().optional(),
  payerBankType: z.string().optional(),
  outRefundNo: z.string(required),
  amountFen: fenFlag,
  reason: z.string().optional(),
  requestedBy: z.string().optional(),
  taskQueue: z.string().optional(),
  decisionTimeoutMs: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be whole milliseconds')
    .positive('must be > 0 ms')
    .optional(),
  wait: z.boolean().optional(),
  help: z.boolean().optional(),
});

const USAGE = `Usage: npm run refund -- --out-trade-no <no> --out-refund-no <no> --amount-fen <fen> [--reason <text>]
                         [--paid-total-fen <fen>] [--paid-at <ISO time with offset>] [--transaction-id <id>]
                         [--mchid <id>] [--sub-mchid <id>] [--payer-bank-type <bank_type>] [--requested-by <who>]
                         [--decision-timeout-ms <ms>] [--wait]
The order's facts come from WeChat Pay; --paid-total-fen / --paid-at / --payer-bank-type / --transaction-id, when
given, must agree with them. --mchid names the merchant (default: the deployment's default merchant; required when
it serves several and none is the default); --sub-mchid the sub-merchant of a service provider.
Amounts are integer fen (1999 = ¥19.99). Temporal is reached through TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE /
TEMPORAL_API_KEY / TEMPORAL_TLS_* (default 127.0.0.1:7233, namespace default). Payloads are encrypted with
WXREFUND_PAYLOAD_KEYS (else the local stack's key file; WXREFUND_PAYLOAD_ENCRYPTION=off stores them in clear).`;

export type RefundFlags = z.infer<typeof cliSchema>;

export function parseRefundFlags(argv: string[]): RefundFlags {
  return parseFlags(argv, cliOptions, cliSchema);
}

/**
 * What the flags ask the library for, for the deployment's `merchants`: a merchant it does not serve (or none named
 * where several have no default) is a UsageError naming --mchid or --sub-mchid, before Temporal is asked.
 */
export function refundRequestOf(
  flags: RefundFlags,
  merchants: MerchantRoster,
): { defaultMchid?: string; params: RequestRefundParams } {
  let merchant;
  try {
    merchant = chooseMerchant(merchants, { mchid: flags.mchid, subMchid: flags.subMchid });
  } catch (err) {
    if (err instanceof MerchantChoiceError) throw new UsageError(`--${err.param.replace('_', '-')}: ${err.message}`);
    throw err;
  }
  return {
    defaultMchid: merchant.defaultMchid,
    params: {
      order: {
        outTradeNo: flags.outTradeNo,
        transactionId: flags.transactionId,
        mchid: merchant.mchid,
        subMchid: merchant.subMchid,
        paidTotalFen: flags.paidTotalFen,
        paidAt: flags.paidAt,
        payerBankType: flags.payerBankType,
      },
      refund: {
        outRefundNo: flags.outRefundNo,
        amountFen: flags.amountFen,
        reason: flags.reason,
        requestedBy: flags.requestedBy,
      },
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  const flags = parseRefundFlags(argv);
  const { defaultMchid, params } = refundRequestOf(flags, loadProgramRegistry(process.env).registry);
  const { dataConverter, description } = programPayloadEncryption();
  if (isEncryptionWarning(description)) console.error(description);
  const { connection, namespace } = await connectClient();
  try {
    const client = new Client({ connection, namespace, dataConverter });
    const taskQueue = flags.taskQueue ?? loadStackConfig().worker.taskQueue;
    const options: RefundStarterOptions = {
      client,
      taskQueue,
      decisionTimeoutMs: flags.decisionTimeoutMs,
      defaultMchid,
    };
    const receipt = await requestRefund(options, params);
    console.log(
      `accepted: refund ${receipt.outRefundNo} of ${formatFen(receipt.amountFen)} CNY on order ${receipt.outTradeNo}` +
        ` (workflow ${receipt.refundWorkflowId})`,
    );
    if (flags.wait) {
      const outcome = await awaitRefundOutcome(client, receipt);
      console.log(`${outcome.state}: ${JSON.stringify(outcome)}`);
      return outcome.state === 'SUCCESS' ? 0 : 3;
    }
    return 0;
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) console.error(`${err.message}\n\n${USAGE}`);
      else if (err instanceof RefundRejected) console.error(`rejected (${err.rule}): ${err.message}`);
      else if (err instanceof RefundUndecided) console.error(`undecided: ${err.message}`);
      else console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof UsageError ? 64 : err instanceof RefundUndecided ? 75 : 2);
    },
  );
}
