/**
 * The bytes of a refund notification, exactly as WeChat builds them: v3 JSON with an AES-256-GCM encrypted resource
 * (§4.2–§4.4), or v2 XML with `req_info` (AES-256-ECB of a `<root>` document, §5.8). Encryption and XML come from the
 * protocol layer; nothing cryptographic is implemented here.
 */
import { buildV2Xml } from '../wechatpay/v2/xml';
import { encryptV2ReqInfo } from '../wechatpay/v2/req-info';
import { encryptV3Resource } from '../wechatpay/v3/aes-gcm';
import type { SimMerchant, SimOrder, SimRefund, TerminalOutcome } from './model';
import { rfc3339, v2Time } from './time-format';
import { generateNonce } from './wire/nonce';

const SUMMARY: Record<TerminalOutcome, string> = { SUCCESS: '退款成功', CLOSED: '退款关闭', ABNORMAL: '退款异常' };
const V2_STATUS: Record<TerminalOutcome, string> = { SUCCESS: 'SUCCESS', CLOSED: 'REFUNDCLOSE', ABNORMAL: 'CHANGE' };

/** The decrypted v3 resource (§4.4). */
export function v3NotificationResource(refund: SimRefund, status: TerminalOutcome): Record<string, unknown> {
  const partner = refund.subMchid !== undefined;
  return {
    ...(partner ? { sp_mchid: refund.mchid, sub_mchid: refund.subMchid } : { mchid: refund.mchid }),
    out_trade_no: refund.outTradeNo,
    transaction_id: refund.transactionId,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    refund_status: status,
    ...(status === 'SUCCESS' && refund.successAt !== undefined ? { success_time: rfc3339(refund.successAt) } : {}),
    user_received_account: refund.userReceivedAccount,
    amount: {
      total: refund.amount.total,
      refund: refund.amount.refund,
      payer_total: refund.amount.payerTotal,
      payer_refund: refund.amount.payerRefund,
    },
  };
}

/** v3 envelope; `undecryptable` flips a bit of the GCM tag (F11: signed, but the resource cannot be decrypted). */
export function v3NotificationBody(
  id: string,
  createdAt: number,
  refund: SimRefund,
  status: TerminalOutcome,
  apiV3Key: string,
  undecryptable = false,
): string {
  const nonce = generateNonce(12);
  const associatedData = 'refund';
  let ciphertext = encryptV3Resource({
    plaintext: JSON.stringify(v3NotificationResource(refund, status)),
    nonce,
    associatedData,
    apiV3Key,
  });
  if (undecryptable) {
    const bytes = Buffer.from(ciphertext, 'base64');
    bytes[bytes.length - 1] ^= 0x01;
    ciphertext = bytes.toString('base64');
  }
  return JSON.stringify({
    id,
    create_time: rfc3339(createdAt),
    resource_type: 'encrypt-resource',
    event_type: `REFUND.${status}`,
    summary: SUMMARY[status],
    resource: {
      original_type: 'refund',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext,
      associated_data: associatedData,
      nonce,
    },
  });
}

/** v2 notification XML (§5.8): unsigned outer XML, req_info encrypted with MD5(API v2 key). */
export function v2NotificationBody(
  refund: SimRefund,
  status: TerminalOutcome,
  merchant: SimMerchant,
  order: SimOrder | undefined,
): string {
  const inner = buildV2Xml(
    {
      transaction_id: refund.transactionId,
      out_trade_no: refund.outTradeNo,
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      total_fee: refund.amount.total,
      settlement_total_fee: refund.amount.settlementTotal,
      refund_fee: refund.amount.refund,
      settlement_refund_fee: refund.amount.settlementRefund,
      cash_refund_fee: refund.amount.payerRefund,
      refund_status: V2_STATUS[status],
      success_time: status === 'SUCCESS' && refund.successAt !== undefined ? v2Time(refund.successAt) : undefined,
      refund_recv_accout: refund.userReceivedAccount,
      refund_account: refund.apiVersion === 'v2' ? refund.fundsAccount : 'REFUND_SOURCE_UNSETTLED_FUNDS',
      refund_request_source: 'API',
    },
    'root',
  );
  return buildV2Xml({
    return_code: 'SUCCESS',
    appid: merchant.appid,
    mch_id: merchant.mchid,
    sub_appid: order?.subAppid,
    sub_mch_id: refund.subMchid,
    nonce_str: generateNonce(),
    req_info: encryptV2ReqInfo(inner, merchant.apiV2Key),
  });
}
