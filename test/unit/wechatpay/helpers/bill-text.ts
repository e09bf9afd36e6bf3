/** A refund bill in WeChat's file layout (§12.3), for the download tests: they check bytes, not the parse. */
import { createHash } from 'node:crypto';

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
  '应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,' +
  '商品名称,商户数据包,手续费,费率';

/** `rows` detail rows of 0.01 yuan each, then the summary header and row. */
export function billText(rows: number, mchid = '1900000109'): string {
  const lines = [HEADER];
  for (let i = 1; i <= rows; i++) {
    const n = String(i).padStart(8, '0');
    lines.push(
      [
        '2026-11-30 10:00:00',
        'wxd678efh567hg6787',
        mchid,
        '0',
        '',
        `42000000012026113${n}`,
        `T${n}`,
        'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
        'JSAPI',
        'REFUND',
        'CMB_DEBIT',
        'CNY',
        '1.00',
        '0.00',
        '2026-11-30 10:00:01',
        '2026-11-30 10:00:05',
        `5030000012026113${n}`,
        `R${n}`,
        '0.01',
        '0.00',
        'ORIGINAL',
        'SUCCESS',
        'goods',
        '',
        '0.00',
        '0.60%',
      ]
        .map((f) => `\`${f}`)
        .join(','),
    );
  }
  lines.push('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
  const total = (rows / 100).toFixed(2);
  lines.push([String(rows), '0.00', total, '0.00', '0.00', '0.00', total].map((f) => `\`${f}`).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function sha1Hex(data: string | Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}
