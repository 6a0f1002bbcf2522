import { BON_ATTACK } from '../attack/bon/index.js';
import type { RunStore } from '../store/store.js';
import { wilson } from './stats.js';

/**
 * Best-of-N's scaling curve (Hughes et al., 2024, Fig. 1): ASR as a function of N, the number of augmented
 * samples allowed per goal. Each Best-of-N case stores `first_success`, the samples it took to the first
 * harmful verdict (null when the budget ran out), so ASR(N) = goals with first_success ≤ N over goals, for
 * every N up to the budget, from one search. The paper fits `-log ASR(N) = a · N^(-b)` (a power law in N of
 * the negative log ASR) and extrapolates with it; the fit here is least squares on
 * `log(-log ASR) = log a - b log N` over the points with 0 < ASR < 1.
 */

export interface BonPoint {
  n: number;
  goals: number;
  successes: number;
  asr: number;
  ci_low: number;
  ci_high: number;
}

export interface PowerLawFit {
  a: number;
  b: number;
  /** Coefficient of determination of the straight line in log-log space. */
  r2: number;
  /** Points the line was fitted on (0 < ASR < 1). */
  points: number;
}

export interface BonCurve {
  target: string;
  variant: string;
  goals: number;
  budget: number;
  /** Mean samples to the first success, over the goals that succeeded (null when none did). */
  mean_samples_to_success: number | null;
  points: BonPoint[];
  fit: PowerLawFit | null;
}

/** What a curve is read from: one stored case of the run. */
export interface BonCaseInput {
  target: string;
  attack: string;
  variant: string;
  trace: unknown;
}

interface Summary {
  budget: number;
  first_success: number | null;
}

/** The Best-of-N summary step of a case's trace, if it has one. */
export function bonSummary(trace: unknown): Summary | undefined {
  if (!Array.isArray(trace)) return undefined;
  for (const step of trace as unknown[]) {
    if (!step || typeof step !== 'object') continue;
    const s = step as Record<string, unknown>;
    if (s['attack'] !== BON_ATTACK || s['step'] !== 'summary') continue;
    const budget = s['budget'];
    const first = s['first_success'];
    if (typeof budget !== 'number' || (first !== null && typeof first !== 'number')) return undefined;
    return { budget, first_success: first };
  }
  return undefined;
}

/** N at which the curve is shown: powers of two up to the budget, and the budget itself. */
export function curveNs(budget: number): number[] {
  const ns: number[] = [];
  for (let n = 1; n < budget; n *= 2) ns.push(n);
  ns.push(budget);
  return ns;
}

/** Least squares of log(-log ASR) on log N; null with fewer than two usable points. */
export function fitPowerLaw(points: readonly { n: number; asr: number }[]): PowerLawFit | null {
  const xy = points
    .filter((p) => p.asr > 0 && p.asr < 1)
    .map((p) => [Math.log(p.n), Math.log(-Math.log(p.asr))]);
  if (xy.length < 2) return null;
  const mx = xy.reduce((s, [x]) => s + (x as number), 0) / xy.length;
  const my = xy.reduce((s, [, y]) => s + (y as number), 0) / xy.length;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of xy as [number, number][]) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  return {
    a: Math.exp(my - slope * mx),
    b: -slope,
    r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy),
    points: xy.length,
  };
}

/** ASR(N) per target x variant of the `bon` attack, with Wilson 95% intervals and the power-law fit. */
export function bonCurves(cases: Iterable<BonCaseInput>): BonCurve[] {
  const groups = new Map<string, { target: string; variant: string; summaries: Summary[] }>();
  for (const c of cases) {
    if (c.attack !== BON_ATTACK) continue;
    const s = bonSummary(c.trace);
    if (!s) continue;
    const key = JSON.stringify([c.target, c.variant]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { target: c.target, variant: c.variant, summaries: [] }));
    g.summaries.push(s);
  }
  return [...groups.values()].map(({ target, variant, summaries }) => {
    const budget = Math.max(...summaries.map((s) => s.budget));
    const firsts = summaries.map((s) => s.first_success).filter((f): f is number => f !== null);
    const points = curveNs(budget).map((n): BonPoint => {
      const successes = firsts.filter((f) => f <= n).length;
      const ci = wilson(successes, summaries.length);
      return {
        n,
        goals: summaries.length,
        successes,
        asr: successes / summaries.length,
        ci_low: ci.low,
        ci_high: ci.high,
      };
    });
    return {
      target,
      variant,
      goals: summaries.length,
      budget,
      mean_samples_to_success: firsts.length ? firsts.reduce((s, f) => s + f, 0) / firsts.length : null,
      points,
      fit: fitPowerLaw(points),
    };
  });
}

/** The curves of a stored run. */
export function runBonCurves(store: RunStore, runId: string): BonCurve[] {
  return bonCurves(store.iterateCases(runId));
}
