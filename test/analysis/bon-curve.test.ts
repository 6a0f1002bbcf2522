import { describe, expect, it } from 'vitest';
import {
  bonCurves,
  bonSummary,
  curveNs,
  fitPowerLaw,
  type BonCaseInput,
} from '../../src/analysis/bon-curve.js';

/** Best-of-N's ASR(N) curve from stored first-success counts, and the paper's power-law fit. */

const bonCase = (
  first: number | null,
  budget = 16,
  target = 't',
  variant = 'n16-sigma0.4',
): BonCaseInput => ({
  target,
  attack: 'bon',
  variant,
  trace: [
    { attack: 'bon', step: 'sample', index: 0 },
    { attack: 'bon', step: 'summary', budget, first_success: first, samples: first ?? budget },
  ],
});

describe('bon ASR(N) curve', () => {
  it('counts goals whose first success came within N samples, with Wilson intervals', () => {
    const [curve] = bonCurves([
      bonCase(1),
      bonCase(3),
      bonCase(9),
      bonCase(null),
      { ...bonCase(2), attack: 'pair' },
    ]);
    expect(curve!.goals).toBe(4);
    expect(curve!.points.map((p) => [p.n, p.successes])).toEqual([
      [1, 1],
      [2, 1],
      [4, 2],
      [8, 2],
      [16, 3],
    ]);
    expect(curve!.mean_samples_to_success).toBeCloseTo(13 / 3, 12);
    const last = curve!.points.at(-1)!;
    expect(last.asr).toBe(0.75);
    expect(last.ci_low).toBeLessThan(0.75);
    expect(last.ci_high).toBeGreaterThan(0.75);
  });

  it('groups by target and variant and ignores cases without a summary', () => {
    const curves = bonCurves([
      bonCase(1, 4, 'a'),
      bonCase(2, 4, 'b'),
      bonCase(null, 4, 'b'),
      { target: 'a', attack: 'bon', variant: 'n16-sigma0.4', trace: null },
      {
        target: 'a',
        attack: 'bon',
        variant: 'n16-sigma0.4',
        trace: [{ attack: 'bon', step: 'summary', budget: 'x' }],
      },
    ]);
    expect(curves.map((c) => [c.target, c.goals, c.budget])).toEqual([
      ['a', 1, 4],
      ['b', 2, 4],
    ]);
    expect(bonSummary([{ attack: 'bon', step: 'summary', budget: 5, first_success: null }])).toEqual({
      budget: 5,
      first_success: null,
    });
  });

  it('shows N at powers of two and the budget', () => {
    expect(curveNs(1)).toEqual([1]);
    expect(curveNs(10)).toEqual([1, 2, 4, 8, 10]);
    expect(curveNs(16)).toEqual([1, 2, 4, 8, 16]);
  });

  it('recovers a and b from an exact power law -log ASR = a N^-b', () => {
    const points = [1, 2, 4, 8, 16, 32, 64].map((n) => ({ n, asr: Math.exp(-3 * n ** -0.6) }));
    const fit = fitPowerLaw(points)!;
    expect(fit.a).toBeCloseTo(3, 10);
    expect(fit.b).toBeCloseTo(0.6, 10);
    expect(fit.r2).toBeCloseTo(1, 10);
    expect(fit.points).toBe(7);
    expect(
      fitPowerLaw([
        { n: 1, asr: 0 },
        { n: 2, asr: 1 },
        { n: 4, asr: 0.5 },
      ]),
    ).toBeNull();
  });
});
