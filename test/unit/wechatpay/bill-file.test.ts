/** The shared bill-file writer (src/wechatpay/bill-file.ts): its refusals and what they leave on disk. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { peekBody, writeBillFile } from '../../../src/wechatpay/bill-file';
import { NeedsOperator } from '../../../src/wechatpay/errors';
import { billText, sha1Hex } from './helpers/bill-text';
import { thrown } from './helpers/gateway-calls';

const source = (data: Buffer, chunk = 1000) =>
  Readable.from(
    Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk)),
  );

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bill-file-'));
});

describe('writeBillFile', () => {
  it('decompresses a gzip stream that arrives in small chunks, gzip magic split across them', async () => {
    const text = billText(500);
    const written = await writeBillFile(await peekBody(source(gzipSync(text), 1), 2), {
      destFile: path.join(dir, 'nested', 'bill.csv'),
    });
    expect(written).toEqual({
      path: path.join(dir, 'nested', 'bill.csv'),
      sha1: sha1Hex(text),
      bytes: Buffer.byteLength(text),
    });
  });

  it('refuses a decompressed file over the size limit (a gzip bomb) and removes what it wrote', async () => {
    const e = await thrown(
      writeBillFile(await peekBody(source(gzipSync(Buffer.alloc(1_000_000))), 2), {
        destFile: path.join(dir, 'bomb.csv'),
        maxBytes: 100_000,
      }),
    );
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e).toMatchObject({ code: 'BILL_TOO_LARGE' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a destination that cannot be written is BILL_WRITE_FAILED for a human, naming the path', async () => {
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    const dest = path.join(dir, 'not-a-dir', 'bill.csv');
    const e = await thrown(writeBillFile(await peekBody(source(Buffer.from(billText(1))), 2), { destFile: dest }));
    expect(e).toBeInstanceOf(NeedsOperator);
    expect(e).toMatchObject({ code: 'BILL_WRITE_FAILED' });
    expect(e.message).toContain(dest);
  });
});
