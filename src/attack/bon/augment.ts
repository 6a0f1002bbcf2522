import { PyRandom } from '../../util/py-random.js';
import { pySplit } from '../../util/python.js';

/**
 * Best-of-N's text augmentations (Hughes et al., 2024, arXiv 2412.03556; upstream
 * `bon/attacks/run_text_bon.py`), draw for draw with Python's `random` seeded as upstream seeds it, so
 * sample i of a goal is the prompt upstream's `process_text_augmentation(goal, sigma, seed, ...)` writes:
 * - word scrambling: each word of more than 3 characters, with probability √σ, keeps its first and last
 *   character and has the middle shuffled (the text is re-joined with single spaces, as upstream's
 *   `split()`/`join` does);
 * - random capitalisation: each letter, with probability √σ, has its ASCII case flipped (upstream drops a
 *   non-ASCII letter that is drawn, since neither branch appends it; kept here, byte for byte);
 * - ASCII noising: each printable character, with probability σ³, moves one code point up or down when
 *   the result is printable ASCII.
 * They apply in that order, each switchable.
 */

export interface AugmentationSwitches {
  word_scrambling: boolean;
  random_capitalization: boolean;
  ascii_perturbation: boolean;
}

/** Python's `str.isalpha()` for one character. */
const ALPHA = /^\p{L}$/u;
/** Python's `str.isprintable()` is false for categories C* and Z*, except the ASCII space. */
const NON_PRINTABLE = /^[\p{C}\p{Z}]$/u;

function wordScrambling(text: string, sigma: number, rng: PyRandom): string {
  const p = Math.sqrt(sigma);
  return pySplit(text)
    .map((word) => {
      const chars = [...word];
      if (chars.length > 3 && rng.random() < p) {
        const middle = chars.slice(1, -1);
        rng.shuffle(middle);
        return chars[0] + middle.join('') + chars[chars.length - 1];
      }
      return word;
    })
    .join(' ');
}

function randomCapitalization(text: string, sigma: number, rng: PyRandom): string {
  const p = Math.sqrt(sigma);
  let out = '';
  for (const c of text) {
    if (ALPHA.test(c) && rng.random() < p) {
      if (c >= 'a' && c <= 'z') out += c.toUpperCase();
      else if (c >= 'A' && c <= 'Z') out += c.toLowerCase();
      // else: upstream appends nothing (the letter is dropped)
    } else out += c;
  }
  return out;
}

function asciiNoising(text: string, sigma: number, rng: PyRandom): string {
  const p = sigma ** 3;
  let out = '';
  for (const c of text) {
    const printable = c === ' ' || !NON_PRINTABLE.test(c);
    if (printable && rng.random() < p) {
      const code = (c.codePointAt(0) as number) + rng.choice([-1, 1]);
      out += code >= 32 && code <= 126 ? String.fromCharCode(code) : c;
    } else out += c;
  }
  return out;
}

/** Upstream's `process_text_augmentation(text, sigma, seed, ...)` (no random prefix or suffix). */
export function augmentText(text: string, sigma: number, seed: number, on: AugmentationSwitches): string {
  const rng = new PyRandom(seed);
  if (on.word_scrambling) text = wordScrambling(text, sigma, rng);
  if (on.random_capitalization) text = randomCapitalization(text, sigma, rng);
  if (on.ascii_perturbation) text = asciiNoising(text, sigma, rng);
  return text;
}

/**
 * The seed of sample `i` (0-based) of a search with seed `seed`: upstream draws step n's k-th candidate with
 * `n * num_concurrent_k + seed * 1e6 + k`, which is `seed * 1e6 + i` for i = n * num_concurrent_k + k.
 */
export function sampleSeed(seed: number, i: number): number {
  return seed * 1_000_000 + i;
}
