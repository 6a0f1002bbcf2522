import type { Cipher } from './cipher.js';
import { caesarCipher, atbashCipher } from './substitution.js';
import { morseCipher } from './morse.js';
import { asciiCipher, unicodeCipher } from './codepoints.js';
import { base64Cipher } from './base64.js';

export type { Cipher } from './cipher.js';
export { decodeAnswer, languageScore } from './detect.js';

/**
 * Every cipher by name. `selfcipher` is CipherChat's "SelfCipher": no encoding at all, only the prompt that
 * claims one (the model is told it is an expert on "The Cipher Code").
 */
export const CIPHER_NAMES = [
  'selfcipher',
  'caesar',
  'atbash',
  'morse',
  'ascii',
  'unicode',
  'base64',
] as const;
export type CipherName = (typeof CIPHER_NAMES)[number];

export interface CipherOptions {
  /** Caesar shift (default 3, as CipherChat). */
  shift?: number;
}

function selfCipher(): Cipher {
  return {
    name: 'selfcipher',
    title: 'Cipher Code',
    describe: '',
    encode: (text) => text,
    decode: (text) => text,
  };
}

export function makeCipher(name: CipherName, options: CipherOptions = {}): Cipher {
  switch (name) {
    case 'selfcipher':
      return selfCipher();
    case 'caesar':
      return caesarCipher(options.shift ?? 3);
    case 'atbash':
      return atbashCipher();
    case 'morse':
      return morseCipher();
    case 'ascii':
      return asciiCipher();
    case 'unicode':
      return unicodeCipher();
    case 'base64':
      return base64Cipher();
  }
}
