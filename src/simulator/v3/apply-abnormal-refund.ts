/**
 * POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund (§3.8). For USER_BANK_CARD the bank fields are
 * RSA-OAEP ciphertext for the WeChat key named in Wechatpay-Serial (§3.5); they must decrypt before anything else.
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { SimulatorCore } from '../core';
import { abnormalRefundBody, abnormalRefundPath } from '../wire/v3-requests';
import { v3RefundObject } from '../wire/replies';
import { failure, paramError, parseJsonBody, type Failure, type Handler } from './outcome';

export function applyAbnormalRefund(core: SimulatorCore): Handler {
  return (req, caller, body) => {
    const params = req.params as { refundId: string };
    const path = abnormalRefundPath.safeParse({ refund_id: params.refundId });
    if (!path.success) return paramError(path.error, { refund_id: params.refundId }, 'url');
    const p = parseJsonBody(abnormalRefundBody, body);
    if (!('data' in p)) return p;
    const r = p.data;
    let bankAccount: string | undefined;
    if (r.type === 'USER_BANK_CARD') {
      const decrypted = decryptBankFields(core, req, r);
      if ('ok' in decrypted) return decrypted;
      bankAccount = decrypted.bankAccount;
    }
    return {
      outRefundNo: r.out_refund_no,
      run: () => {
        const refund = core.service.applyAbnormal(caller, r.sub_mchid, path.data.refund_id, r.out_refund_no, {
          type: r.type,
          bankType: r.bank_type,
          accountLast4: bankAccount?.slice(-4),
          at: core.clock.now(),
        });
        return { ok: true, body: v3RefundObject(refund) };
      },
    };
  };
}

/** bank_account (returned, for its last four digits) and real_name, decrypted with the key Wechatpay-Serial names. */
function decryptBankFields(
  core: SimulatorCore,
  req: FastifyRequest,
  r: z.output<typeof abnormalRefundBody>,
): { bankAccount: string } | Failure {
  const serialHeader = req.headers['wechatpay-serial'];
  const serial = typeof serialHeader === 'string' ? serialHeader : undefined;
  const key = core.signer.decryptionKey(serial);
  if (!key) {
    return failure(
      400,
      'PARAM_ERROR',
      'Wechatpay-Serial must name the WeChat key the bank fields were encrypted with',
      {
        field: 'Wechatpay-Serial',
        ...(serial ? { value: serial } : {}),
        issue: serial ? 'unknown WeChat key id' : 'is required with encrypted fields',
        location: 'header',
      },
    );
  }
  let bankAccount = '';
  for (const field of ['bank_account', 'real_name'] as const) {
    try {
      const plain = core.signer.decryptField(r[field] as string, key);
      if (field === 'bank_account') bankAccount = plain;
    } catch {
      return failure(400, 'PARAM_ERROR', `${field} cannot be decrypted with key ${serial}`, {
        field: `/${field}`,
        issue: `must be RSA-OAEP ciphertext for key ${serial}`,
        location: 'body',
      });
    }
  }
  return { bankAccount };
}
