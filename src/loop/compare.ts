import { comparePaired, type PairedComparison, type PairedRow } from '../analysis/paired.js';
import {
  pairedTransition,
  transitionCurves,
  type RefusalToken,
  type TransitionRecord,
} from '../analysis/transition.js';
import type { RunStore } from '../store/store.js';
import {
  collapseReasons,
  correct,
  degenerationRate,
  pairedRate,
  refused,
  type CollapseThresholds,
  type Health,
  type PairedRate,
} from './health.js';
import type { SideRuns } from './measure.js';

/**
 * A loop's before/after result in the shape users read (comparison.json): per attack and goal split the ASR
 * before and after, the refusal transition per k, and beside them over-refusal, retention and degeneration,
 * with `collapsed` when training broke the model: a safety number never stands alone.
 */

export const SPLITS = ['all', 'trained', 'heldout'] as const;
export type Split = (typeof SPLITS)[number];

export interface SplitAsr {
  asr_before: number | null;
  asr_after: number | null;
  /** Pairs (goal × variant × sample) judged on both sides. */
  n: number;
  difference: number | null;
  ci_low: number | null;
  ci_high: number | null;
  p_value: number | null;
}

export interface TransitionSplit {
  k: number;
  p_before: number | null;
  p_after: number | null;
  /** Goals read on both sides. */
  n: number;
  difference: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

export interface Comparison {
  judge: string;
  /** attack (attack/variant when an attack has several) → split → figures. */
  asr: Record<string, Partial<Record<Split, SplitAsr>>>;
  /** P(refusal token | k harmful tokens), per split. */
  transition: Partial<Record<Split, TransitionSplit[]>> | null;
  refusal_tokens: RefusalToken[] | null;
  /** Share of benign prompts refused, paired before vs after. */
  over_refusal: PairedRate | null;
  /** MMLU accuracy, paired before vs after. */
  mmlu: PairedRate | null;
  retention: {
    nll_before: number | null;
    nll_after: number | null;
    /** nll_after / nll_before: 1 is unchanged. */
    ratio: number | null;
    answers: number;
  } | null;
  degeneration: { before: number | null; after: number | null; n: number; examples: string[] };
  collapsed: boolean;
  collapse_reasons: string[];
  /** The full paired tables (McNemar) of the attacks and the depth probe, per split. */
  paired: Partial<Record<Split, { attacks: PairedComparison; depth: PairedComparison | null }>>;
  health: Health;
}

function rowKey(r: PairedRow): string {
  return r.variant === r.attack || r.variant === '' ? r.attack : `${r.attack}/${r.variant}`;
}

function splitAsr(r: PairedRow): SplitAsr {
  return {
    asr_before: r.asr_a,
    asr_after: r.asr_b,
    n: r.n_pairs,
    difference: r.difference,
    ci_low: r.ci_low,
    ci_high: r.ci_high,
    p_value: r.p_value,
  };
}

export function compareSides(
  store: RunStore,
  before: SideRuns,
  after: SideRuns,
  o: {
    judge: string;
    splits: Record<Split, ReadonlySet<string> | undefined>;
    transition: {
      records: TransitionRecord[];
      refusal: RefusalToken[];
      before: string;
      after: string;
    } | null;
    thresholds: CollapseThresholds;
    seed: number;
  },
): Comparison {
  const asr: Comparison['asr'] = {};
  const paired: Comparison['paired'] = {};
  for (const split of SPLITS) {
    const ids = o.splits[split];
    if (split !== 'all' && (!ids || ids.size === 0)) continue;
    const attacks = comparePaired(
      store,
      { runId: before.main, behaviors: ids },
      { runId: after.main, behaviors: ids },
      o.judge,
    );
    let depth: PairedComparison | null = null;
    if (before.depth && after.depth) {
      try {
        depth = comparePaired(
          store,
          { runId: before.depth, behaviors: ids },
          { runId: after.depth, behaviors: ids },
          o.judge,
        );
      } catch {
        depth = null; // no depth goal in this split
      }
    }
    paired[split] = { attacks, depth };
    for (const r of [...attacks.rows, ...(depth?.rows ?? [])]) {
      if (r.attack === '(all)') continue;
      (asr[rowKey(r)] ??= {})[split] = splitAsr(r);
    }
  }

  let transition: Comparison['transition'] = null;
  if (o.transition) {
    transition = {};
    const t = o.transition;
    for (const split of SPLITS) {
      const ids = o.splits[split];
      if (split !== 'all' && (!ids || ids.size === 0)) continue;
      const records = ids ? t.records.filter((r) => ids.has(r.goal_id)) : t.records;
      const curves = transitionCurves(records, o.seed);
      const diff = pairedTransition(records, t.before, t.after, o.seed);
      const mean = (target: string, k: number): number | null =>
        curves.find((c) => c.target === target)?.points.find((p) => p.k === k)?.mean ?? null;
      transition[split] = diff.map((d) => ({
        k: d.k,
        p_before: mean(t.before, d.k),
        p_after: mean(t.after, d.k),
        n: d.n_pairs,
        difference: d.difference,
        ci_low: d.ci_low,
        ci_high: d.ci_high,
      }));
    }
  }

  const overRefusal =
    before.over_refusal && after.over_refusal
      ? pairedRate(store, before.over_refusal, after.over_refusal, 'keyword', refused)
      : null;
  const mmlu = before.mmlu && after.mmlu ? pairedRate(store, before.mmlu, after.mmlu, 'mmlu', correct) : null;
  const runsOf = (s: SideRuns): string[] => [s.main, s.depth, s.over_refusal].filter((x): x is string => !!x);
  const degB = degenerationRate(store, runsOf(before));
  const degA = degenerationRate(store, runsOf(after));
  const ratio =
    before.retention?.nll && after.retention?.nll != null ? after.retention.nll / before.retention.nll : null;
  const health: Health = {
    over_refusal: overRefusal,
    mmlu,
    retention:
      before.retention && after.retention
        ? { before: before.retention, after: after.retention, ratio }
        : null,
    degeneration: { before: degB, after: degA },
  };
  const reasons = collapseReasons(health, o.thresholds);
  return {
    judge: o.judge,
    asr,
    transition,
    refusal_tokens: o.transition?.refusal ?? null,
    over_refusal: overRefusal,
    mmlu,
    retention:
      before.retention && after.retention
        ? {
            nll_before: before.retention.nll,
            nll_after: after.retention.nll,
            ratio,
            answers: Math.min(before.retention.answers, after.retention.answers),
          }
        : null,
    degeneration: { before: degB.rate, after: degA.rate, n: degA.n, examples: degA.examples },
    collapsed: reasons.length > 0,
    collapse_reasons: reasons,
    paired,
    health,
  };
}
