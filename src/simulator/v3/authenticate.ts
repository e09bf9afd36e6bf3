/**
 * §3.2 / §8.3 step 3: who signed this request. The Authorization header must be readable, name a known merchant,
 * carry a timestamp within the tolerance of the REAL clock, and be signed by the merchant API certificate its
 * serial_no names. Every refusal is 401 SIGN_ERROR. The signature check itself is the shared RSA-SHA256 primitive
 * over the v3 message string (pinned by published test vectors); reading the header is the simulator's own.
 */
import type { FastifyRequest } from 'fastify';
import { verifyV3RequestSignature } from '../../wechatpay/v3/sign';
import type { SimulatorCore } from '../core';
import type { SimMerchant } from '../model';
import { readAuthorization, UnreadableAuthorization } from '../wire/v3-authorization';
import { failure, type Failure } from './outcome';

const signError = (message: string) => failure(401, 'SIGN_ERROR', message);

export function authenticate(
  core: SimulatorCore,
  req: FastifyRequest,
  body: Buffer,
): { caller: SimMerchant } | Failure {
  const tolerance = core.config.rules.authTimestampToleranceSeconds;
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.length === 0) return signError('the Authorization header is missing');
  let auth;
  try {
    auth = readAuthorization(header);
  } catch (e) {
    if (e instanceof UnreadableAuthorization) return signError(e.message);
    throw e;
  }
  const caller = core.store.merchant(auth.mchid);
  if (!caller) return signError(`mchid ${auth.mchid} is not a known merchant`);
  const ts = /^\d{1,12}$/.test(auth.timestamp) ? Number(auth.timestamp) : NaN;
  const skew = Math.abs(Math.floor(Date.now() / 1000) - ts);
  if (!(skew <= tolerance)) return signError(`timestamp ${auth.timestamp} is more than ${tolerance} s from now`);
  // Serials are hex: compared upper-case and without leading zeros.
  const serial = auth.serialNo.toUpperCase().replace(/^0+(?=.)/, '');
  const cert = caller.certificates.find((c) => c.serialNo === serial);
  if (!cert) return signError(`serial_no ${auth.serialNo} is not an API certificate of merchant ${caller.mchid}`);
  const valid = verifyV3RequestSignature({
    method: req.method,
    // The request-target exactly as sent: the signature covers the encoded path and query (§3.2).
    url: req.raw.url ?? req.url,
    body,
    timestamp: auth.timestamp,
    nonce: auth.nonceStr,
    signature: auth.signature,
    publicKey: cert.publicKeyPem,
  });
  if (!valid) return signError('signature verification failed');
  return { caller };
}
