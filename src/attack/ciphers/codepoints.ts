import { perLine, type Cipher } from './cipher.js';

/**
 * Code-point ciphers. Both keep line breaks as line breaks and encode every other character (spaces too), so
 * they round-trip any string, astral characters included.
 *   ascii    each character's decimal code point, separated by single spaces: `Hi!` → `72 105 33`
 *            (CipherChat's ASCII cipher; code points above 127 are written the same way);
 *   unicode  each code point as a `\uXXXX` escape, or `\UXXXXXXXX` (8 hex digits, Python's form) above U+FFFF:
 *            `Hi` → `\u0048\u0069`, `😀` → `\U0001F600`. Decoding also reads `\u{…}` and `U+XXXX`, and a UTF-16
 *            surrogate pair written as two `\u` escapes.
 * Decoding keeps anything that is not a code (plain words in a model's answer) as it is.
 */

const MAX_CODE_POINT = 0x10ffff;

function asciiDecodeLine(line: string): string {
  let out = '';
  let lastPlain = false;
  for (const token of line.split(/[ \t]+/).filter(Boolean)) {
    const n = /^\d{1,7}$/.test(token) ? Number(token) : NaN;
    const plain = !(n <= MAX_CODE_POINT);
    if ((plain || lastPlain) && out !== '') out += ' ';
    out += plain ? token : String.fromCodePoint(n);
    lastPlain = plain;
  }
  return out;
}

export function asciiCipher(): Cipher {
  const encode = (text: string): string =>
    perLine(text, (line) => Array.from(line, (ch) => String(ch.codePointAt(0))).join(' '));
  return {
    name: 'ascii',
    title: 'ASCII code',
    describe:
      'In ASCII code every character is written as its decimal character code, and the codes are separated ' +
      'by single spaces; a space is 32, "A" is 65, "a" is 97, "." is 46. A line break stays a line break.\n' +
      `So "Hello world" is written "${encode('Hello world')}".`,
    encode,
    decode: (text) => perLine(text.replace(/\r\n/g, '\n'), asciiDecodeLine),
  };
}

function escapeCodePoint(cp: number): string {
  return cp > 0xffff
    ? `\\U${cp.toString(16).toUpperCase().padStart(8, '0')}`
    : `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

const ESCAPE = /\\U([0-9a-fA-F]{8})|\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|U\+([0-9a-fA-F]{4,6})/g;

function unicodeDecode(text: string): string {
  return text.replace(ESCAPE, (whole, long?: string, braced?: string, short?: string, uplus?: string) => {
    const cp = parseInt((long ?? braced ?? short ?? uplus) as string, 16);
    return cp <= MAX_CODE_POINT ? String.fromCodePoint(cp) : whole;
  });
}

export function unicodeCipher(): Cipher {
  const encode = (text: string): string =>
    perLine(text, (line) => Array.from(line, (ch) => escapeCodePoint(ch.codePointAt(0) as number)).join(''));
  return {
    name: 'unicode',
    title: 'Unicode escapes',
    describe:
      'In Unicode escapes every character is written as a backslash, the letter u and its code point as four ' +
      'hexadecimal digits (a space is \\u0020, "A" is \\u0041); characters beyond U+FFFF use \\U and eight ' +
      'digits. The escapes follow each other with nothing in between, and a line break stays a line break.\n' +
      `So "Hello world" is written "${encode('Hello world')}".`,
    encode,
    decode: unicodeDecode,
  };
}
