/**
 * `user_received_account` texts as WeChat shows them (§3.6): `{bank}{card type}{last 4}` for cards, fixed texts for
 * the user's balance and the merchant's accounts. Display only; clients must not parse them.
 */
const BANK_NAMES: Record<string, string> = {
  CMB: '招商银行',
  ICBC: '工商银行',
  CCB: '建设银行',
  ABC: '农业银行',
  BOC: '中国银行',
  COMM: '交通银行',
  PAB: '平安银行',
  SPDB: '浦发银行',
  CITIC: '中信银行',
  CEB: '光大银行',
  CMBC: '民生银行',
  CIB: '兴业银行',
  GDB: '广发银行',
  PSBC: '邮储银行',
  NBCB: '宁波银行',
};

export const USER_BALANCE_ACCOUNT = '支付用户零钱';
export const MERCHANT_SETTLEMENT_ACCOUNT = '商户结算银行账户';

/** `CMB_DEBIT` + `1234` → `招商银行借记卡1234`. */
export function cardAccountText(bankType: string, last4: string): string {
  const [bank, kind] = bankType.split('_');
  const name = BANK_NAMES[bank] ?? bank;
  const type = kind === 'CREDIT' ? '信用卡' : '借记卡';
  return `${name}${type}${last4}`;
}

export function isBalancePayment(bankType: string): boolean {
  return bankType === 'OTHERS';
}
