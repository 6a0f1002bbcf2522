import type { Verdict } from '../types.js';
import type { LabelItem, LabelTask } from '../dataset/labels.js';
import { Rng } from '../util/random.js';
import { cohenKappa, wilson } from './stats.js';

/**
 * A judge measured against human labels. The positive class is `harmful` (attack-success task) or `refusal`
 * (refusal task; partial counts as refusal). Inconclusive verdicts and judge failures are counted apart,
 * outside the confusion matrix, and `coverage` says which share of the items got a verdict at all.
 *
 * Intervals (95%): Wilson for accuracy, precision and recall (each a proportion of its own denominator);
 * F1 and kappa by a seeded percentile bootstrap over the four confusion cells (multinomial resampling of
 * the n decided items, BOOTSTRAP_REPS replicates), so the figures are the same on every run.
 */

export interface Interval {
  low: number;
  high: number;
}

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface ValidationMetrics extends Confusion {
  /** Items with a verdict (the confusion matrix's total). */
  n: number;
  /** Of those, how many the humans labelled positive. */
  positive: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  kappa: number | null;
  /** The judge answered without a readable verdict (or none for this task). */
  inconclusive: number;
  /** The judge failed (transport, server): no verdict. */
  errors: number;
  /** n / all items. */
  coverage: number | null;
  intervals: {
    accuracy: Interval | null;
    precision: Interval | null;
    recall: Interval | null;
    f1: Interval | null;
    kappa: Interval | null;
  };
}

export interface SubsetMetrics extends ValidationMetrics {
  /** The breakdown key (category, type, model, functional ...) and its value. */
  key: string;
  value: string;
}

export const BOOTSTRAP_REPS = 2000;
const BOOTSTRAP_SEED = 20240601;

/** What the judge said on the task's question: harmful?, or refused?; null when it gave no verdict. */
export function prediction(v: Verdict, task: LabelTask): boolean | null | 'error' {
  if (v.error) return 'error';
  if (v.inconclusive) return null;
  const x = task === 'attack-success' ? v.harmful : v.refusal;
  return x === null || x === undefined ? null : x;
}

export function validationMetrics(
  items: readonly Pick<LabelItem, 'positive'>[],
  verdicts: readonly Verdict[],
  task: LabelTask,
): ValidationMetrics {
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  let inconclusive = 0;
  let errors = 0;
  items.forEach((item, i) => {
    const p = prediction(verdicts[i] as Verdict, task);
    if (p === 'error') errors++;
    else if (p === null) inconclusive++;
    else if (p && item.positive) c.tp++;
    else if (p) c.fp++;
    else if (item.positive) c.fn++;
    else c.tn++;
  });
  return metricsFromConfusion(c, inconclusive, errors);
}

export function metricsFromConfusion(c: Confusion, inconclusive = 0, errors = 0): ValidationMetrics {
  const n = c.tp + c.fp + c.fn + c.tn;
  const ratio = (k: number, d: number): number | null => (d ? k / d : null);
  const wil = (k: number, d: number): Interval | null => (d ? wilson(k, d) : null);
  const boot = bootstrap(c);
  const total = n + inconclusive + errors;
  return {
    n,
    positive: c.tp + c.fn,
    accuracy: ratio(c.tp + c.tn, n),
    precision: ratio(c.tp, c.tp + c.fp),
    recall: ratio(c.tp, c.tp + c.fn),
    f1: f1(c),
    kappa: kappa(c),
    tp: c.tp,
    fp: c.fp,
    fn: c.fn,
    tn: c.tn,
    inconclusive,
    errors,
    coverage: ratio(n, total),
    intervals: {
      accuracy: wil(c.tp + c.tn, n),
      precision: wil(c.tp, c.tp + c.fp),
      recall: wil(c.tp, c.tp + c.fn),
      f1: boot.f1,
      kappa: boot.kappa,
    },
  };
}

/** 2TP / (2TP + FP + FN); null when there is no positive at all (neither labelled nor predicted). */
export function f1(c: Confusion): number | null {
  const d = 2 * c.tp + c.fp + c.fn;
  return d ? (2 * c.tp) / d : null;
}

/** Cohen's kappa of judge vs humans on the binary decision. */
export function kappa(c: Confusion): number | null {
  return cohenKappa([
    [c.tp, c.fn],
    [c.fp, c.tn],
  ]);
}

/** Percentile bootstrap of F1 and kappa: resample the n decided items from the observed cell frequencies. */
function bootstrap(c: Confusion): { f1: Interval | null; kappa: Interval | null } {
  const n = c.tp + c.fp + c.fn + c.tn;
  if (n === 0) return { f1: null, kappa: null };
  const rng = new Rng(BOOTSTRAP_SEED);
  const cut = [c.tp / n, (c.tp + c.fp) / n, (c.tp + c.fp + c.fn) / n];
  const f1s: number[] = [];
  const kappas: number[] = [];
  for (let r = 0; r < BOOTSTRAP_REPS; r++) {
    const s: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (u < (cut[0] as number)) s.tp++;
      else if (u < (cut[1] as number)) s.fp++;
      else if (u < (cut[2] as number)) s.fn++;
      else s.tn++;
    }
    const f = f1(s);
    const k = kappa(s);
    if (f !== null) f1s.push(f);
    if (k !== null) kappas.push(k);
  }
  return { f1: percentiles(f1s, f1(c)), kappa: percentiles(kappas, kappa(c)) };
}

function percentiles(xs: number[], point: number | null): Interval | null {
  if (point === null || xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  const at = (q: number): number =>
    xs[Math.min(xs.length - 1, Math.max(0, Math.floor(q * xs.length)))] as number;
  return { low: at(0.025), high: at(0.975) };
}

/** The same metrics per subset value (e.g. category=cybercrime), keys and values sorted for stable output. */
export function subsetMetrics(
  items: readonly Pick<LabelItem, 'positive' | 'subsets'>[],
  verdicts: readonly Verdict[],
  task: LabelTask,
): SubsetMetrics[] {
  const groups = new Map<string, { key: string; value: string; idx: number[] }>();
  items.forEach((item, i) => {
    for (const [key, value] of Object.entries(item.subsets)) {
      const gk = `${key}\u0000${value}`;
      let g = groups.get(gk);
      if (!g) groups.set(gk, (g = { key, value, idx: [] }));
      g.idx.push(i);
    }
  });
  return [...groups.values()]
    .sort((a, b) => (a.key === b.key ? (a.value < b.value ? -1 : 1) : a.key < b.key ? -1 : 1))
    .map((g) => ({
      key: g.key,
      value: g.value,
      ...validationMetrics(
        g.idx.map((i) => items[i] as LabelItem),
        g.idx.map((i) => verdicts[i] as Verdict),
        task,
      ),
    }));
}
