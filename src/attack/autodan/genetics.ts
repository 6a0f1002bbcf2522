import type { Rng } from '../../util/random.js';
import { GOAL_SLOT, hasGoalSlot } from '../goal-slot.js';

/**
 * The deterministic (seeded) parts of AutoDAN's hierarchical genetic algorithm: fitness-proportional
 * selection, sentence-level crossover, and the word level's momentum word scores with synonym replacement.
 * The LLM-based parts (mutation, synonyms) live in autodan.ts.
 */

/** `k` indices drawn with replacement, each with probability softmax(fitness) (AutoDAN's roulette wheel). */
export function rouletteSelect(fitness: readonly number[], k: number, rng: Rng): number[] {
  const max = Math.max(...fitness);
  const weights = fitness.map((f) => Math.exp(f - max));
  const total = weights.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    let r = rng.next() * total;
    let j = 0;
    while (j < weights.length - 1 && r >= (weights[j] as number)) r -= weights[j++] as number;
    out.push(j);
  }
  return out;
}

/** Sentences with their trailing whitespace, so joining them gives the text back exactly. */
export function sentences(text: string): string[] {
  return text.match(/[^.!?\n]*(?:[.!?]+|\n|$)\s*/g)?.filter((s) => s.length > 0) ?? [text];
}

/**
 * Two children from two parents: sentence lists are cut at up to `points` random positions and the
 * segments taken alternately from each parent. A child that lost the goal slot keeps its parent instead.
 */
export function crossover(a: string, b: string, points: number, rng: Rng): [string, string] {
  const sa = sentences(a);
  const sb = sentences(b);
  const n = Math.min(sa.length, sb.length);
  if (n < 2) return [a, b];
  const cuts = rng.sampleIndices(n - 1, Math.min(points, n - 1)).map((i) => i + 1);
  const c1: string[] = [];
  const c2: string[] = [];
  let swap = false;
  let from = 0;
  for (const cut of [...cuts, Math.max(sa.length, sb.length)]) {
    c1.push(...(swap ? sb : sa).slice(from, cut));
    c2.push(...(swap ? sa : sb).slice(from, cut));
    swap = !swap;
    from = cut;
  }
  const x = c1.join('');
  const y = c2.join('');
  return [hasGoalSlot(x) ? x : a, hasGoalSlot(y) ? y : b];
}

const STOP = new Set(
  'the and for are but not you your with this that from have has was were will would can could should into than then them they their there what when where which who why how all any each its our out about also only just very more most such some been being does did doing over under again'.split(
    ' ',
  ),
);

/** The words the word level may score and replace: lower-case alphabetic, 3+ letters, not stop words. */
export function contentWords(text: string): string[] {
  const words =
    text
      .replace(GOAL_SLOT, ' ')
      .toLowerCase()
      .match(/[a-z]{3,}/g) ?? [];
  return words.filter((w) => !STOP.has(w));
}

/**
 * Momentum word scores: each word's mean fitness over the candidates that contain it, blended with its
 * previous score (`momentum` weight on the old value), so words keep credit earned in earlier generations.
 */
export function updateWordScores(
  scores: Map<string, number>,
  population: readonly string[],
  fitness: readonly number[],
  momentum: number,
): void {
  const sum = new Map<string, { total: number; n: number }>();
  population.forEach((text, i) => {
    for (const w of new Set(contentWords(text))) {
      const s = sum.get(w) ?? { total: 0, n: 0 };
      s.total += fitness[i] as number;
      s.n++;
      sum.set(w, s);
    }
  });
  for (const [w, { total, n }] of sum) {
    const now = total / n;
    const old = scores.get(w);
    scores.set(w, old === undefined ? now : momentum * old + (1 - momentum) * now);
  }
}

/**
 * Replaces words by synonyms with a better momentum score: each scored word with synonyms is swapped for
 * one drawn by softmax over the word's and its synonyms' scores (the word itself may win). Case of the first
 * letter is kept; the goal slot is never touched.
 */
export function replaceWithSynonyms(
  text: string,
  scores: ReadonlyMap<string, number>,
  synonyms: ReadonlyMap<string, readonly string[]>,
  rng: Rng,
): string {
  return text
    .split(GOAL_SLOT)
    .map((part) =>
      part.replace(/[A-Za-z]{3,}/g, (word) => {
        const lower = word.toLowerCase();
        const own = scores.get(lower);
        const options = (synonyms.get(lower) ?? []).filter((s) => s !== lower);
        if (own === undefined || !options.length) return word;
        // A synonym no candidate has used yet gets the word's own score: a neutral chance to be tried.
        const pool = [lower, ...options];
        const pick = pool[
          rouletteSelect(
            pool.map((w) => scores.get(w) ?? own),
            1,
            rng,
          )[0] as number
        ] as string;
        if (pick === lower) return word;
        return word[0] === word[0]?.toUpperCase() ? pick[0]?.toUpperCase() + pick.slice(1) : pick;
      }),
    )
    .join(GOAL_SLOT);
}
