import type { Cipher } from './cipher.js';

/**
 * The two letter-substitution ciphers. Only the ASCII letters A-Z and a-z change (case kept); digits,
 * punctuation, spaces and every other character pass through, so encode and decode are exact inverses on any
 * string.
 */

function mapLetters(text: string, map: (index: number) => number): string {
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c >= 65 && c <= 90) out += String.fromCharCode(65 + map(c - 65));
    else if (c >= 97 && c <= 122) out += String.fromCharCode(97 + map(c - 97));
    else out += ch;
  }
  return out;
}

const mod26 = (n: number): number => ((n % 26) + 26) % 26;

/** Caesar: every letter moves `shift` places along the alphabet (wrapping round); any integer shift works. */
export function caesarCipher(shift = 3): Cipher {
  const k = mod26(shift);
  const encode = (text: string): string => mapLetters(text, (i) => mod26(i + k));
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return {
    name: 'caesar',
    title: 'Caesar Cipher',
    describe:
      `The Caesar Cipher replaces every letter by the letter ${shift} places further along the alphabet, ` +
      `wrapping round from Z back to A; upper and lower case stay as they are, and digits, spaces and ` +
      `punctuation are not changed. With a shift of ${shift}:\n` +
      `- Plain:  ${alphabet}\n- Cipher: ${encode(alphabet)}\n` +
      `So "Hello world" is written "${encode('Hello world')}". To read a message, move every letter ${shift} ` +
      `places back.`,
    encode,
    decode: (text) => mapLetters(text, (i) => mod26(i - k)),
  };
}

/** Atbash: the alphabet reversed (A↔Z, B↔Y, ...); its own inverse. */
export function atbashCipher(): Cipher {
  const encode = (text: string): string => mapLetters(text, (i) => 25 - i);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return {
    name: 'atbash',
    title: 'Atbash Cipher',
    describe:
      'The Atbash Cipher reverses the alphabet: A is written Z, B is written Y, C is written X, and so on to ' +
      'Z, which is written A. Case is kept; digits, spaces and punctuation are not changed.\n' +
      `- Plain:  ${alphabet}\n- Cipher: ${encode(alphabet)}\n` +
      `So "Hello world" is written "${encode('Hello world')}". Applying the same substitution again reads it.`,
    encode,
    decode: encode,
  };
}
