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
  /** Words (characters, for a loop without spaces) in the repeated unit. */
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

/** Characters a loop without spaces must cover ("SorrySorrySorry…"), and its longest unit. */
export const MIN_CHARS = 48;
export const MAX_CHAR_PERIOD = 40;

/**
 * The loop the text ends in (the one covering the most words), or null when it does not end in one. Words
 * first; a text whose tail has no spaces to split on ("SorrySorrySorry…", which a model trained to say "Sorry"
 * everywhere produces) is checked character by character.
 */
export function trailingLoop(text: string): RepetitionLoop | null {
  return wordLoop(text) ?? charLoop(text);
}

/** A unit of up to MAX_CHAR_PERIOD characters repeated back to back at the end (a cut last copy allowed). */
function charLoop(text: string): RepetitionLoop | null {
  const t = text.trimEnd();
  for (let period = 1; period <= MAX_CHAR_PERIOD; period++) {
    for (let cut = 0; cut < period; cut++) {
      const end = t.length - cut;
      const unit = t.slice(end - period, end);
      if (unit.length < period || unit.trim() === '') continue;
      let repeats = 1;
      while (
        end - (repeats + 1) * period >= 0 &&
        t.slice(end - (repeats + 1) * period, end - repeats * period) === unit
      )
        repeats++;
      if (repeats >= MIN_REPEATS && repeats * period >= MIN_CHARS) {
        return { period, repeats, unit, share: (repeats * period) / Math.max(1, t.length) };
      }
    }
  }
  return null;
}

function wordLoop(text: string): RepetitionLoop | null {
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
