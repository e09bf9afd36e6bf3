/**
 * Which merchant a request names (src/api/merchant-choice.ts): the API's 422s and the CLIs' usage errors come from
 * here, and so do the workflow IDs' scopes, so naming the default merchant must be the same as naming none.
 */
import { chooseMerchant, merchantRoster, MerchantChoiceError } from '../../../src/api/merchant-choice';

const DEFAULT = '1900000109';
const V2 = '1900000110';
const PROVIDER = '1900000100';
const SUB = '1900000201';

const deployment = merchantRoster({
  defaultMchid: DEFAULT,
  merchants: [
    { mchid: DEFAULT, mode: 'direct' },
    { mchid: V2, mode: 'direct' },
    { mchid: PROVIDER, mode: 'partner', subMchids: [SUB] },
  ],
});

function refusal(run: () => unknown): { param: string; message: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof MerchantChoiceError) return { param: err.param, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

describe('chooseMerchant', () => {
  test('naming the default merchant is naming none: the same scope, the same merchant', () => {
    const named = chooseMerchant(deployment, { mchid: DEFAULT });
    const unnamed = chooseMerchant(deployment, {});
    expect(named).toEqual(unnamed);
    expect(named).toEqual({ mchid: DEFAULT, scope: {}, defaultMchid: DEFAULT });
  });

  test('another merchant is named in the scope, with its sub-merchant', () => {
    expect(chooseMerchant(deployment, { mchid: V2 }).scope).toEqual({ mchid: V2 });
    expect(chooseMerchant(deployment, { mchid: PROVIDER, subMchid: SUB })).toEqual({
      mchid: PROVIDER,
      subMchid: SUB,
      scope: { mchid: PROVIDER, subMchid: SUB },
      defaultMchid: DEFAULT,
    });
  });

  test('an mchid the deployment does not serve names mchid, and no other merchant', () => {
    expect(refusal(() => chooseMerchant(deployment, { mchid: '123' }))).toEqual({
      param: 'mchid',
      message: 'no merchant 123 in this deployment',
    });
  });

  test('a sub_mchid of a direct merchant (the default included) names sub_mchid', () => {
    expect(refusal(() => chooseMerchant(deployment, { mchid: V2, subMchid: SUB }))).toMatchObject({
      param: 'sub_mchid',
      message: expect.stringContaining(`merchant ${V2} is a direct merchant`),
    });
    expect(refusal(() => chooseMerchant(deployment, { subMchid: SUB })).param).toBe('sub_mchid');
  });

  test("a sub_mchid outside a partner's listed sub-merchants names sub_mchid; unlisted means any", () => {
    expect(refusal(() => chooseMerchant(deployment, { mchid: PROVIDER, subMchid: '1900000999' }))).toMatchObject({
      param: 'sub_mchid',
      message: expect.stringContaining(`sub-merchant 1900000999 is not one of service provider ${PROVIDER}`),
    });
    const anySub = merchantRoster({
      defaultMchid: DEFAULT,
      merchants: [
        { mchid: DEFAULT, mode: 'direct' },
        { mchid: PROVIDER, mode: 'partner' },
      ],
    });
    expect(chooseMerchant(anySub, { mchid: PROVIDER, subMchid: '1900000999' }).scope).toEqual({
      mchid: PROVIDER,
      subMchid: '1900000999',
    });
  });

  test('several merchants and no default: mchid is required', () => {
    const noDefault = merchantRoster({
      merchants: [
        { mchid: DEFAULT, mode: 'direct' },
        { mchid: V2, mode: 'direct' },
      ],
    });
    expect(refusal(() => chooseMerchant(noDefault, {}))).toEqual({
      param: 'mchid',
      message: 'mchid is required: this deployment serves several merchants and none is the default',
    });
    // Without a default, every merchant is named in its IDs.
    expect(chooseMerchant(noDefault, { mchid: DEFAULT }).scope).toEqual({ mchid: DEFAULT });
  });

  test('the only merchant is the default when none is marked', () => {
    const one = merchantRoster({ merchants: [{ mchid: V2, mode: 'direct' }] });
    expect(chooseMerchant(one, { mchid: V2 })).toEqual(chooseMerchant(one, {}));
    expect(chooseMerchant(one, {}).scope).toEqual({});
  });
});
