import type { Cipher } from './cipher.js';

/**
 * Reading a model's answer to a cipher prompt. Models often answer in plain text (a refusal, or a reply that
 * ignores the cipher), in the cipher, or in a mix, line by line. So each line is decoded, and the decoded line is
 * kept unless the raw line reads more like English. "Reads like English" is a cheap score: the share of words
 * that are common English words, plus a smaller term for how many characters are letters weighted by English
 * letter frequencies (which separates shifted or reversed letters from real text when no common word occurs).
 */

// The most frequent English words, plus words refusals and instructions use.
const COMMON = new Set(
  (
    'a about after all also am an and any are as at be because been but by can cannot could do does first ' +
    'for from get go has have he her here him his how i if in into is it its just know like make me more ' +
    'most my no not now of on one only or other our out over people said say she should so some step such ' +
    'take than that the their them then there these they this time to up us use very want was way we well ' +
    'were what when which who will with would you your sorry apologize unable help assist illegal harmful ' +
    'however sure need using used find buy where while before must may each information person someone ' +
    "don't can't i'm won't it's"
  ).split(' '),
);

// English letter frequencies (per cent), a-z.
const FREQ = [
  8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4, 6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1,
  2.8, 0.98, 2.4, 0.15, 2.0, 0.074,
];
// The average frequency of a letter drawn from English text (sum of squares), about 6.5%.
const ENGLISH_MEAN = FREQ.reduce((s, f) => s + f * f, 0) / 100;

/** A score of how much `text` reads like English: higher is more English-like; 0 for no letters. */
export function languageScore(text: string): number {
  const tokens = text.split(/\s+/).filter(Boolean);
  if (!tokens.length) return 0;
  const words = text.toLowerCase().match(/[a-z']+/g) ?? [];
  const common = words.filter((w) => COMMON.has(w)).length / Math.max(words.length, tokens.length);
  let letters = 0;
  let weight = 0;
  for (const ch of text.toLowerCase()) {
    const i = ch.charCodeAt(0) - 97;
    if (i >= 0 && i < 26) {
      letters++;
      weight += FREQ[i] as number;
    }
  }
  const visible = text.replace(/\s/g, '').length;
  const letterShare = visible ? letters / visible : 0;
  const typical = letters ? Math.min(1, weight / letters / ENGLISH_MEAN) : 0;
  return common + 0.3 * letterShare * typical;
}

/** The answer as judges should see it: each line decoded unless its raw form reads more like English. */
export function decodeAnswer(cipher: Cipher, response: string): string {
  return response
    .split('\n')
    .map((line) => {
      const decoded = cipher.decode(line);
      return languageScore(line) > languageScore(decoded) ? line : decoded;
    })
    .join('\n');
}
