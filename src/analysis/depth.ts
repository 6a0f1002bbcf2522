import { parsePrefillVariant, PREFILL_ATTACK } from '../attack/prefill/variant.js';
import type { AsrRow } from './asr.js';

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
