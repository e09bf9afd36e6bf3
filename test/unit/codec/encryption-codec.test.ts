import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
  decodeUserMetadata,
  encodeErrorToFailure,
  encodeToPayloads,
  encodeUserMetadata,
  loadDataConverter,
} from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import fc from 'fast-check';
import { payloadDataConverter } from '../../../src/codec/data-converter';
import {
  CIPHER_NAME,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  METADATA_CIPHER,
  METADATA_KEY_ID,
  PayloadDecryptionError,
} from '../../../src/codec/encryption-codec';
import { PayloadKeyRing } from '../../../src/codec/payload-keys';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const ring = (...entries: Array<[string, Buffer]>) => new PayloadKeyRing(new Map(entries), 'WXREFUND_PAYLOAD_KEYS');

/** What a refund's workflow input and WeChat's answer put into a history. */
const refund = {
  outTradeNo: 'T20261203000123',
  outRefundNo: 'R20261203000456',
  amountFen: 2_468,
  reason: '商品退货',
  userReceivedAccount: '招商银行信用卡0403',
};

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const jsonPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value)!;
/** Everything the Temporal server would store for a payload: its serialised proto, metadata included. */
const stored = (p: Payload) => Buffer.from(temporal.api.common.v1.Payload.encode(p).finish());

async function expectDecryptionError(
  promise: Promise<unknown>,
  problem: PayloadDecryptionError['problem'],
  message: RegExp,
): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayloadDecryptionError);
  expect((err as PayloadDecryptionError).problem).toBe(problem);
  expect((err as Error).message).toMatch(message);
}

describe('EncryptionCodec', () => {
  it("round-trips values through the SDK's data converter, storing only ciphertext marked binary/encrypted", async () => {
    const converter = loadDataConverter(payloadDataConverter(ring(['A', keyA])));
    const values = [refund, '招商银行信用卡0403', 2_468, null, [1, 2, 3], { nested: { deep: ['退款'] } }];
    const payloads = (await encodeToPayloads(converter, ...values))!;
    expect(payloads).toHaveLength(values.length);
    for (const p of payloads) {
      expect(text(p.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata![METADATA_KEY_ID])).toBe('A');
      expect(text(p.metadata![METADATA_CIPHER])).toBe(CIPHER_NAME);
      expect(Object.keys(p.metadata!).sort()).toEqual([METADATA_CIPHER, METADATA_KEY_ID, METADATA_ENCODING_KEY].sort());
    }
    for (let i = 0; i < values.length; i++) {
      expect(await decodeFromPayloadsAtIndex(converter, i, payloads)).toEqual(values[i]);
    }
  });

  it('keeps the inner payload whole: its own metadata (encoding, message type) comes back as it was', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    const inner: Payload = {
      metadata: { encoding: Buffer.from('binary/protobuf'), messageType: Buffer.from('temporal.api.x.v1.Y') },
      data: randomBytes(100),
    };
    const [back] = await codec.decode(await codec.encode([inner]));
    expect(text(back.metadata!.encoding)).toBe('binary/protobuf');
    expect(text(back.metadata!.messageType)).toBe('temporal.api.x.v1.Y');
    expect(Buffer.from(back.data!)).toEqual(inner.data);
  });

  it('stores no amount, order number, reason or account text in clear', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    const plain = jsonPayload(refund);
    // The clear payload does hold them: the check below could fail.
    expect(text(plain.data)).toContain('招商银行信用卡0403');
    const [encrypted] = await codec.encode([plain]);
    const bytes = stored(encrypted);
    for (const secret of [
      '招商银行信用卡0403',
      '0403',
      '商品退货',
      'T20261203000123',
      'R20261203000456',
      '2468',
      'json/plain',
    ]) {
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
    }
  });

  it('uses a fresh nonce for every payload: the same payload twice gives different bytes', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    const p = jsonPayload(refund);
    const [one, two] = await codec.encode([p, p]);
    expect(Buffer.from(one.data!).equals(Buffer.from(two.data!))).toBe(false);
    expect(Buffer.from(one.data!.subarray(0, 12)).equals(Buffer.from(two.data!.subarray(0, 12)))).toBe(false);
    const nonces = new Set<string>();
    for (const e of await codec.encode(Array.from({ length: 500 }, () => p))) {
      nonces.add(Buffer.from(e.data!.subarray(0, 12)).toString('hex'));
    }
    expect(nonces.size).toBe(500);
  });

  it('round-trips any JSON value (property)', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const [back] = await codec.decode(await codec.encode([jsonPayload(value)]));
        expect(defaultPayloadConverter.fromPayload(back)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 200 },
    );
  });

  it('rotation: encrypted under A, decodes with ring [B, A]; new payloads use B; A alone no longer reads them', async () => {
    const before = new EncryptionCodec(ring(['A', keyA]));
    const after = new EncryptionCodec(ring(['B', keyB], ['A', keyA]));
    const [underA] = await before.encode([jsonPayload(refund)]);
    const [back] = await after.decode([underA]);
    expect(defaultPayloadConverter.fromPayload(back)).toEqual(refund);

    const [underB] = await after.encode([jsonPayload(refund)]);
    expect(text(underB.metadata![METADATA_KEY_ID])).toBe('B');
    await expectDecryptionError(before.decode([underB]), 'missing-key', /key 'B'/);
  });

  it("fails when the payload's key is not configured, naming the key id and where keys are configured", async () => {
    const [underA] = await new EncryptionCodec(ring(['A', keyA])).encode([jsonPayload(refund)]);
    const codec = new EncryptionCodec(ring(['B', keyB]));
    await expectDecryptionError(
      codec.decode([underA]),
      'missing-key',
      /encrypted with key 'A', which is not configured: add it to WXREFUND_PAYLOAD_KEYS \(configured: B\)/,
    );
  });

  it('fails loudly on any flipped bit of nonce, ciphertext or tag, naming the key id', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    const [encrypted] = await codec.encode([jsonPayload(refund)]);
    const data = Buffer.from(encrypted.data!);
    for (let i = 0; i < data.length; i++) {
      const bad = Buffer.from(data);
      bad[i] ^= 0x80;
      await expectDecryptionError(
        codec.decode([{ ...encrypted, data: bad }]),
        'tampered',
        /key 'A' failed authentication/,
      );
    }
  });

  it('fails when the metadata is relabelled to another configured key (the key id is authenticated)', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA], ['B', keyB]));
    const [encrypted] = await codec.encode([jsonPayload(refund)]);
    const relabelled = { ...encrypted, metadata: { ...encrypted.metadata, [METADATA_KEY_ID]: Buffer.from('B') } };
    await expectDecryptionError(codec.decode([relabelled]), 'tampered', /key 'B' failed authentication/);
    // The same key under another id: the ciphertext is bound to the id it was written under.
    const sameKeyOtherId = new EncryptionCodec(ring(['A', keyA], ['A2', keyA]));
    const moved = { ...encrypted, metadata: { ...encrypted.metadata, [METADATA_KEY_ID]: Buffer.from('A2') } };
    await expectDecryptionError(sameKeyOtherId.decode([moved]), 'tampered', /key 'A2'/);
  });

  it('fails on a truncated payload, a missing key id and an unknown cipher', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    const [encrypted] = await codec.encode([jsonPayload(refund)]);
    await expectDecryptionError(
      codec.decode([{ ...encrypted, data: encrypted.data!.subarray(0, 27) }]),
      'tampered',
      /truncated/,
    );
    const { [METADATA_KEY_ID]: _dropped, ...noKeyId } = encrypted.metadata!;
    await expectDecryptionError(
      codec.decode([{ ...encrypted, metadata: noKeyId }]),
      'malformed',
      /no encryption-key-id/,
    );
    const otherCipher = { ...encrypted.metadata, [METADATA_CIPHER]: Buffer.from('AES-128-CBC') };
    await expectDecryptionError(codec.decode([{ ...encrypted, metadata: otherCipher }]), 'malformed', /AES-128-CBC/);
  });

  it('passes payloads written before encryption through unchanged (old histories replay and read)', async () => {
    const codec = new EncryptionCodec(ring(['A', keyA]));
    const old = [
      jsonPayload(refund),
      defaultPayloadConverter.toPayload(undefined)!, // binary/null
      defaultPayloadConverter.toPayload(new Uint8Array([1, 2, 3]))!, // binary/plain
      { data: Buffer.from('no metadata at all') },
      {},
    ];
    const decoded = await codec.decode(old);
    decoded.forEach((p, i) => expect(p).toBe(old[i]));
    expect(defaultPayloadConverter.fromPayload(decoded[0])).toEqual(refund);
  });

  it('encrypts failure messages and stack traces: the history reads "Encoded failure", the client the original', async () => {
    const converter = loadDataConverter(payloadDataConverter(ring(['A', keyA])));
    const error = ApplicationFailure.create({
      message: 'refund R20261203000456 of order T20261203000123 exceeds the refundable ¥24.68',
      type: 'RefundRuleM4',
      details: [{ account: '招商银行信用卡0403' }],
    });
    const failure = await encodeErrorToFailure(converter, error);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    const storedFailure = Buffer.from(temporal.api.failure.v1.Failure.encode(failure).finish());
    for (const secret of ['R20261203000456', 'T20261203000123', '24.68', '招商银行信用卡0403']) {
      expect(storedFailure.includes(Buffer.from(secret))).toBe(false);
    }
    const back = (await decodeOptionalFailureToOptionalError(converter, failure)) as ApplicationFailure;
    expect(back.message).toBe(error.message);
    expect(back.type).toBe('RefundRuleM4');
    expect(back.details).toEqual([{ account: '招商银行信用卡0403' }]);
  });

  it('leaves failure messages in clear when asked (the codec still encrypts the details)', async () => {
    const converter = loadDataConverter(payloadDataConverter(ring(['A', keyA]), { encryptFailureMessages: false }));
    const failure = await encodeErrorToFailure(
      converter,
      ApplicationFailure.create({ message: 'visible', details: [1] }),
    );
    expect(failure.message).toBe('visible');
    const detail = failure.applicationFailureInfo!.details!.payloads![0];
    expect(text(detail.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
  });

  it("encrypts user metadata (a workflow's static summary) like any payload", async () => {
    const converter = loadDataConverter(payloadDataConverter(ring(['A', keyA])));
    const summary = 'Refund 24.68 CNY of order T20261203000123 (R20261203000456)';
    const metadata = (await encodeUserMetadata(converter, summary, undefined))!;
    expect(text(metadata.summary!.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(stored(metadata.summary!).includes(Buffer.from('T20261203000123'))).toBe(false);
    expect((await decodeUserMetadata(converter, metadata)).staticSummary).toBe(summary);
  });

  it('decrypt-only (rollout step): writes payloads and failures in clear, still reads encrypted ones', async () => {
    const [underA] = await new EncryptionCodec(ring(['A', keyA])).encode([jsonPayload(refund)]);
    const decryptOnly = new PayloadKeyRing(new Map([['A', keyA]]), 'WXREFUND_PAYLOAD_KEYS', false);
    const converter = loadDataConverter(payloadDataConverter(decryptOnly));
    const [written] = (await encodeToPayloads(converter, refund))!;
    expect(text(written.metadata![METADATA_ENCODING_KEY])).toBe('json/plain');
    expect(await decodeFromPayloadsAtIndex(converter, 0, [underA])).toEqual(refund);
    const failure = await encodeErrorToFailure(converter, ApplicationFailure.create({ message: 'in clear' }));
    expect(failure.message).toBe('in clear');
  });

  it("without keys (encryption explicitly off) the SDK's defaults apply: payloads stay json/plain", async () => {
    expect(payloadDataConverter(undefined)).toEqual({});
    const converter = loadDataConverter(payloadDataConverter(undefined));
    const [p] = (await encodeToPayloads(converter, refund))!;
    expect(text(p.metadata![METADATA_ENCODING_KEY])).toBe('json/plain');
  });
});
