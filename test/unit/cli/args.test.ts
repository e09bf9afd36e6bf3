import { z } from 'zod';
import { fenFlag, parseFlags, UsageError } from '../../../src/cli/args';

const options = { 'out-refund-no': { type: 'string' }, 'amount-fen': { type: 'string' } } as const;
const schema = z.object({ outRefundNo: z.string({ error: 'is required' }).min(1), amountFen: fenFlag });

describe('CLI flags', () => {
  it('parses kebab-case flags into a validated object', () => {
    expect(parseFlags(['--out-refund-no', 'R1', '--amount-fen', '1999'], options, schema)).toEqual({
      outRefundNo: 'R1',
      amountFen: 1999,
    });
  });

  it.each([['1.5'], ['-3'], ['0'], ['1e3'], ['abc'], ['99999999999999999999']])(
    'refuses amount %s, naming the flag and the rule',
    (amount) => {
      expect(() => parseFlags(['--out-refund-no', 'R1', `--amount-fen=${amount}`], options, schema)).toThrow(
        /--amount-fen: must be a positive integer number of fen/,
      );
    },
  );

  it('names a missing flag', () => {
    expect(() => parseFlags(['--amount-fen', '5'], options, schema)).toThrow(/--out-refund-no: is required/);
  });

  it('rejects unknown flags as a usage error', () => {
    expect(() => parseFlags(['--amount', '5'], options, schema)).toThrow(UsageError);
  });
});
