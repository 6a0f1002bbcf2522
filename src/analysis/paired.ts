import { parsePrefillVariant, PREFILL_ATTACK } from '../attack/prefill/variant.js';
import { InputError } from '../errors.js';
import type { RunStore } from '../store/store.js';
import { mcnemarExact, pairedDifferenceCi } from './stats.js';

/**
 * "Did training help, significantly?" Two conditions, A (e.g. the base model) and B (the trained one), run on
 * the same cases: matched case by case (behavior id + attack variant + sample), each pair is a 2x2 outcome.
 * Only the discordant pairs carry evidence, so the test is McNemar's exact test on them, and the ASR
 * difference gets Newcombe's paired interval. Both conditions may be two runs or two targets of one run.
 */

export interface Selection {
  runId: string;
  /** The target id (or label) within the run; may be left out when the run has one target. */
  target?: string;
  /** Only these behaviors (a split of the goals, e.g. those held out of training). */
  behaviors?: ReadonlySet<string>;
}

export interface PairedRow {
  attack: string;
  variant: string;
  /** Matched pairs where both sides have a verdict from the judge. */
  n_pairs: number;
  asr_a: number | null;
  asr_b: number | null;
  /** Pairs where both were jailbroken. */
  both: number;
  /** McNemar's b: only A was jailbroken. */
  b: number;
  /** McNemar's c: only B was jailbroken. */
  c: number;
  neither: number;
  /** asr_b − asr_a: negative means B is safer. */
  difference: number | null;
  ci_low: number | null;
  ci_high: number | null;
  /** McNemar's exact two-sided p-value (1 when there are no discordant pairs). */
  p_value: number | null;
  /** Cases found on one side only, or on both sides but without a usable verdict on one. */
  unmatched_a: number;
  unmatched_b: number;
  excluded: number;
}

export interface PairedComparison {
  a: { run: string; target: string };
  b: { run: string; target: string };
  judge: string;
  /** One row per attack variant, then `(all)` pooling every pair when there is more than one variant. */
  rows: PairedRow[];
  /** The rows of the prefill attack as a depth curve, A vs B per k (empty without prefill cases). */
  depth: PairedDepthPoint[];
}

export const ALL = '(all)';

interface SideCase {
  attack: string;
  variant: string;
  /** The judge's decision; null when the case errored, the judge failed, or it did not judge. */
  harmful: boolean | null;
}

export function comparePaired(
  store: RunStore,
  selA: Selection,
  selB: Selection,
  judge?: string,
): PairedComparison {
  const targetA = resolveTarget(store, selA, 'a');
  const targetB = resolveTarget(store, selB, 'b');
  const judgeId = judge ?? commonJudge(store, selA.runId, selB.runId);
  const sideA = loadSide(store, selA.runId, targetA, judgeId, selA.behaviors);
  const sideB = loadSide(store, selB.runId, targetB, judgeId, selB.behaviors);
  if (sideA.judged === 0 && sideB.judged === 0) {
    throw new InputError(`judge '${judgeId}' has no verdicts for these cases`, { field: '--judge' });
  }
  const rows = pairRows(sideA.cases, sideB.cases);
  return {
    a: { run: selA.runId, target: targetA },
    b: { run: selB.runId, target: targetB },
    judge: judgeId,
    rows,
    depth: pairedDepth(rows),
  };
}

/** Builds the per-variant and pooled rows from two keyed case maps (exported for tests). */
export function pairRows(a: Map<string, SideCase>, b: Map<string, SideCase>): PairedRow[] {
  const rows = new Map<string, PairedRow>();
  const rowFor = (c: SideCase): PairedRow => {
    const k = `${c.attack}\u0000${c.variant}`;
    let r = rows.get(k);
    if (!r) rows.set(k, (r = emptyPairedRow(c.attack, c.variant)));
    return r;
  };
  for (const [key, ca] of a) {
    const row = rowFor(ca);
    const cb = b.get(key);
    if (!cb) {
      row.unmatched_a++;
      continue;
    }
    if (ca.harmful === null || cb.harmful === null) {
      row.excluded++;
      continue;
    }
    if (ca.harmful && cb.harmful) row.both++;
    else if (ca.harmful) row.b++;
    else if (cb.harmful) row.c++;
    else row.neither++;
  }
  for (const [key, cb] of b) if (!a.has(key)) rowFor(cb).unmatched_b++;
  const out = [...rows.values()];
  if (out.length > 1) {
    const all = emptyPairedRow(ALL, ALL);
    for (const r of out) {
      for (const f of ['both', 'b', 'c', 'neither', 'unmatched_a', 'unmatched_b', 'excluded'] as const)
        all[f] += r[f];
    }
    out.push(all);
  }
  return out.map(finish);
}

function finish(r: PairedRow): PairedRow {
  const n = r.both + r.b + r.c + r.neither;
  if (n === 0) return { ...r, n_pairs: 0 };
  // pairedDifferenceCi estimates p1 − p2 with p1 the first condition: put B first to get asr_b − asr_a.
  const ci = pairedDifferenceCi({ a: r.both, b: r.c, c: r.b, d: r.neither });
  return {
    ...r,
    n_pairs: n,
    asr_a: (r.both + r.b) / n,
    asr_b: (r.both + r.c) / n,
    difference: ci.estimate,
    ci_low: ci.low,
    ci_high: ci.high,
    p_value: mcnemarExact(r.b, r.c).p_value,
  };
}

function emptyPairedRow(attack: string, variant: string): PairedRow {
  return {
    attack,
    variant,
    n_pairs: 0,
    asr_a: null,
    asr_b: null,
    both: 0,
    b: 0,
    c: 0,
    neither: 0,
    difference: null,
    ci_low: null,
    ci_high: null,
    p_value: null,
    unmatched_a: 0,
    unmatched_b: 0,
    excluded: 0,
  };
}

/** The key that matches a case across runs and targets. */
export function pairKey(c: { behavior_id: string; attack: string; variant: string; sample: number }): string {
  return `${c.behavior_id}\u0000${c.attack}\u0000${c.variant}\u0000${c.sample}`;
}

function loadSide(
  store: RunStore,
  runId: string,
  target: string,
  judge: string,
  behaviors: ReadonlySet<string> | undefined,
): { cases: Map<string, SideCase>; judged: number } {
  const verdicts = new Map<string, boolean | null>();
  for (const v of store.iterateVerdicts(runId)) {
    if (v.judge !== judge) continue;
    verdicts.set(v.case_id, v.error !== null || v.harmful === null ? null : v.harmful === 1);
  }
  const cases = new Map<string, SideCase>();
  let judged = 0;
  for (const c of store.iterateCases(runId)) {
    if (c.target !== target || (behaviors && !behaviors.has(c.behavior_id))) continue;
    const key = pairKey(c);
    if (cases.has(key)) continue;
    const harmful = c.status === 'ok' ? (verdicts.get(c.case_id) ?? null) : null;
    if (harmful !== null) judged++;
    cases.set(key, { attack: c.attack, variant: c.variant, harmful });
  }
  return { cases, judged };
}

function targetsOf(store: RunStore, runId: string): string[] {
  const seen = new Set<string>();
  for (const c of store.iterateCases(runId)) seen.add(c.target);
  return [...seen];
}

function resolveTarget(store: RunStore, sel: Selection, side: 'a' | 'b'): string {
  const targets = targetsOf(store, sel.runId);
  if (targets.length === 0) throw new InputError(`run '${sel.runId}' has no cases`);
  if (sel.target !== undefined) {
    if (!targets.includes(sel.target)) {
      throw new InputError(
        `run '${sel.runId}' has no target '${sel.target}'; it has: ${targets.join(', ')}`,
        {
          field: `--target-${side}`,
        },
      );
    }
    return sel.target;
  }
  if (targets.length > 1) {
    throw new InputError(
      `run '${sel.runId}' has ${targets.length} targets (${targets.join(', ')}); pick one`,
      {
        field: `--target-${side}`,
      },
    );
  }
  return targets[0] as string;
}

function judgesOf(store: RunStore, runId: string): string[] {
  const seen = new Set<string>();
  for (const v of store.iterateVerdicts(runId)) if (v.harmful !== null) seen.add(v.judge);
  return [...seen];
}

function commonJudge(store: RunStore, runA: string, runB: string): string {
  const inB = new Set(judgesOf(store, runB));
  const common = judgesOf(store, runA).filter((j) => inB.has(j));
  if (common.length === 1) return common[0] as string;
  if (common.length === 0)
    throw new InputError('the two sides have no judge in common', { field: '--judge' });
  throw new InputError(`several judges decided both sides (${common.join(', ')}); pick one`, {
    field: '--judge',
  });
}

/** One k of a paired before/after comparison: the same goals at the same depth, A vs B. */
export interface PairedDepthPoint {
  delivery: string;
  k: number;
  n_pairs: number;
  asr_a: number | null;
  asr_b: number | null;
  difference: number | null;
  ci_low: number | null;
  ci_high: number | null;
  p_value: number | null;
}

/** The depth curve of a paired comparison (its prefill rows, by delivery then k). */
export function pairedDepth(rows: readonly PairedRow[]): PairedDepthPoint[] {
  const points: PairedDepthPoint[] = [];
  for (const r of rows) {
    const depth = r.attack === PREFILL_ATTACK ? parsePrefillVariant(r.variant) : undefined;
    if (!depth) continue;
    points.push({
      delivery: depth.delivery,
      k: depth.k,
      n_pairs: r.n_pairs,
      asr_a: r.asr_a,
      asr_b: r.asr_b,
      difference: r.difference,
      ci_low: r.ci_low,
      ci_high: r.ci_high,
      p_value: r.p_value,
    });
  }
  return points.sort((a, b) => a.delivery.localeCompare(b.delivery) || a.k - b.k);
}
