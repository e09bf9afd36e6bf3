/**
 * GET /v3/certificates (§3.4): the platform certificates, encrypted with the caller's APIv3 key. Signed with a
 * platform certificate, since a client bootstrapping from this list may know no other key.
 */
import type { SimulatorCore } from '../core';
import { failure, type Handler } from './outcome';

export function certificates(core: SimulatorCore): Handler {
  return (_req, caller) => ({
    run: () => {
      const text = core.signer.certificatesBody(caller.apiV3Key);
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
