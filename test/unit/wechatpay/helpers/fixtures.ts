import { readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'wechatpay');

export function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

export function fixtureBytes(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}
