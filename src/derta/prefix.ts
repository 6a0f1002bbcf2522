import type { Rng } from '../util/random.js';
import type { DertaTokenizer } from '../text/tokenizer.js';

/**
 * Harmful-prefix sampling: how much of the harmful response r̂ the model is shown before it must switch to
 * the safe response.
 */
export interface SampledPrefix {
  /** The prefix text ('' for an empty prefix). */
  text: string;
  /** Its length in the sampling unit (words or tokens). */
  length: number;
}

/**
 * Upstream's generator, step for step: split r̂ on single spaces (newlines stay inside words), draw
 * `randint(1, n-2)` (inclusive; the draw happens even when overridden), and force an empty prefix on every
 * third record (`index % 3 == 0`, index over the whole safety file). Returns undefined when r̂ has fewer than
 * three words: upstream then skips the harmful-prefix and vanilla rows for that record (the RTO row stays).
 */
export function paperPrefix(response: string, index: number, rng: Rng): SampledPrefix | undefined {
  const words = response.split(' ');
  if (words.length - 2 < 1) return undefined;
  let k = rng.int(1, words.length - 2);
  if (index % 3 === 0) k = 0;
  return { text: words.slice(0, k).join(' '), length: k };
}

/**
 * The paper's Eq. 2: k uniform in [0, |r̂|] tokens (the full response included). The prefix text is the
 * decoded first k tokens; if that is not a textual prefix of r̂ (k splits a multi-byte character), k backs
 * off until it is, so the prefix is always the response's own text.
 */
export function formalPrefix(response: string, tok: DertaTokenizer, rng: Rng): SampledPrefix {
  const ids = tok.encode(response, false);
  let k = rng.int(0, ids.length);
  for (; k > 0; k--) {
    const text = tok.decode(ids.slice(0, k));
    if (response.startsWith(text)) return { text, length: k };
  }
  return { text: '', length: 0 };
}
