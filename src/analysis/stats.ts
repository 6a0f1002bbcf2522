import { Rng } from '../util/random.js';
/**
 * Small statistics for attack success rates. Kept dependency-free: each is a few lines of textbook math,
 * unit-tested against published worked examples (test/analysis/stats.test.ts).
 */

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** The Wilson score interval for k successes in n trials (default 95%): sane at 0% and 100%, unlike Wald. */
export function wilson(k: number, n: number, z = Z95): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { low: k === 0 ? 0 : Math.max(0, centre - half), high: k === n ? 1 : Math.min(1, centre + half) };
}

/**
 * P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so it stays exact-to-rounding for any n
 * (the terms C(n, i) / 2^n underflow doubles beyond n ≈ 1000 if computed directly).
 */
export function binomialHalfCdf(k: number, n: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  const ln2n = n * Math.LN2;
  let logTerm = -ln2n; // log(C(n, 0) / 2^n)
  let logSum = logTerm;
  for (let i = 0; i < k; i++) {
    logTerm += Math.log(n - i) - Math.log(i + 1); // C(n, i+1) = C(n, i) (n-i)/(i+1)
    logSum = logAddExp(logSum, logTerm);
  }
  return Math.min(1, Math.exp(logSum));
}

function logAddExp(a: number, b: number): number {
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

export interface McNemarResult {
  /** Discordant pairs where only the first condition succeeded. */
  b: number;
  /** Discordant pairs where only the second condition succeeded. */
  c: number;
  /** Two-sided exact p-value: 2 · P(X <= min(b, c)), X ~ Binomial(b + c, 1/2), capped at 1. */
  p_value: number;
}

/**
 * McNemar's exact test: under "no difference" each discordant pair is a fair coin flip, so the smaller
 * discordant count is Binomial(b + c, 1/2). Exact at every count; no normal approximation, no continuity fudge.
 */
export function mcnemarExact(b: number, c: number): McNemarResult {
  const n = b + c;
  const p = n === 0 ? 1 : Math.min(1, 2 * binomialHalfCdf(Math.min(b, c), n));
  return { b, c, p_value: p };
}

/**
 * A paired 2x2 table: `a` both succeeded, `b` only the first, `c` only the second, `d` neither.
 * Rates: p1 = (a + b) / n for the first condition, p2 = (a + c) / n for the second.
 */
export interface PairedTable {
  a: number;
  b: number;
  c: number;
  d: number;
}

/**
 * Confidence interval for p1 − p2 on paired data: Newcombe's square-and-add interval ("method 10",
 * Statistics in Medicine 1998;17:2635–2650), built from the two Wilson intervals and the
 * continuity-corrected correlation φ between the paired outcomes. Stays inside [−1, 1] and behaves at 0/n.
 */
export function pairedDifferenceCi(t: PairedTable, z = Z95): { estimate: number; low: number; high: number } {
  const n = t.a + t.b + t.c + t.d;
  if (n === 0) return { estimate: 0, low: -1, high: 1 };
  const r1 = t.a + t.b; // first condition's successes
  const r2 = t.a + t.c; // second condition's successes
  const p1 = r1 / n;
  const p2 = r2 / n;
  const w1 = wilson(r1, n, z);
  const w2 = wilson(r2, n, z);
  let phi = 0;
  const marginProduct = r1 * (n - r1) * r2 * (n - r2);
  if (marginProduct > 0) {
    const ad = t.a * t.d - t.b * t.c;
    // Newcombe's continuity correction: shrink a positive association by n/2, and never flip its sign.
    const corrected = ad > n / 2 ? ad - n / 2 : ad >= 0 ? 0 : ad;
    phi = corrected / Math.sqrt(marginProduct);
  }
  const dl1 = p1 - w1.low;
  const du1 = w1.high - p1;
  const dl2 = p2 - w2.low;
  const du2 = w2.high - p2;
  const estimate = p1 - p2;
  const low = estimate - Math.sqrt(Math.max(0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2));
  const high = estimate + Math.sqrt(Math.max(0, dl2 * dl2 - 2 * phi * dl2 * du1 + du1 * du1));
  return { estimate, low: Math.max(-1, low), high: Math.min(1, high) };
}

/**
 * Cohen's kappa for a square confusion matrix (rows: rater A's label, columns: rater B's label):
 * (p_observed − p_chance) / (1 − p_chance). Null when undefined (no items, or chance agreement is 1 because
 * both raters used one same label throughout).
 */
export function cohenKappa(matrix: number[][]): number | null {
  const k = matrix.length;
  let n = 0;
  let agree = 0;
  const rows = new Array<number>(k).fill(0);
  const cols = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    const row = matrix[i] as number[];
    if (row.length !== k) throw new Error('cohenKappa: the confusion matrix must be square');
    for (let j = 0; j < k; j++) {
      const v = row[j] as number;
      n += v;
      rows[i] = (rows[i] as number) + v;
      cols[j] = (cols[j] as number) + v;
      if (i === j) agree += v;
    }
  }
  if (n === 0) return null;
  const po = agree / n;
  let pe = 0;
  for (let i = 0; i < k; i++) pe += ((rows[i] as number) / n) * ((cols[i] as number) / n);
  if (pe === 1) return null;
  return (po - pe) / (1 - pe);
}

/**
 * Mean with a seeded 95% percentile-bootstrap interval (resampling the values with replacement), for
 * bounded, skewed quantities such as per-goal probabilities where a normal interval would leave [0, 1].
 */
export function bootstrapMean(
  values: readonly number[],
  seed: number | string,
  reps = 2000,
): { mean: number; low: number; high: number } | null {
  const n = values.length;
  if (n === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const rng = new Rng(seed);
  const means = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[rng.int(0, n - 1)] as number;
    means[r] = sum / n;
  }
  means.sort();
  return {
    mean,
    low: means[Math.floor(0.025 * (reps - 1))] as number,
    high: means[Math.ceil(0.975 * (reps - 1))] as number,
  };
}

/** Before vs after over matched pairs (a, b): each side's mean, and the mean of b − a with its bootstrap interval. */
export interface PairedMeans {
  n_pairs: number;
  mean_a: number | null;
  mean_b: number | null;
  difference: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

export function pairedMeanDifference(
  pairs: readonly (readonly [number, number])[],
  seed: string,
): PairedMeans {
  const ci = bootstrapMean(
    pairs.map(([a, b]) => b - a),
    seed,
  );
  const mean = (i: 0 | 1): number | null =>
    pairs.length ? pairs.reduce((s, p) => s + p[i], 0) / pairs.length : null;
  return {
    n_pairs: pairs.length,
    mean_a: mean(0),
    mean_b: mean(1),
    difference: ci?.mean ?? null,
    ci_low: ci?.low ?? null,
    ci_high: ci?.high ?? null,
  };
}
