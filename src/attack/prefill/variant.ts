/**
 * The prefill attack's variant label, `k<depth>-<delivery>` (e.g. `k20-template`): made here and read back
 * by the depth curves of reports and comparisons, which must not load tokenizers to know a case's k.
 */

export const PREFILL_ATTACK = 'prefill';

export function prefillVariant(k: number, delivery: string): string {
  return `k${k}-${delivery}`;
}

export function parsePrefillVariant(variant: string): { k: number; delivery: string } | undefined {
  const m = /^k(\d+)-([a-z]+)$/.exec(variant);
  return m ? { k: Number(m[1]), delivery: m[2] as string } : undefined;
}
