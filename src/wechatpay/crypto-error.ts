/**
 * A cryptographic operation on untrusted input failed (bad ciphertext, wrong key, tampered tag, bad padding).
 * Deliberately vague in its message: the exact reason is not shown to a potential attacker.
 */
export class DecryptionFailed extends Error {
  override readonly name = 'DecryptionFailed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
