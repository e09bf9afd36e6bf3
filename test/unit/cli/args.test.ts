import { z } from 'zod';
import { fenFlag, parseFlags, UsageError } from '../../../src/cli/support/args';

const options = {
  'out-refund-no': { type: 'string' },
  'amount-fen': { type: 'string', short: 'a' },
  wait: { type: 'boolean' },
} as const;
const schema = z.object({
  outRefundNo: z.string({ error: 'is required' }).min(1),
  amountFen: fenFlag,
  wait: z.boolean().optional(),
});

describe('CLI flags', () => {
  it('parses kebab-case flags into a validated object', () => {
    expect(parseFlags(['--out-refund-no', 'R1', '--amount-fen', '1999'], options, schema)).toEqual({
      outRefundNo: 'R1',
      amountFen: 1999,
    });
  });

  it.each([['1.5'], ['1e3'], ['abc'], ['0x10'], [''], ['99999999999999999999']])(
    'refuses amount %j, naming the flag and the rule',
    (amount) => {
      expect(() => parseFlags(['--out-refund-no', 'R1', `--amount-fen=${amount}`], options, schema)).toThrow(
        /--amount-fen: must be a positive integer number of fen/,
      );
    },
  );

  it.each([['0'], ['-0'], ['-3'], ['-99']])('refuses amount %s with the library rule for amounts', (amount) => {
    expect(() => parseFlags(['--out-refund-no', 'R1', `--amount-fen=${amount}`], options, schema)).toThrow(
      new UsageError('--amount-fen: must be greater than 0 fen'),
    );
  });

  it.each([[['--amount-fen', '-5']], [['--amount-fen', '-0']], [['-a', '-5']], [['--amount-fen', '-5', '--wait']]])(
    'reads a negative value given as a separate token (%j) and judges it by the rule',
    (amountArgs) => {
      expect(() => parseFlags(['--out-refund-no', 'R1', ...amountArgs], options, schema)).toThrow(
        new UsageError('--amount-fen: must be greater than 0 fen'),
      );
    },
  );

  it('refuses a negative decimal given as a separate token, naming the flag and the rule', () => {
    expect(() => parseFlags(['--out-refund-no', 'R1', '--amount-fen', '-1.5'], options, schema)).toThrow(
      /--amount-fen: must be a positive integer number of fen/,
    );
  });

  it('still refuses a dash-led non-number as a flag given where a value was expected', () => {
    const call = () => parseFlags(['--out-refund-no', 'R1', '--amount-fen', '-abc'], options, schema);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(/ambiguous/);
  });

  it('still refuses a flag given where a value was expected', () => {
    expect(() => parseFlags(['--amount-fen', '--out-refund-no', 'R1'], options, schema)).toThrow(/ambiguous/);
  });

  it('leaves the token after a boolean flag alone', () => {
    expect(() => parseFlags(['--out-refund-no', 'R1', '--amount-fen', '5', '--wait', '-5'], options, schema)).toThrow(
      /Unknown option '-5'/,
    );
  });

  it('names a missing flag', () => {
    expect(() => parseFlags(['--amount-fen', '5'], options, schema)).toThrow(/--out-refund-no: is required/);
  });

  it('rejects unknown flags as a usage error', () => {
    expect(() => parseFlags(['--amount', '5'], options, schema)).toThrow(UsageError);
  });
});
