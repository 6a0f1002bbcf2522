import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  binomialHalfCdf,
  cohenKappa,
  mcnemarExact,
  pairedDifferenceCi,
  wilson,
} from '../../src/analysis/stats.js';

/** Binomial(n, 1/2) CDF the slow, obvious way (exact in doubles for small n). */
function naiveCdf(k: number, n: number): number {
  let c = 1;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += c;
    c = (c * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

describe('wilson', () => {
  it('matches closed forms at the edges and a textbook value', () => {
    const z2 = 1.959963984540054 ** 2;
    // 0/n: upper limit z²/(n + z²); n/n mirrors it.
    expect(wilson(0, 10).high).toBeCloseTo(z2 / (10 + z2), 12);
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(10, 10).low).toBeCloseTo(10 / (10 + z2), 12);
    expect(wilson(10, 10).high).toBe(1);
    // 1/10: 0.0179 to 0.4042 (Newcombe 1998, Table I, Wilson score method).
    expect(wilson(1, 10).low).toBeCloseTo(0.0179, 4);
    expect(wilson(1, 10).high).toBeCloseTo(0.4042, 4);
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
  });

  it('always contains the point estimate and stays in [0, 1]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, f) => {
        const k = Math.round(f * n);
        const { low, high } = wilson(k, n);
        expect(low).toBeGreaterThanOrEqual(0);
        expect(high).toBeLessThanOrEqual(1);
        expect(low).toBeLessThanOrEqual(k / n + 1e-12);
        expect(high).toBeGreaterThanOrEqual(k / n - 1e-12);
      }),
    );
  });
});

describe('McNemar exact test', () => {
  it('agrees with the direct binomial sum', () => {
    for (const n of [1, 2, 7, 20, 60]) {
      for (let k = 0; k <= n; k++) expect(binomialHalfCdf(k, n)).toBeCloseTo(naiveCdf(k, n), 12);
    }
  });

  it('gives the known p-values', () => {
    // b = 2, c = 9: 2 · (1 + 11 + 55) / 2^11 = 134 / 2048.
    expect(mcnemarExact(2, 9).p_value).toBeCloseTo(134 / 2048, 12);
    expect(mcnemarExact(9, 2).p_value).toBeCloseTo(134 / 2048, 12);
    // 0 vs 6: 2 / 64.
    expect(mcnemarExact(0, 6).p_value).toBeCloseTo(2 / 64, 12);
    expect(mcnemarExact(5, 5).p_value).toBe(1);
    expect(mcnemarExact(0, 0).p_value).toBe(1);
  });

  it('stays finite and ordered for thousands of discordant pairs (no underflow to NaN)', () => {
    const p = mcnemarExact(900, 1100).p_value;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-4);
    expect(mcnemarExact(990, 1010).p_value).toBeGreaterThan(p);
    expect(Number.isFinite(mcnemarExact(0, 5000).p_value)).toBe(true);
  });
});

describe('paired difference interval (Newcombe method 10)', () => {
  it('contains the estimate, stays in [-1, 1] and flips sign when the conditions swap', () => {
    fc.assert(
      fc.property(fc.nat(40), fc.nat(40), fc.nat(40), fc.nat(40), (a, b, c, d) => {
        fc.pre(a + b + c + d > 0);
        const ci = pairedDifferenceCi({ a, b, c, d });
        const swapped = pairedDifferenceCi({ a, b: c, c: b, d });
        expect(ci.estimate).toBeCloseTo((b - c) / (a + b + c + d), 12);
        expect(ci.low).toBeLessThanOrEqual(ci.estimate + 1e-12);
        expect(ci.high).toBeGreaterThanOrEqual(ci.estimate - 1e-12);
        expect(ci.low).toBeGreaterThanOrEqual(-1);
        expect(ci.high).toBeLessThanOrEqual(1);
        expect(swapped.low).toBeCloseTo(-ci.high, 12);
        expect(swapped.high).toBeCloseTo(-ci.low, 12);
      }),
    );
  });

  it('is narrower for positively correlated pairs than for independent-looking ones', () => {
    // Same margins (30/100 vs 20/100); concordant pairs make the paired interval tighter.
    const correlated = pairedDifferenceCi({ a: 20, b: 10, c: 0, d: 70 });
    const uncorrelated = pairedDifferenceCi({ a: 6, b: 24, c: 14, d: 56 });
    expect(correlated.estimate).toBeCloseTo(0.1, 12);
    expect(uncorrelated.estimate).toBeCloseTo(0.1, 12);
    expect(correlated.high - correlated.low).toBeLessThan(uncorrelated.high - uncorrelated.low);
    expect(correlated.low).toBeGreaterThan(0); // 10 vs 0 discordant: significant
  });
});

describe("Cohen's kappa", () => {
  it('matches hand-computed values', () => {
    // po = 0.7, pe = 0.5·0.6 + 0.5·0.4 = 0.5 → 0.4.
    expect(
      cohenKappa([
        [20, 5],
        [10, 15],
      ]),
    ).toBeCloseTo(0.4, 12);
    expect(
      cohenKappa([
        [10, 0],
        [0, 10],
      ]),
    ).toBe(1);
    // Systematic disagreement is below chance.
    expect(
      cohenKappa([
        [0, 10],
        [10, 0],
      ]),
    ).toBe(-1);
    // Both raters always say the same single label: undefined.
    expect(
      cohenKappa([
        [10, 0],
        [0, 0],
      ]),
    ).toBeNull();
    expect(() => cohenKappa([[1, 2]])).toThrow(/square/);
  });
});
