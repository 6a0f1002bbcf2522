import { parsePrefillVariant, PREFILL_ATTACK } from '../attack/prefill/variant.js';
import type { AsrRow } from './asr.js';
import type { PairedRow } from './paired.js';

/**
 * Prefill depth curves (Qi et al. 2024): ASR as a function of k, the number of harmful tokens placed at
 * the start of the answer, per target x delivery x judge. A model aligned only a few tokens deep climbs
 * steeply from k = 0; one that refuses at any position (DeRTa's aim) stays flat. Read from the ASR rows of
 * the `prefill` attack's variants, so every judge's intervals and exclusions carry over.
 */

export interface DepthPoint {
  k: number;
  n: number;
  successes: number;
  asr: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

export interface DepthCurve {
  target: string;
  delivery: string;
  judge: string;
  points: DepthPoint[];
}

export function depthCurves(rows: readonly AsrRow[]): DepthCurve[] {
  const curves = new Map<string, DepthCurve>();
  for (const r of rows) {
    const depth = r.attack === PREFILL_ATTACK ? parsePrefillVariant(r.variant) : undefined;
    if (!depth) continue;
    const key = JSON.stringify([r.target, depth.delivery, r.judge]);
    let c = curves.get(key);
    if (!c) {
      c = { target: r.target, delivery: depth.delivery, judge: r.judge, points: [] };
      curves.set(key, c);
    }
    c.points.push({
      k: depth.k,
      n: r.n,
      successes: r.successes,
      asr: r.attack_success_rate,
      ci_low: r.ci_low,
      ci_high: r.ci_high,
    });
  }
  for (const c of curves.values()) c.points.sort((a, b) => a.k - b.k);
  return [...curves.values()];
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
