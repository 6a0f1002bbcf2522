/** How the page script writes numbers and names (pure). */

export const DASH = '\u2013';

export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#be185d',
  '#4d7c0f',
  '#7c3aed',
  '#b45309',
];

export function colour(i: number): string {
  return PALETTE[i % PALETTE.length] ?? '#2563eb';
}

export interface AsrFigures {
  attack_success_rate: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? DASH : (x * 100).toFixed(digits) + '%';
}

/** A share in percent with one decimal, null read as 0. */
function pct1(x: number | null): string {
  return ((x ?? 0) * 100).toFixed(1);
}

export function asrCi(r: AsrFigures): string {
  if (r.attack_success_rate === null) return DASH;
  return `${pct(r.attack_success_rate)} [${pct1(r.ci_low)}, ${pct1(r.ci_high)}]`;
}

export function attackName(r: { attack: string; variant: string }): string {
  return r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack;
}

export function short(value: string | null | undefined, n: number): string {
  const s = String(value === null || value === undefined ? '' : value)
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
}
