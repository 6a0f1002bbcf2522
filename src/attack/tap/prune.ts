import type { Rng } from '../../util/random.js';

/**
 * TAP's pruning step (upstream `prune()` in main_TAP.py), used twice per depth: phase 1 with the on-topic
 * scores (1 on topic, 0 off topic), phase 2 with the evaluator's 1–10 ratings. Items whose score is not above
 * 0 are dropped; the rest are ranked by score, best first, and the first `width` kept. Scores are compared as
 * numbers throughout: a 7 outranks a 6, so the tree keeps its most promising branches (the peers' bug of
 * collapsing scores to a pass/fail boolean makes every branch equal and the search stop improving).
 *
 * Ties are put in a seeded random order first, which is what upstream's comment asks for ("elements with the
 * same score are randomly permuted"); upstream itself then sorts (score, index) pairs, so its ties go to the
 * highest index. The seeded order keeps a search reproducible from the case seed.
 *
 * When nothing scores above 0 (every refinement off topic), upstream still keeps two entries by an indexing
 * slip (`list_[shuffled_scores[0][0]]`: a score used as an index) and sends them to the target; here nothing is
 * kept and the caller decides (TAP's search branches the same leaves again at the next depth), so an
 * off-topic prompt never reaches the target.
 */

export interface Pruned<T> {
  kept: T[];
  /** Dropped with a score of 0 or less (phase 1: off topic). */
  zero: T[];
  /** Dropped for want of room: ranked below the first `width`. */
  overflow: T[];
}

export function prune<T>(
  items: readonly T[],
  score: (item: T) => number,
  width: number,
  rng: Rng,
): Pruned<T> {
  const positive = items.filter((t) => score(t) > 0);
  const zero = items.filter((t) => !(score(t) > 0));
  // Seeded shuffle, then a stable sort by score: equal scores keep their shuffled order.
  const ranked = rng.shuffle(positive).sort((a, b) => score(b) - score(a));
  return { kept: ranked.slice(0, width), zero, overflow: ranked.slice(width) };
}
