/**
 * Payload encryption for one process, in one call: the key ring (payload-keys.ts), the DataConverter every Client and
 * Worker of the process is built with (data-converter.ts), and the line the process logs at start-up. Every program
 * that talks to Temporal uses it (worker, API, webhook, operator and refund CLIs, demo, codec server's siblings), and
 * so can an order service through the library (src/starter.ts re-exports it): it loads no stack file and no YAML.
 *
 * `devKeyFile` is given only by processes of the local stack (the stack file's `codec.devKeyFile`); without it, as in
 * production, WXREFUND_PAYLOAD_KEYS is required unless WXREFUND_PAYLOAD_ENCRYPTION=off. Throws the ConfigError of
 * loadPayloadKeys, which names the setting.
 */
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { describePayloadEncryption, payloadDataConverter } from './data-converter';
import { ENCRYPTED_ENCODING } from './encryption-codec';
import { loadPayloadKeys, type PayloadKeyRing } from './payload-keys';

export interface PayloadEncryption {
  /** undefined when WXREFUND_PAYLOAD_ENCRYPTION=off. */
  keys: PayloadKeyRing | undefined;
  /** For `new Client({ dataConverter })` and `Worker.create({ dataConverter })`. */
  dataConverter: DataConverter;
  /** One line for the start-up log; starts with WARNING when payloads go to Temporal in clear. */
  description: string;
}

export function payloadEncryption(opts: { env?: NodeJS.ProcessEnv; devKeyFile?: string } = {}): PayloadEncryption {
  const keys = loadPayloadKeys({ env: opts.env ?? process.env, devKeyFile: opts.devKeyFile });
  return { keys, dataConverter: payloadDataConverter(keys), description: describePayloadEncryption(keys) };
}

/** True when the description is the warning that payloads are (or new ones will be) stored in clear. */
export function isEncryptionWarning(description: string): boolean {
  return description.startsWith('WARNING');
}

/**
 * Whether what goes through these codecs (a Client's: `client.options.loadedDataConverter.payloadCodecs`) reaches
 * Temporal encrypted: a probe payload is encoded as the SDK does, first codec first. The answer of the codecs
 * themselves, so a caller holding only a Client (the operator CLI deciding whether bank details still need sealing)
 * cannot be told otherwise by a setting it did not see. False without codecs, and in decrypt-only mode.
 */
export async function encryptsNewPayloads(codecs: readonly PayloadCodec[] | undefined): Promise<boolean> {
  let probe: Payload[] = [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('null') }];
  for (const codec of codecs ?? []) probe = await codec.encode(probe);
  const encoding = probe[0]?.metadata?.encoding;
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString('utf8') === ENCRYPTED_ENCODING;
}
