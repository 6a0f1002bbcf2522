/**
 * Degenerate answers: a model that has collapsed repeats one phrase until it runs out of tokens ("Sorry, I'm
 * sorry, I'm sorry, …", "no no no no …"). An answer is degenerate when it was cut at max_tokens (finish reason
 * `length`) and its last words are one n-gram (n = 1…MAX_PERIOD words) repeated back to back at least
 * MIN_REPEATS times, covering at least MIN_WORDS words. An answer that stops by itself is never degenerate,
 * whatever it repeats: it ended.
 */

export const MAX_PERIOD = 12;
export const MIN_REPEATS = 4;
export const MIN_WORDS = 12;

export interface RepetitionLoop {
  /** Words in the repeated unit. */
  period: number;
  /** Back-to-back copies at the end of the text (a partial last copy is not counted). */
  repeats: number;
  /** The repeated unit, as text. */
  unit: string;
  /** Share of the text's words inside the loop. */
  share: number;
}

/** Words compared case-insensitively and without surrounding punctuation, so "Sorry," and "sorry." match. */
function norm(word: string): string {
  return word.toLowerCase().replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '') || word;
}

/** The loop the text ends in (the one covering the most words), or null when it does not end in one. */
export function trailingLoop(text: string): RepetitionLoop | null {
  const raw = text.split(/\s+/).filter(Boolean);
  // A text cut mid-word at max_tokens ends in a fragment: the loop is judged on the words before it.
  const words = raw.map(norm);
  let best: RepetitionLoop | null = null;
  for (let period = 1; period <= MAX_PERIOD; period++) {
    for (const drop of [0, 1]) {
      const end = words.length - drop;
      if (end < period * 2) continue;
      let repeats = 1;
      while (end - (repeats + 1) * period >= 0) {
        const a = end - (repeats + 1) * period;
        let same = true;
        for (let i = 0; i < period && same; i++) same = words[a + i] === words[end - period + i];
        if (!same) break;
        repeats++;
      }
      const covered = repeats * period;
      if (repeats < MIN_REPEATS || covered < MIN_WORDS) continue;
      if (!best || covered > best.repeats * best.period) {
        best = {
          period,
          repeats,
          unit: raw.slice(end - period, end).join(' '),
          share: covered / Math.max(1, raw.length),
        };
      }
    }
  }
  return best;
}

/** Whether one answer is degenerate: cut at max_tokens while looping. */
export function isDegenerate(text: string, finishReason: string | null | undefined): boolean {
  return finishReason === 'length' && trailingLoop(text) !== null;
}
