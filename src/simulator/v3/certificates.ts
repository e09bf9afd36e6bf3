/**
 * GET /v3/certificates (§3.4): the platform certificates, encrypted with the caller's APIv3 key. Signed with a
 * platform certificate, since a client bootstrapping from this list may know no other key.
 *
 * A merchant switched to public-key mode on its own (`signWith: publicKey` on the merchant) is refused with 403
 * NO_AUTH; when the whole simulator is in public-key mode the answer stays 404 RESOURCE_NOT_EXISTS (as observed for
 * merchants that never had certificates).
 */
import type { SimulatorCore } from '../core';
import { failure, type Handler } from './outcome';

export function certificates(core: SimulatorCore): Handler {
  return (_req, caller) => ({
    run: () => {
      if (caller.signWith === 'publicKey') {
        return failure(
          403,
          'NO_AUTH',
          `merchant ${caller.mchid} uses WeChat Pay public keys (PUB_KEY_ID_…): it has no platform certificates to download`,
        );
      }
      const text = core.signer.certificatesBody(caller.apiV3Key, core.signer.modeOf(caller));
      if (text === undefined) {
        return failure(
          404,
          'RESOURCE_NOT_EXISTS',
          'this merchant uses WeChat Pay public keys; no platform certificates',
        );
      }
      return { ok: true, body: JSON.parse(text) as Record<string, unknown>, signWithCertificate: true };
    },
  });
}
