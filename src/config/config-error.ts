/**
 * A setting that cannot be used: its message names the file or environment variable and the key that holds it. Its
 * own module so that what reads one kind of configuration (a merchant file, the stack file) shares it without loading
 * the others' readers.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
