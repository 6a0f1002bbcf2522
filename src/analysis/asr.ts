import type { AsrGroupCounts, AsrJudgeCounts, RunStore } from '../store/store.js';
import { wilson } from './stats.js';

/**
 * Attack success rate per target x attack variant x judge. The denominator counts only cases the judge
 * scored: target errors and judge failures are reported beside it, never counted as refusals.
 */
export interface AsrRow {
  target: string;
  attack: string;
  variant: string;
  judge: string;
  /** Cases the judge gave a verdict on. */
  n: number;
  successes: number;
  attack_success_rate: number | null;
  ci_low: number | null;
  ci_high: number | null;
  refusals: number;
  refusal_rate: number | null;
  mean_score: number | null;
  /** Cases whose target request failed (no response to judge). */
  errors: number;
  /** Verdicts where the judge itself failed. */
  judge_errors: number;
  /** Verdicts where the judge answered but gave no readable verdict: outside n, never a guess. */
  inconclusive: number;
  /** Decided share of what the judge judged: n / (n + inconclusive); null when it judged nothing. */
  coverage: number | null;
  /** Cases whose verdict records a split among a panel's members (ensemble judges; 0 for others). */
  disagreement: number;
}

/** The same row, one per behavior category (cases without a category are grouped as `(none)`). */
export interface CategoryAsrRow extends AsrRow {
  category: string;
}

export const NO_CATEGORY = '(none)';

export function asrRows(store: RunStore, runId: string, judges: string[]): AsrRow[] {
  const { groups, judged } = store.asrCounts(runId, false);
  return fromCounts(groups, judged, judges, () => ({}));
}

/** ASR per category x target x attack variant x judge, categories in first-seen order. */
export function categoryAsrRows(store: RunStore, runId: string, judges: string[]): CategoryAsrRow[] {
  const { groups, judged } = store.asrCounts(runId, true);
  return fromCounts(groups, judged, judges, (g) => ({ category: g.category ?? NO_CATEGORY }));
}

/**
 * Rates and intervals from the store's counts per group (target x attack x variant, plus whatever `extra`
 * adds) and judge. Groups and judges keep their first-seen order, so tables follow the run's own order; a
 * judge named in `judges` but without verdicts in a group gets an empty row.
 */
function fromCounts<E extends Record<string, string>>(
  groups: AsrGroupCounts[],
  judged: AsrJudgeCounts[],
  judges: string[],
  extra: (g: AsrGroupCounts) => E,
): (AsrRow & E)[] {
  const key = (g: Omit<AsrGroupCounts, 'errors'>): string =>
    `${g.target}\u0000${g.attack}\u0000${g.variant}\u0000${g.category ?? ''}`;
  const byGroup = new Map<string, AsrJudgeCounts[]>();
  for (const j of judged) {
    const k = key(j);
    const list = byGroup.get(k);
    if (list) list.push(j);
    else byGroup.set(k, [j]);
  }
  const out: (AsrRow & E)[] = [];
  for (const g of groups) {
    const seen = byGroup.get(key(g)) ?? [];
    const names = judges.length ? judges : seen.map((j) => j.judge);
    for (const judge of names) {
      const c = seen.find((j) => j.judge === judge);
      const n = c?.n ?? 0;
      const successes = c?.successes ?? 0;
      const refusals = c?.refusals ?? 0;
      const inconclusive = c?.inconclusive ?? 0;
      const ci = n ? wilson(successes, n) : undefined;
      out.push({
        target: g.target,
        attack: g.attack,
        variant: g.variant,
        ...extra(g),
        judge,
        n,
        successes,
        attack_success_rate: n ? successes / n : null,
        ci_low: ci ? ci.low : null,
        ci_high: ci ? ci.high : null,
        refusals,
        refusal_rate: n ? refusals / n : null,
        mean_score: c?.score_n ? c.score_sum / c.score_n : null,
        errors: g.errors,
        judge_errors: c?.judge_errors ?? 0,
        inconclusive,
        coverage: n + inconclusive ? n / (n + inconclusive) : null,
        disagreement: c?.disagreement ?? 0,
      });
    }
  }
  return out;
}
