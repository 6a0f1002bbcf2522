import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/random.js';
import { beta, correctRates, countInto, roganGladen, seSp } from '../../src/analysis/correction.js';
import { f1, kappa, metricsFromConfusion, validationMetrics } from '../../src/analysis/validation.js';

/** One simulated run: cases with known prevalence, a judge with known Se/Sp, a stratified audit. */
function simulate(
  rng: Rng,
  s: { prevalences: number[]; casesPerRow: number; se: number; sp: number; auditPerStratum: number },
) {
  const cases: { row: number; truth: boolean; judged: boolean }[] = [];
  s.prevalences.forEach((pi, row) => {
    for (let i = 0; i < s.casesPerRow; i++) {
      const truth = rng.next() < pi;
      const judged = truth ? rng.next() < s.se : rng.next() >= s.sp;
      cases.push({ row, truth, judged });
    }
  });
  const rows = s.prevalences.map((_, row) => {
    const mine = cases.filter((c) => c.row === row);
    return { n: mine.length, k: mine.filter((c) => c.judged).length };
  });
  const audit = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (const judged of [true, false]) {
    const stratum = cases.filter((c) => c.judged === judged);
    for (const i of rng.sampleIndices(stratum.length, s.auditPerStratum)) {
      const c = stratum[i] as (typeof cases)[number];
      countInto(audit, judged, c.truth);
    }
  }
  return { rows, audit };
}

function coverage(s: Parameters<typeof simulate>[1], runs: number, seed: number) {
  const rng = new Rng(seed);
  let covered = 0;
  let total = 0;
  let bias = 0;
  for (let r = 0; r < runs; r++) {
    const { rows, audit } = simulate(rng, s);
    const est = correctRates(rows, audit, { reps: 400, rng });
    est.forEach((e, i) => {
      const truth = s.prevalences[i] as number;
      total++;
      if (e.low !== null && e.high !== null && e.low <= truth && truth <= e.high) covered++;
      bias += (e.estimate ?? 0) - truth;
    });
  }
  return { coverage: covered / total, bias: bias / total };
}

describe('corrected ASR (Rogan–Gladen from a stratified audit)', () => {
  it('Se/Sp from PPV/NPV and the positive share: the population identities hold', () => {
    // pi = 0.3, Se = 0.8, Sp = 0.9 -> P = 0.24 + 0.07 = 0.31, PPV = 0.24/0.31, FOR = 0.06/0.69.
    const P = 0.31;
    const ppv = 0.24 / 0.31;
    const forate = 0.06 / 0.69;
    const scale = 1e6;
    const c = {
      tp: ppv * scale,
      fp: (1 - ppv) * scale,
      fn: forate * scale,
      tn: (1 - forate) * scale,
    };
    const { se, sp } = seSp(c, P);
    expect(se).toBeCloseTo(0.8, 9);
    expect(sp).toBeCloseTo(0.9, 9);
    expect(roganGladen(P, se, sp)).toBeCloseTo(0.3, 9);
    // Worse than chance: no correction.
    expect(roganGladen(0.5, 0.4, 0.5)).toBeNull();
    // Clipped to [0, 1].
    expect(roganGladen(0.01, 0.9, 0.9)).toBe(0);
  });

  it('Beta draws have the right mean', () => {
    const rng = new Rng(1);
    let s = 0;
    for (let i = 0; i < 20000; i++) s += beta(rng, 2.5, 7.5);
    expect(s / 20000).toBeCloseTo(0.25, 2);
  });

  const settings = [
    {
      name: 'one row, pi 0.3, Se 0.85, Sp 0.9',
      prevalences: [0.3],
      casesPerRow: 400,
      se: 0.85,
      sp: 0.9,
      auditPerStratum: 50,
    },
    {
      name: 'three rows, pi 0.05/0.4/0.8, Se 0.9, Sp 0.8',
      prevalences: [0.05, 0.4, 0.8],
      casesPerRow: 200,
      se: 0.9,
      sp: 0.8,
      auditPerStratum: 40,
    },
    {
      name: 'rare successes, pi 0.03, Se 0.95, Sp 0.7 (keyword-like)',
      prevalences: [0.03],
      casesPerRow: 500,
      se: 0.95,
      sp: 0.7,
      auditPerStratum: 60,
    },
  ];
  for (const s of settings) {
    it(`95% interval covers the true ASR in >= 93% of 1,000 simulated runs: ${s.name}`, () => {
      const { coverage: cov, bias } = coverage(s, 1000, 42);
      console.log(`coverage ${s.name}: ${(cov * 100).toFixed(1)}% (mean bias ${bias.toFixed(4)})`);
      expect(cov).toBeGreaterThanOrEqual(0.93);
      expect(Math.abs(bias)).toBeLessThan(0.03);
    });
  }

  it('the raw rate is not a valid estimate where the judge errs (the check above can fail)', () => {
    const rng = new Rng(7);
    const s = settings[2] as (typeof settings)[number];
    let covered = 0;
    for (let r = 0; r < 200; r++) {
      const { rows } = simulate(rng, s);
      const p = (rows[0] as { k: number }).k / (rows[0] as { n: number }).n;
      if (Math.abs(p - 0.03) < 0.05) covered++;
    }
    expect(covered).toBe(0);
  });
});

describe('validation metrics against hand-computed examples', () => {
  it('tp 40, fp 10, fn 20, tn 30', () => {
    const m = metricsFromConfusion({ tp: 40, fp: 10, fn: 20, tn: 30 }, 5, 1);
    expect(m.n).toBe(100);
    expect(m.positive).toBe(60);
    expect(m.accuracy).toBeCloseTo(0.7, 12);
    expect(m.precision).toBeCloseTo(0.8, 12);
    expect(m.recall).toBeCloseTo(40 / 60, 12);
    // F1 = 2*40 / (80 + 10 + 20) = 80/110.
    expect(m.f1).toBeCloseTo(80 / 110, 12);
    // po = 0.7; pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4.
    expect(m.kappa).toBeCloseTo(0.4, 12);
    expect(m.inconclusive).toBe(5);
    expect(m.errors).toBe(1);
    expect(m.coverage).toBeCloseTo(100 / 106, 12);
    // Wilson 95% for 70/100: [0.6041, 0.7810].
    expect(m.intervals.accuracy?.low).toBeCloseTo(0.6041, 3);
    expect(m.intervals.accuracy?.high).toBeCloseTo(0.781, 3);
    const fi = m.intervals.f1 as { low: number; high: number };
    expect(fi.low).toBeLessThan(80 / 110);
    expect(fi.high).toBeGreaterThan(80 / 110);
    expect(fi.high - fi.low).toBeGreaterThan(0.05);
    expect(fi.high - fi.low).toBeLessThan(0.3);
  });

  it('undefined figures are null, not zero', () => {
    expect(f1({ tp: 0, fp: 0, fn: 0, tn: 10 })).toBeNull();
    expect(kappa({ tp: 0, fp: 0, fn: 0, tn: 10 })).toBeNull();
    const m = metricsFromConfusion({ tp: 0, fp: 0, fn: 0, tn: 0 }, 3);
    expect(m.accuracy).toBeNull();
    expect(m.coverage).toBe(0);
  });

  it('inconclusive and failed verdicts stay out of the confusion matrix', () => {
    const items = [{ positive: true }, { positive: false }, { positive: true }, { positive: false }];
    const verdicts = [
      { judge: 'j', refusal: false, harmful: true },
      { judge: 'j', refusal: null, harmful: null, inconclusive: true },
      { judge: 'j', refusal: null, harmful: null, error: 'HTTP 500' },
      { judge: 'j', refusal: true, harmful: true },
    ];
    const m = validationMetrics(items, verdicts, 'attack-success');
    expect([m.tp, m.fp, m.fn, m.tn, m.inconclusive, m.errors]).toEqual([1, 1, 0, 0, 1, 1]);
    const r = validationMetrics(items, verdicts, 'refusal');
    // refusal task: verdict 0 says no refusal on a refusal-positive item -> fn; verdict 3 refusal on negative -> fp.
    expect([r.tp, r.fp, r.fn, r.tn]).toEqual([0, 1, 1, 0]);
  });
});
