/**
 * Build the error of a given class. Shared by the v3 and v2 error maps, which differ only in how they choose the
 * class (HTTP status and `code` for v3, `err_code` for v2).
 */
import { Final, NeedsOperator, RetrySame, Throttled, WechatPayError, WechatPayErrorDetails } from './errors';

const CLASSES = { RetrySame, Throttled, Final, NeedsOperator } as const;

/** The classes a WeChat answer can be mapped to (UnknownOutcome comes from transport failures, never from a code). */
export type MappedErrorClass = keyof typeof CLASSES;

export function errorOfClass(cls: MappedErrorClass, d: WechatPayErrorDetails): WechatPayError {
  return new CLASSES[cls](d);
}
