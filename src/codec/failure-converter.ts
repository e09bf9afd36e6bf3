/**
 * The failure converter of every process when payloads are encrypted (data-converter.ts names this file by path, as
 * the SDK requires: the worker also bundles it into the workflow sandbox, so it imports nothing but the SDK).
 *
 * Temporal's default converter writes a failure's message and stack trace into the history in clear; ours carry order
 * numbers, amounts and WeChat's error texts. `encodeCommonAttributes` moves both into `encodedAttributes`, a payload
 * that the payload codec encrypts like any other; the history then reads "Encoded failure" until the Web UI decodes
 * it through the codec server. Decoding needs no option: any default converter reads encodedAttributes when present,
 * and failures written before (in clear) read as before.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
