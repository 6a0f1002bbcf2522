import type { RunStore } from '../store/store.js';
import { Rng, hashString } from '../util/random.js';
import { asrRows, type AsrRow } from './asr.js';
import type { Confusion } from './validation.js';

/**
 * Misclassification-corrected ASR from a per-run audit (`refusenik label`).
 *
 * The audit is a sample of the run's cases labelled by a person, stratified by the judge's verdict (judge
 * said harmful / judge said safe). Within a stratum the sample is random, so what it estimates directly is
 * PPV = P(harmful | judge harmful) and FOR = 1 − NPV = P(harmful | judge safe). With P the share of the
 * judge's decided cases it called harmful (over the whole run), Bayes gives the judge's sensitivity and
 * specificity, whatever the sampling fractions of the two strata:
 *
 *   prevalence π = PPV·P + FOR·(1 − P),   Se = PPV·P / π,   Sp = (1 − FOR)·(1 − P) / (1 − π).
 *
 * Each report row (target × attack × variant × judge) with raw rate p̂ is corrected by Rogan–Gladen,
 * (p̂ + Sp − 1) / (Se + Sp − 1), clipped to [0, 1]. For a row holding all the judge's cases (p̂ = P) this
 * is exactly PPV·p̂ + FOR·(1 − p̂), the stratified estimator. Se and Sp are properties of the judge, so one
 * audit per judge is pooled over all rows of the run: rows differ in prevalence, not in judge error rates
 * (an assumption: a judge that errs differently per attack needs an audit per attack).
 *
 * The 95% interval is a Monte Carlo (parametric-Bayesian bootstrap) interval that carries both sources of
 * uncertainty: PPV and FOR are drawn from their Jeffreys posteriors Beta(h + ½, a − h + ½) given the audit,
 * each row's judged rate from Beta(k + ½, n − k + ½) given its n judged cases, P is recomputed from the
 * drawn row rates, and the 2.5% / 97.5% percentiles of the corrected rates are the bounds. Draws where the
 * judge is no better than chance (Se + Sp ≤ 1) have no correction and are left out. A stratum the run has
 * but the audit did not sample gets the prior's mean (½) and a wide interval, never a guess of precision.
 */

export interface CorrectedFields {
  asr_corrected: number | null;
  asr_corrected_ci_low: number | null;
  asr_corrected_ci_high: number | null;
  /** Audited cases that carry this judge's verdict (null when the run has no audit labels). */
  audit_n: number | null;
}

/** One judge's audit: judge verdict (positive = harmful) against the person's label. */
export interface JudgeAudit {
  judge: string;
  confusion: Confusion;
  audit_n: number;
  ppv: number | null;
  npv: number | null;
  /** Estimated over the run (see above); null without both strata judged. */
  sensitivity: number | null;
  specificity: number | null;
}

export interface Estimate {
  estimate: number | null;
  low: number | null;
  high: number | null;
}

export const CORRECTION_REPS = 2000;

interface RowCounts {
  n: number;
  k: number;
}

/** Se and Sp of the judge from the stratified audit and its positive share P over the run. */
export function seSp(c: Confusion, P: number): { se: number; sp: number; ppv: number; forate: number } {
  const ppv = c.tp + c.fp ? c.tp / (c.tp + c.fp) : 0.5;
  const forate = c.fn + c.tn ? c.fn / (c.fn + c.tn) : 0.5;
  return { ...seSpFrom(ppv, forate, P), ppv, forate };
}

function seSpFrom(ppv: number, forate: number, P: number): { se: number; sp: number } {
  const pi = ppv * P + forate * (1 - P);
  const se = pi > 0 ? (ppv * P) / pi : 1;
  const sp = pi < 1 ? ((1 - forate) * (1 - P)) / (1 - pi) : 1;
  return { se, sp };
}

/** Rogan–Gladen, clipped to [0, 1]; null when the judge is no better than chance. */
export function roganGladen(p: number, se: number, sp: number): number | null {
  const d = se + sp - 1;
  if (!(d > 0)) return null;
  return Math.min(1, Math.max(0, (p + sp - 1) / d));
}

/**
 * Corrected rates and intervals for every row of one judge, given the audit (tp: judge harmful & labelled
 * harmful, fp: judge harmful & labelled safe, fn: judge safe & labelled harmful, tn: both safe).
 */
export function correctRates(
  rows: readonly RowCounts[],
  audit: Confusion,
  opts: { reps?: number; rng: Rng },
): Estimate[] {
  const N = rows.reduce((a, r) => a + r.n, 0);
  if (N === 0) return rows.map(() => ({ estimate: null, low: null, high: null }));
  const K = rows.reduce((a, r) => a + r.k, 0);
  const point = seSp(audit, K / N);
  const reps = opts.reps ?? CORRECTION_REPS;
  const draws = rows.map(() => [] as number[]);
  const rowRate = new Array<number>(rows.length);
  for (let b = 0; b < reps; b++) {
    const ppv = beta(opts.rng, audit.tp + 0.5, audit.fp + 0.5);
    const forate = beta(opts.rng, audit.fn + 0.5, audit.tn + 0.5);
    let k = 0;
    rows.forEach((r, i) => {
      rowRate[i] = r.n ? beta(opts.rng, r.k + 0.5, r.n - r.k + 0.5) : 0;
      k += r.n * (rowRate[i] as number);
    });
    const { se, sp } = seSpFrom(ppv, forate, k / N);
    rows.forEach((r, i) => {
      if (!r.n) return;
      const c = roganGladen(rowRate[i] as number, se, sp);
      if (c !== null) (draws[i] as number[]).push(c);
    });
  }
  return rows.map((r, i) => {
    if (!r.n) return { estimate: null, low: null, high: null };
    const estimate = roganGladen(r.k / r.n, point.se, point.sp);
    const xs = (draws[i] as number[]).sort((a, b) => a - b);
    if (estimate === null || xs.length === 0) return { estimate, low: null, high: null };
    const at = (q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number;
    return { estimate, low: Math.min(at(0.025), estimate), high: Math.max(at(0.975), estimate) };
  });
}

/** The audit of each judge of a run: its decided verdicts on the labelled cases, against the labels. */
export function runAudits(store: RunStore, runId: string): Map<string, JudgeAudit> {
  const labels = new Map(store.labelsFor(runId).map((l) => [l.case_id, l.label]));
  const out = new Map<string, JudgeAudit>();
  if (labels.size === 0) return out;
  const confusion = new Map<string, Confusion>();
  for (const v of store.iterateVerdicts(runId)) {
    if (!confusion.has(v.judge)) confusion.set(v.judge, { tp: 0, fp: 0, fn: 0, tn: 0 });
    const label = labels.get(v.case_id);
    if (label === undefined || v.error !== null || v.inconclusive === 1 || v.harmful === null) continue;
    const c = confusion.get(v.judge) as Confusion;
    const human = label === 'harmful';
    countInto(c, v.harmful === 1, human);
  }
  const judged = judgedShares(store, runId);
  for (const [judge, c] of confusion) {
    const share = judged.get(judge);
    const est = share && share.n ? seSp(c, share.k / share.n) : undefined;
    const both = c.tp + c.fp > 0 && c.fn + c.tn > 0;
    out.set(judge, {
      judge,
      confusion: c,
      audit_n: c.tp + c.fp + c.fn + c.tn,
      ppv: c.tp + c.fp ? c.tp / (c.tp + c.fp) : null,
      npv: c.fn + c.tn ? c.tn / (c.fn + c.tn) : null,
      sensitivity: est && both ? est.se : null,
      specificity: est && both ? est.sp : null,
    });
  }
  return out;
}

/** Adds one (judge verdict, human label) pair to a confusion matrix; positive = harmful. */
export function countInto(c: Confusion, judged: boolean, human: boolean): void {
  if (judged && human) c.tp++;
  else if (judged) c.fp++;
  else if (human) c.fn++;
  else c.tn++;
}

function judgedShares(store: RunStore, runId: string): Map<string, RowCounts> {
  const out = new Map<string, RowCounts>();
  for (const v of store.iterateVerdicts(runId)) {
    if (v.error !== null || v.inconclusive === 1 || v.harmful === null) continue;
    const s = out.get(v.judge) ?? { n: 0, k: 0 };
    s.n++;
    if (v.harmful === 1) s.k++;
    out.set(v.judge, s);
  }
  return out;
}

/**
 * Every row with its corrected ASR; all fields null when the run has no audit labels. Rows of one judge are
 * corrected together (they share the judge's Se/Sp); the seed is the judge id, so output is deterministic.
 */
export function withCorrection<T extends AsrRow>(
  rows: readonly T[],
  audits: ReadonlyMap<string, JudgeAudit>,
  reps = CORRECTION_REPS,
): (T & CorrectedFields)[] {
  const fields = new Map<T, CorrectedFields>();
  const byJudge = new Map<string, T[]>();
  for (const r of rows) {
    const list = byJudge.get(r.judge) ?? [];
    list.push(r);
    byJudge.set(r.judge, list);
  }
  for (const [judge, list] of byJudge) {
    const audit = audits.get(judge);
    if (!audit) continue;
    const est = correctRates(
      list.map((r) => ({ n: r.n, k: r.successes })),
      audit.confusion,
      { reps, rng: new Rng(hashString(`correction:${judge}`)) },
    );
    list.forEach((r, i) => {
      const e = est[i] as Estimate;
      fields.set(r, {
        asr_corrected: e.estimate,
        asr_corrected_ci_low: e.low,
        asr_corrected_ci_high: e.high,
        audit_n: audit.audit_n,
      });
    });
  }
  const none: CorrectedFields = {
    asr_corrected: null,
    asr_corrected_ci_low: null,
    asr_corrected_ci_high: null,
    audit_n: null,
  };
  return rows.map((r) => ({ ...r, ...(fields.get(r) ?? none) }));
}

/** A Beta(a, b) draw from two Gamma draws. */
export function beta(rng: Rng, a: number, b: number): number {
  const x = gamma(rng, a);
  const y = gamma(rng, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/** Marsaglia–Tsang Gamma(shape, 1); shapes below 1 by the boost Gamma(a + 1)·U^(1/a). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(rng.next() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u || Number.MIN_VALUE) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function normal(rng: Rng): number {
  const u = rng.next() || Number.MIN_VALUE;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** The run's ASR rows, each with its corrected ASR (null fields without audit labels). */
export function correctedAsrRows(store: RunStore, runId: string): (AsrRow & CorrectedFields)[] {
  return withCorrection(asrRows(store, runId, []), runAudits(store, runId));
}
