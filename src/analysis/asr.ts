import type { RunStore } from '../store/store.js';
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
const NO_EXTRA = {};

interface JoinedRow {
  case_id: string;
  target: string;
  attack: string;
  variant: string;
  category: string | null;
  status: string;
  judge: string | null;
  harmful: number | null;
  refusal: number | null;
  score: number | null;
  error: string | null;
  inconclusive: number | null;
}

export function asrRows(store: RunStore, runId: string, judges: string[]): AsrRow[] {
  return tally(
    store.iterateJoined(runId) as Iterable<JoinedRow>,
    judges,
    () => NO_EXTRA,
    disagreements(store, runId),
  );
}

/** `case_id \0 judge` of every verdict whose details say its panel split (`details.disagreement`). */
function disagreements(store: RunStore, runId: string): Set<string> {
  return new Set(store.splitVerdicts(runId).map((v) => `${v.case_id}\u0000${v.judge}`));
}

/** ASR per category x target x attack variant x judge, categories in first-seen order. */
export function categoryAsrRows(store: RunStore, runId: string, judges: string[]): CategoryAsrRow[] {
  return tally(
    store.iterateJoined(runId) as Iterable<JoinedRow>,
    judges,
    (r) => ({ category: r.category ?? NO_CATEGORY }),
    disagreements(store, runId),
  );
}

/**
 * Counts verdicts per group (target x attack x variant, plus whatever `extra` adds to the key) and judge.
 * Groups and judges keep their first-seen order, so tables follow the run's own order.
 */
function tally<E extends Record<string, string>>(
  joined: Iterable<JoinedRow>,
  judges: string[],
  extra: (r: JoinedRow) => E,
  disagreed: ReadonlySet<string> = new Set(),
): (AsrRow & E)[] {
  type Row = AsrRow & E;
  const groups = new Map<
    string,
    { key: Row; byJudge: Map<string, Row>; scoreSum: Map<string, [number, number]> }
  >();
  for (const r of joined) {
    const ext = extra(r);
    let gk = `${r.target}\u0000${r.attack}\u0000${r.variant}`;
    for (const k in ext) gk += `\u0000${ext[k]}`;
    let g = groups.get(gk);
    if (!g) {
      g = { key: { ...emptyRow(r), ...ext }, byJudge: new Map(), scoreSum: new Map() };
      groups.set(gk, g);
    }
    if (r.status === 'error') {
      g.key.errors++;
      continue;
    }
    if (r.judge === null) continue;
    let row = g.byJudge.get(r.judge);
    if (!row) {
      row = { ...emptyRow(r), ...ext, judge: r.judge };
      g.byJudge.set(r.judge, row);
    }
    if (r.error !== null) {
      row.judge_errors++;
      continue;
    }
    if (disagreed.size && disagreed.has(`${r.case_id}\u0000${r.judge}`)) row.disagreement++;
    if (r.inconclusive === 1) {
      row.inconclusive++;
      continue;
    }
    // Graders of helpfulness tasks (accuracy, not safety) leave `harmful` null: no ASR from them.
    if (r.harmful === null) continue;
    row.n++;
    if (r.harmful === 1) row.successes++;
    if (r.refusal === 1) row.refusals++;
    if (r.score !== null) {
      const [s, c] = g.scoreSum.get(r.judge) ?? [0, 0];
      g.scoreSum.set(r.judge, [s + r.score, c + 1]);
    }
  }
  const out: Row[] = [];
  for (const g of groups.values()) {
    const names = judges.length ? judges : [...g.byJudge.keys()];
    for (const judge of names) {
      const row = g.byJudge.get(judge) ?? { ...g.key, judge, errors: 0 };
      row.errors = g.key.errors;
      const ci = row.n ? wilson(row.successes, row.n) : undefined;
      const [s, c] = g.scoreSum.get(judge) ?? [0, 0];
      out.push({
        ...row,
        attack_success_rate: row.n ? row.successes / row.n : null,
        ci_low: ci ? ci.low : null,
        ci_high: ci ? ci.high : null,
        refusal_rate: row.n ? row.refusals / row.n : null,
        mean_score: c ? s / c : null,
        coverage: row.n + row.inconclusive ? row.n / (row.n + row.inconclusive) : null,
      });
    }
  }
  return out;
}

function emptyRow(r: JoinedRow): AsrRow {
  return {
    target: r.target,
    attack: r.attack,
    variant: r.variant,
    judge: '',
    n: 0,
    successes: 0,
    attack_success_rate: null,
    ci_low: null,
    ci_high: null,
    refusals: 0,
    refusal_rate: null,
    mean_score: null,
    errors: 0,
    judge_errors: 0,
    inconclusive: 0,
    coverage: null,
    disagreement: 0,
  };
}
