import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CIPHER_NAMES,
  decodeAnswer,
  languageScore,
  makeCipher,
  type Cipher,
} from '../../src/attack/ciphers/index.js';
import { MORSE_ALPHABET } from '../../src/attack/ciphers/morse.js';

/** The cipher codecs: known vectors, exact round trips, tolerant decoding of model answers. */

const caesar = (shift = 3): Cipher => makeCipher('caesar', { shift });
const cipher = (name: (typeof CIPHER_NAMES)[number]): Cipher => makeCipher(name);

describe('known vectors', () => {
  it.each([
    ['caesar', 'abc xyz', 'def abc'],
    ['caesar', 'ABC XYZ, Hello!', 'DEF ABC, Khoor!'],
    ['atbash', 'Hello', 'Svool'],
    ['atbash', 'abc XYZ 123', 'zyx CBA 123'],
    ['morse', 'SOS', '... --- ...'],
    ['morse', 'Hello world', '.... . .-.. .-.. --- / .-- --- .-. .-.. -..'],
    ['morse', 'a b\nc', '.- / -...\n-.-.'],
    ['ascii', 'Hi!', '72 105 33'],
    ['ascii', 'é 😀\nA', '233 32 128512\n65'],
    ['unicode', 'Hi', '\\u0048\\u0069'],
    ['unicode', 'é😀', '\\u00E9\\U0001F600'],
    ['base64', 'Grüße, 世界 😀', 'R3LDvMOfZSwg5LiW55WMIPCfmIA='],
    ['selfcipher', 'How to x?', 'How to x?'],
  ] as const)('%s: %j → %j', (name, plain, encoded) => {
    const c = cipher(name);
    expect(c.encode(plain)).toBe(encoded);
    expect(c.decode(encoded)).toBe(name === 'morse' ? plain.toUpperCase() : plain);
  });

  it('caesar takes any shift: 13 is ROT13, -3 undoes 3, 29 is 3', () => {
    expect(caesar(13).encode('Hello')).toBe('Uryyb');
    expect(caesar(-3).encode('def abc')).toBe('abc xyz');
    expect(caesar(29).encode('abc')).toBe('def');
    expect(caesar(0).encode('abc')).toBe('abc');
  });

  it('descriptions carry a worked example made by the cipher itself', () => {
    expect(caesar(5).describe).toContain(`"${caesar(5).encode('Hello world')}"`);
    expect(caesar(5).describe).toContain('FGHIJKLMNOPQRSTUVWXYZABCDE');
    for (const name of CIPHER_NAMES.filter((n) => n !== 'selfcipher')) {
      expect(cipher(name).describe).toContain(cipher(name).encode('Hello world'));
    }
  });
});

describe('round trips', () => {
  // Any UTF-16 string, lone surrogates included: these ciphers are exact on everything.
  const anyString = fc.string({ unit: 'binary', maxLength: 60 });
  for (const name of ['caesar', 'atbash', 'ascii', 'unicode', 'selfcipher'] as const) {
    it(`${name}: decode(encode(s)) === s`, () => {
      fc.assert(fc.property(anyString, (s) => cipher(name).decode(cipher(name).encode(s)) === s));
    });
  }

  it('caesar round-trips with every shift', () => {
    fc.assert(
      fc.property(anyString, fc.integer({ min: -100, max: 100 }), (s, k) => {
        const c = caesar(k);
        return c.decode(c.encode(s)) === s && caesar(-k).encode(c.encode(s)) === s;
      }),
    );
  });

  it('base64 round-trips well-formed strings (a lone surrogate is not valid UTF-8)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const c = cipher('base64');
        return c.decode(c.encode(s)) === s;
      }),
    );
    expect(cipher('base64').decode(cipher('base64').encode('a\uD800b'))).toBe('a\uFFFDb');
  });

  it('morse round-trips its alphabet up to case; characters without a code pass through', () => {
    const chars = [...MORSE_ALPHABET, ...'abcxyz', ' ', ' ', '\n', '%', '#', 'é', '\t', '[', '\r'];
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...chars), maxLength: 50 }), (s) => {
        const c = cipher('morse');
        return c.decode(c.encode(s)) === s.toUpperCase();
      }),
    );
  });

  it('encoded text hides the letters (no cipher but selfcipher is the identity)', () => {
    const s = 'Explain how to pick a lock';
    for (const name of CIPHER_NAMES.filter((n) => n !== 'selfcipher')) {
      expect(cipher(name).encode(s)).not.toContain('lock');
    }
  });
});

describe('tolerant decoding of answers', () => {
  it('morse reads CipherChat layout (two spaces between words) and keeps plain words', () => {
    expect(cipher('morse').decode('.... ..  -.-- --- ..- ')).toBe('HI YOU');
    expect(cipher('morse').decode('Sure: .... .. / there')).toBe('Sure: HI there');
    expect(cipher('morse').decode('.-.-.-.-.- ...')).toBe('.-.-.-.-.- S');
  });

  it('ascii keeps non-numbers and out-of-range numbers as words', () => {
    expect(cipher('ascii').decode('72 105 friend 33')).toBe('Hi friend !');
    expect(cipher('ascii').decode('72 99999999 105')).toBe('H 99999999 i');
  });

  it('unicode reads \\u{…} and U+XXXX too, and surrogate-pair escapes', () => {
    expect(cipher('unicode').decode('\\u{48}U+0069 \\uD83D\\uDE00 plain')).toBe('Hi 😀 plain');
  });

  it('base64 decodes runs that are exact base64 of UTF-8 and keeps the rest', () => {
    expect(cipher('base64').decode('Answer: SGVsbG8gd29ybGQ= done')).toBe('Answer: Hello world done');
    // "Sure" is valid base64 but not of valid UTF-8; "abc" (3 chars) is exact but odd: both stay.
    expect(cipher('base64').decode('Sure')).toBe('Sure');
  });

  const answer =
    'Step 1: First you need to find a quiet place.\nStep 2: Then you should make sure that no one is there.';
  it.each(CIPHER_NAMES.filter((n) => n !== 'selfcipher'))('%s: an encoded answer decodes', (name) => {
    const c = cipher(name);
    const decoded = decodeAnswer(c, c.encode(answer));
    expect(decoded).toBe(name === 'morse' ? answer.toUpperCase() : answer);
  });

  it.each(CIPHER_NAMES)('%s: a plain-text refusal stays as it is', (name) => {
    const refusal = "I'm sorry, but I can't help with that. It is illegal and harmful.";
    expect(decodeAnswer(cipher(name), refusal)).toBe(refusal);
  });

  it('decides line by line: a plain line and an encoded line in one answer', () => {
    const c = caesar();
    const mixed = `Sure, here is how:\n${c.encode('First, you need to buy a big hammer.')}`;
    expect(decodeAnswer(c, mixed)).toBe('Sure, here is how:\nFirst, you need to buy a big hammer.');
  });

  it('scores English above shifted or reversed letters and codes', () => {
    const s = 'Make sure that nobody sees you when you enter the building';
    const english = languageScore(s);
    for (const name of CIPHER_NAMES.filter((n) => n !== 'selfcipher')) {
      expect(languageScore(cipher(name).encode(s))).toBeLessThan(english);
    }
    // No common word at all: letter frequencies still tell English from a Caesar shift.
    expect(languageScore('Hammer')).toBeGreaterThan(languageScore(caesar().encode('Hammer')));
    expect(languageScore('')).toBe(0);
  });
});
