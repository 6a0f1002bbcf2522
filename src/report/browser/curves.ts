import { lineChart, type LineChartSpec } from '../chart/line-chart.js';
import { section, swatch, table, type Cell } from './blocks.js';
import { svgTree } from './dom.js';
import { asrCi, colour, DASH } from './format.js';
import type { Report } from './state.js';

/** An ASR with its 95% interval, at one x of a curve. */
interface AsrPoint {
  asr: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

function figures(p: AsrPoint): string {
  return asrCi({ attack_success_rate: p.asr, ci_low: p.ci_low, ci_high: p.ci_high });
}

/**
 * ASR curves with their intervals (drawn by the shared line chart), then a table with a row per curve: its
 * swatch, its own columns, and its ASR at every tick.
 */
function asrCurves<P extends AsrPoint>(
  app: HTMLElement,
  o: {
    /** The section's id (the chart's is `<id>-chart`), title and note. */
    section: [id: string, title: string, note: string];
    label: string;
    x: LineChartSpec['x'];
    xTitle: string;
    /** The x's name in hover texts and column heads (k, N). */
    xName: string;
    at: (p: P) => number;
    ticks: number[];
    curves: { name: string; points: readonly P[]; columns: Cell[] }[];
    /** Heads of the curves' own columns. */
    head: string[];
  },
): void {
  if (!o.curves.length) return;
  const [id, title, note] = o.section;
  const parent = section(app, id, title, note);
  const chart = lineChart({
    id: `${id}-chart`,
    label: o.label,
    width: 960,
    height: 320,
    margin: { left: 56, right: 20, top: 16, bottom: 40 },
    x: o.x,
    xTicks: o.ticks,
    xTitle: o.xTitle,
    curves: o.curves.map((c, i) => ({
      colour: colour(i),
      dots: true,
      title: c.name,
      points: c.points.map((p) => ({
        x: o.at(p),
        y: p.asr,
        low: p.ci_low,
        high: p.ci_high,
        title: `${c.name} \u00b7 ${o.xName} = ${o.at(p)}: ${figures(p)}`,
      })),
    })),
  });
  svgTree(parent, chart);
  table(
    parent,
    ['', ...o.head, ...o.ticks.map((t) => `${o.xName} = ${t}`)],
    o.curves.map((c, i) => [
      swatch(i),
      ...c.columns,
      ...o.ticks.map((t) => {
        const p = c.points.find((q) => o.at(q) === t);
        return p ? figures(p) : DASH;
      }),
    ]),
    1 + o.head.length,
  );
}

/** Prefill depth: ASR(k) per target × delivery × judge. */
export function renderDepth({ data, app }: Report): void {
  const depth = data.depth || [];
  let maxK = 1;
  const ticks: number[] = [];
  for (const c of depth)
    for (const p of c.points) {
      if (p.k > maxK) maxK = p.k;
      if (!ticks.includes(p.k)) ticks.push(p.k);
    }
  asrCurves(app, {
    section: [
      'depth',
      'Prefill depth',
      'ASR with the first k tokens of a harmful response placed at the start of the answer (Qi et al., 2024), with 95% Wilson intervals. ' +
        'A curve that climbs from k = 0 means the alignment is only a few tokens deep; a flat one means the model refuses at any depth.',
    ],
    label: 'ASR by prefill depth',
    x: { min: 0, max: maxK },
    xTitle: 'prefilled harmful tokens (k)',
    xName: 'k',
    at: (p) => p.k,
    ticks,
    head: ['target', 'delivery', 'judge'],
    curves: depth.map((c) => ({
      name: `${c.target} \u00b7 ${c.delivery} \u00b7 ${c.judge}`,
      points: c.points,
      columns: [c.target, c.delivery, c.judge],
    })),
  });
}

/** Best-of-N: ASR(N) on a log axis per target × variant, with the power-law fit. */
export function renderBon({ data, app }: Report): void {
  const bon = data.bon || [];
  let maxN = 2;
  for (const c of bon) if (c.budget > maxN) maxN = c.budget;
  const ticks: number[] = [];
  for (const c of bon) for (const p of c.points) if (!ticks.includes(p.n)) ticks.push(p.n);
  ticks.sort((a, b) => a - b);
  asrCurves(app, {
    section: [
      'bon',
      'Best-of-N',
      "ASR when up to N augmented samples per goal are allowed (Hughes et al., 2024), read from each goal's samples to its first harmful verdict, with 95% Wilson intervals. " +
        "The fit is the paper's power law, -log ASR(N) = a \u00b7 N^(-b), on the points with 0 < ASR < 1.",
    ],
    label: 'ASR by Best-of-N samples',
    x: { min: 1, max: maxN, log: true },
    xTitle: 'samples per goal (N, log scale)',
    xName: 'N',
    at: (p) => p.n,
    ticks,
    head: ['target', 'variant', 'goals', 'mean samples to success', 'fit a, b (R\u00b2)'],
    curves: bon.map((c) => ({
      name: `${c.target} \u00b7 ${c.variant}`,
      points: c.points,
      columns: [
        c.target,
        c.variant,
        String(c.goals),
        c.mean_samples_to_success === null ? DASH : c.mean_samples_to_success.toFixed(1),
        c.fit ? `${c.fit.a.toFixed(2)}, ${c.fit.b.toFixed(2)} (${c.fit.r2.toFixed(2)})` : DASH,
      ],
    })),
  });
}
