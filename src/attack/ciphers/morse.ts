import { perLine, type Cipher } from './cipher.js';

/**
 * International Morse code (ITU-R M.1677 letters, digits and punctuation, plus the common `!`, `_`, `$`).
 * Written form: the codes of a word's characters separated by one space, words separated by ` / `, lines kept
 * as lines. Lossy on purpose: letters are upper-cased (Morse has no case), and a character without a code
 * (accented letters, `%`, `#`, tabs...) is passed through as its own token, which decodes back unchanged.
 * Decoding also reads the CipherChat layout, where words are separated by two or more spaces.
 */

const TABLE: Record<string, string> = {
  A: '.-', B: '-...', C: '-.-.', D: '-..', E: '.', F: '..-.', G: '--.', H: '....', I: '..', J: '.---',
  K: '-.-', L: '.-..', M: '--', N: '-.', O: '---', P: '.--.', Q: '--.-', R: '.-.', S: '...', T: '-',
  U: '..-', V: '...-', W: '.--', X: '-..-', Y: '-.--', Z: '--..',
  '0': '-----', '1': '.----', '2': '..---', '3': '...--', '4': '....-',
  '5': '.....', '6': '-....', '7': '--...', '8': '---..', '9': '----.',
  '.': '.-.-.-', ',': '--..--', '?': '..--..', "'": '.----.', '!': '-.-.--', '/': '-..-.', '(': '-.--.',
  ')': '-.--.-', '&': '.-...', ':': '---...', ';': '-.-.-.', '=': '-...-', '+': '.-.-.', '-': '-....-',
  _: '..--.-', '"': '.-..-.', $: '...-..-', '@': '.--.-.',
}; // prettier-ignore

const REVERSE = new Map(Object.entries(TABLE).map(([ch, code]) => [code, ch]));

/** The characters Morse can carry (after upper-casing). */
export const MORSE_ALPHABET = Object.keys(TABLE).join('');

function encodeLine(line: string): string {
  return line
    .toUpperCase()
    .split(' ')
    .map((word) => Array.from(word, (ch) => TABLE[ch] ?? ch).join(' '))
    .join(' / ');
}

/** Word separators: a slash with any spaces round it, or a run of two or more spaces (CipherChat's layout). */
const WORD_BREAK = / *\/ *| {2,}/;

function decodeLine(line: string): string {
  return line
    .split(WORD_BREAK)
    .map((word) => {
      let out = '';
      let lastPlain = false;
      for (const token of word.split(' ').filter(Boolean)) {
        const ch = REVERSE.get(token);
        // A multi-character token that is not a code is plain text: keep it as a word of its own.
        const plain = ch === undefined && Array.from(token).length > 1;
        if ((plain || lastPlain) && out !== '') out += ' ';
        out += ch ?? token;
        lastPlain = plain;
      }
      return out;
    })
    .join(' ');
}

export function morseCipher(): Cipher {
  const table = Object.entries(TABLE)
    .map(([ch, code]) => `${ch} ${code}`)
    .join(', ');
  return {
    name: 'morse',
    title: 'Morse Code',
    describe:
      'In Morse Code every letter, digit and punctuation mark is a short sequence of dots (.) and dashes (-). ' +
      'The codes of the characters of a word are separated by one space, and words are separated by " / ". ' +
      `The code table: ${table}.\n` +
      `So "Hello world" is written "${encodeLine('Hello world')}".`,
    encode: (text) => perLine(text, encodeLine),
    decode: (text) => perLine(text, decodeLine),
  };
}
