/**
 * The Refund-Signature scheme order services verify: Stripe's `t=<seconds>,v1=<hex HMAC-SHA256>` over "<t>.<body>".
 * What a receiver relies on: a genuine event verifies, and a changed body, another secret, an old timestamp or a
 * broken header do not.
 */
import { signatureHeader, verifyEventSignature } from '../../../src/events/signature';

const SECRET = 'whsec_test_secret_0123456789';
const BODY = '{"id":"refund-R1:event-1"}';
const T = 1_700_000_000;

describe('signatureHeader', () => {
  it('is HMAC-SHA256 of "<t>.<body>" in hex, as openssl computes it', () => {
    // printf '%s' '1700000000.{"id":"refund-R1:event-1"}' | openssl dgst -sha256 -hmac 'whsec_test_secret_0123456789'
    expect(signatureHeader(SECRET, BODY, T)).toBe(
      't=1700000000,v1=46df2dc6fdc19d6a27f29ea1d418e83531404c47b47bf3ba793a2c3a68e91177',
    );
  });

  it('refuses a timestamp that is not whole unix seconds', () => {
    expect(() => signatureHeader(SECRET, BODY, 1.5)).toThrow(RangeError);
  });
});

describe('verifyEventSignature', () => {
  const header = signatureHeader(SECRET, BODY, T);

  it('accepts the event as sent (string or bytes) and returns its timestamp', () => {
    expect(verifyEventSignature(header, BODY, [SECRET], { nowSec: T + 10 })).toEqual({ ok: true, timestampSec: T });
    expect(verifyEventSignature(header, Buffer.from(BODY), [SECRET], { nowSec: T })).toEqual({
      ok: true,
      timestampSec: T,
    });
  });

  it('refuses a body changed by one character, or re-serialised', () => {
    expect(verifyEventSignature(header, BODY.replace('R1', 'R2'), [SECRET], { nowSec: T })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no v1 signature matches/),
    });
    expect(verifyEventSignature(header, `${BODY}\n`, [SECRET], { nowSec: T }).ok).toBe(false);
  });

  it('refuses another secret, and a timestamp changed after signing', () => {
    expect(verifyEventSignature(header, BODY, ['another-secret-0123456789'], { nowSec: T }).ok).toBe(false);
    const moved = header.replace(`t=${T}`, `t=${T + 1}`);
    expect(verifyEventSignature(moved, BODY, [SECRET], { nowSec: T }).ok).toBe(false);
  });

  it('during a rotation: any configured secret, and any v1 entry of the header, may match', () => {
    const oldSecret = 'old-secret-0123456789abcdef';
    const newSecret = 'new-secret-0123456789abcdef';
    const byNew = signatureHeader(newSecret, BODY, T);
    expect(verifyEventSignature(byNew, BODY, [oldSecret, newSecret], { nowSec: T }).ok).toBe(true);
    expect(verifyEventSignature(byNew, BODY, [oldSecret], { nowSec: T }).ok).toBe(false);
    // A sender signing with both while receivers move over: `t=…,v1=<new>,v1=<old>`.
    const both = `${byNew},v1=${signatureHeader(oldSecret, BODY, T).split('v1=')[1]}`;
    expect(verifyEventSignature(both, BODY, [oldSecret], { nowSec: T }).ok).toBe(true);
    expect(verifyEventSignature(both, BODY, [newSecret], { nowSec: T }).ok).toBe(true);
  });

  it('refuses a timestamp outside the tolerance, either way (a replayed capture)', () => {
    expect(verifyEventSignature(header, BODY, [SECRET], { nowSec: T + 300 }).ok).toBe(true);
    expect(verifyEventSignature(header, BODY, [SECRET], { nowSec: T + 301 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/more than 300 s from now/),
    });
    expect(verifyEventSignature(header, BODY, [SECRET], { nowSec: T - 301 }).ok).toBe(false);
    expect(verifyEventSignature(header, BODY, [SECRET], { nowSec: T + 3_000, toleranceSec: 3_600 }).ok).toBe(true);
  });

  it.each([
    [undefined, /no Refund-Signature header/],
    ['', /no Refund-Signature header/],
    ['garbage', /malformed/],
    [`v1=${'a'.repeat(64)}`, /has no t/],
    [`t=${T}`, /no v1 signature/],
    [`t=${T},v1=xyz`, /no v1 signature/],
    [`t=${T},v1=${'A'.repeat(64)}`, /no v1 signature/],
    [`t=soon,v1=${'a'.repeat(64)}`, /t is not unix seconds/],
    [`t=${T},t=${T},v1=${'a'.repeat(64)}`, /more than one t/],
  ])('refuses the malformed header %p', (h, reason) => {
    expect(verifyEventSignature(h, BODY, [SECRET], { nowSec: T })).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  it('accepts nothing without a secret', () => {
    expect(verifyEventSignature(header, BODY, [], { nowSec: T }).ok).toBe(false);
  });

  it('ignores other schemes in the header (v0), as Stripe libraries do', () => {
    expect(verifyEventSignature(`${header},v0=${'0'.repeat(64)}`, BODY, [SECRET], { nowSec: T }).ok).toBe(true);
  });
});
