import { sha256 } from '../util/hash.js';

/**
 * The fixed split that keeps lexicon tuning honest: "tune on one part, report on another". Any phrase list,
 * threshold or rule of the `keyword` judge or the XSTest keyword grader that is changed by reading errors is
 * changed on the `tune` part only; figures are reported on `heldout` (and on label sets never used for
 * tuning at all, e.g. the HarmBench human-labelled validation set, which is held out whole).
 *
 * The XSTest pack holds one model's labelled completions (Mistral-7B-Instruct, 450), so the split is by
 * prompt: a seeded hash of the prompt text, about half each side, and every model's completion of the same
 * prompt falls on the same side (a prompt seen while tuning is never scored). The seed is part of the split's
 * definition: changing it makes a new split, and every figure measured on the old one is void.
 * See docs/judges.md ("Tune and held-out splits") for what was tuned on which side, and when.
 */
export const LEXICON_SPLIT_SEED = 'refusenik-lexicon-split-v1';

export type LexiconSplit = 'tune' | 'heldout';

/** The side of the split a labelled item is on, from its prompt text (whitespace-normalised). */
export function lexiconSplit(prompt: string): LexiconSplit {
  const key = prompt.trim().replace(/\s+/g, ' ');
  const h = sha256(`${LEXICON_SPLIT_SEED}\u0000${key}`);
  return Number.parseInt(h.slice(0, 8), 16) % 2 === 0 ? 'tune' : 'heldout';
}

/** Items of one side, in their original order. */
export function onSplit<T>(items: readonly T[], side: LexiconSplit, prompt: (item: T) => string): T[] {
  return items.filter((it) => lexiconSplit(prompt(it)) === side);
}
