/**
 * The one DataConverter of every process that talks to Temporal (worker, starter library, API, webhook, operator CLI,
 * tests): with a key ring, payloads are encrypted by EncryptionCodec and failure messages and stack traces are moved
 * into encrypted payloads (failure-converter.ts); without one (WXREFUND_PAYLOAD_ENCRYPTION=off), the SDK's defaults.
 * A decrypt-only ring reads encrypted payloads and writes everything in clear.
 *
 * Every process must use the same: a client without the codec cannot read what the worker wrote, and the other way
 * round. The worker also passes FAILURE_CONVERTER_PATH to bundleWorkflows (src/workflow-bundle.ts; the workflow sandbox
 * loads converters by path from its bundle), else failures thrown by workflow code stay in clear.
 */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec';
import type { PayloadKeyRing } from './payload-keys';

/** For `bundleWorkflows({ failureConverterPath })` (src/workflow-bundle.ts) and DataConverter.failureConverterPath. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export interface PayloadDataConverterOptions {
  /**
   * Encrypt failure messages and stack traces too (default true). Off only for a deployment whose operators must read
   * failure messages in a Web UI that has no codec server.
   */
  encryptFailureMessages?: boolean;
}

export function payloadDataConverter(
  keys: PayloadKeyRing | undefined,
  { encryptFailureMessages = true }: PayloadDataConverterOptions = {},
): DataConverter {
  if (!keys) return {};
  return {
    payloadCodecs: [new EncryptionCodec(keys)],
    // Decrypt-only writes in clear, failures included: processes not yet on the codec read everything it writes.
    ...(encryptFailureMessages && keys.encryptsNew ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
  };
}

/** One line for a process's start-up log: what it encrypts with, or the warning that it does not. */
export function describePayloadEncryption(keys: PayloadKeyRing | undefined): string {
  if (!keys) {
    return (
      'WARNING: payload encryption is OFF (WXREFUND_PAYLOAD_ENCRYPTION=off): amounts, order numbers, reasons and ' +
      "accounts are stored in Temporal's database in clear"
    );
  }
  if (!keys.encryptsNew) {
    return (
      `WARNING: payloads are DECRYPT-ONLY (WXREFUND_PAYLOAD_ENCRYPTION=decrypt-only): encrypted ones are read with ` +
      `keys ${keys.ids.join(', ')} from ${keys.source}, new ones are stored in clear`
    );
  }
  const others = keys.ids.length - 1;
  return (
    `payloads: encrypted (AES-256-GCM) with key ${keys.currentKeyId} from ${keys.source}` +
    (others > 0 ? `; ${others} older key${others > 1 ? 's' : ''} decrypt only` : '')
  );
}
