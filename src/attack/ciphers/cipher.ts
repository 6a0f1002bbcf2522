/**
 * A reversible text encoding an attack can hide a goal in (CipherChat, Yuan et al. 2023). `encode` is exact;
 * `decode` is tolerant: a chunk it cannot read is kept as it is, never an exception, because it runs on model
 * answers that follow the cipher only loosely.
 */
export interface Cipher {
  /** Registry name, e.g. `caesar`. */
  readonly name: string;
  /** How a prompt names it, e.g. `Caesar Cipher`. */
  readonly title: string;
  /** What the cipher does, in a few sentences with a worked example (our wording), for the system prompt. */
  readonly describe: string;
  encode(text: string): string;
  decode(text: string): string;
}

/** Applies `fn` to each line, keeping the line breaks (`\n`; a `\r` before it is kept with the line). */
export function perLine(text: string, fn: (line: string) => string): string {
  return text.split('\n').map(fn).join('\n');
}
