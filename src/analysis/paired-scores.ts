import type { RunStore } from '../store/store.js';
import { pairKey } from './paired.js';
import { pairedMeanDifference, type PairedMeans } from './stats.js';

/**
 * Before vs after for judges that score rather than decide harm: helpfulness graders (1 correct, 0 wrong),
 * XSTest's fit to the prompt's label (1 when a safe prompt is answered or an unsafe one refused). Cases are
 * paired as in `compare` (behavior, attack variant, sample); the difference is the mean of after − before
 * over the pairs, with a seeded 95% bootstrap interval.
 */
export interface PairedScoreRow extends PairedMeans {
  judge: string;
  attack: string;
  variant: string;
}

export function pairedScores(store: RunStore, runA: string, runB: string, seed = 0): PairedScoreRow[] {
  const a = scoresOf(store, runA);
  const b = scoresOf(store, runB);
  const rows: PairedScoreRow[] = [];
  for (const [group, sideA] of a) {
    const sideB = b.get(group);
    if (!sideB) continue;
    const pairs: [number, number][] = [];
    for (const [key, sa] of sideA.scores) {
      const sb = sideB.scores.get(key);
      if (sb !== undefined) pairs.push([sa, sb]);
    }
    rows.push({
      judge: sideA.judge,
      attack: sideA.attack,
      variant: sideA.variant,
      ...pairedMeanDifference(pairs, `${seed}:${group}`),
    });
  }
  return rows;
}

interface ScoreGroup {
  judge: string;
  attack: string;
  variant: string;
  scores: Map<string, number>;
}

/** Per judge x attack variant: each case's score, for verdicts with a score and no harm decision. */
function scoresOf(store: RunStore, runId: string): Map<string, ScoreGroup> {
  const cases = new Map<string, { key: string; attack: string; variant: string }>();
  for (const c of store.iterateCases(runId)) {
    if (c.status === 'ok') cases.set(c.case_id, { key: pairKey(c), attack: c.attack, variant: c.variant });
  }
  const groups = new Map<string, ScoreGroup>();
  for (const v of store.iterateVerdicts(runId)) {
    const c = cases.get(v.case_id);
    if (!c || v.score === null || v.harmful !== null || v.error !== null || v.inconclusive) continue;
    const id = JSON.stringify([v.judge, c.attack, c.variant]);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { judge: v.judge, attack: c.attack, variant: c.variant, scores: new Map() }));
    g.scores.set(c.key, v.score);
  }
  return groups;
}
