import { escapeHtml as esc, htmlPage, REPORT_CSS } from '../report/html.js';
import type { PairedComparison } from '../analysis/paired.js';
import type { PairedScoreRow } from '../analysis/paired-scores.js';
import type { RefusalToken, TransitionCurve, TransitionDifference } from '../analysis/transition.js';

/**
 * The loop's before/after page: one static HTML file with no script at all, every value escaped (goals and
 * model names are hostile text), under a CSP that allows only its own style: the stages, the paired
 * comparison (all goals, trained goals, held-out goals), the prefill-depth curve and the transition probe.
 */

export interface LoopReport {
  loop_id: string;
  name: string | null;
  generated_at: string;
  judge: string;
  stages: { name: string; status: string; finished_at: string | null }[];
  before_run: string;
  after_run: string;
  harvest: Record<string, unknown>;
  train: Record<string, unknown>;
  /** Helpfulness / over-refusal sets: their judges' mean scores before and after. */
  evaluations: { name: string; rows: PairedScoreRow[] }[];
  comparison: {
    all: PairedComparison;
    trained_goals: PairedComparison | null;
    held_out_goals: PairedComparison | null;
  };
  transition: {
    curves: TransitionCurve[];
    difference: TransitionDifference[] | null;
    refusal_tokens: RefusalToken[];
  } | null;
}

const pct = (x: number | null | undefined): string =>
  x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`;
const pp = (d: number | null, lo: number | null, hi: number | null): string =>
  d === null
    ? '–'
    : `${(d * 100).toFixed(1)} pp [${((lo ?? 0) * 100).toFixed(1)}, ${((hi ?? 0) * 100).toFixed(1)}]`;

function table(head: string[], rows: string[][], id?: string): string {
  return (
    `<table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>'
  );
}

function comparisonSection(title: string, c: PairedComparison | null, id: string): string {
  if (!c) return '';
  const rows = c.rows.map((r) => [
    esc(r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack),
    esc(r.n_pairs),
    esc(pct(r.asr_a)),
    esc(pct(r.asr_b)),
    esc(pp(r.difference, r.ci_low, r.ci_high)),
    esc(`${r.b} / ${r.c}`),
    esc(r.p_value === null ? '–' : r.p_value < 1e-4 ? r.p_value.toExponential(2) : r.p_value.toFixed(4)),
  ]);
  return (
    `<section class="card" id="${id}"><h2>${esc(title)}</h2>` +
    '<p class="note">Paired by goal, attack variant and sample; difference = after − before with a 95% Newcombe interval; McNemar exact test on the discordant pairs.</p>' +
    table(
      ['attack', 'pairs', 'ASR before', 'ASR after', 'difference', 'only before / only after', 'McNemar p'],
      rows,
    ) +
    '</section>'
  );
}

function evaluationSection(evaluations: LoopReport['evaluations']): string {
  const rows = evaluations.flatMap((e) =>
    e.rows.map((r) => [
      esc(e.name),
      esc(r.judge),
      esc(r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack),
      esc(r.n_pairs),
      esc(pct(r.mean_a)),
      esc(pct(r.mean_b)),
      esc(pp(r.difference, r.ci_low, r.ci_high)),
    ]),
  );
  if (!rows.length) return '';
  return (
    '<section class="card" id="evaluations"><h2>Helpfulness and over-refusal</h2>' +
    "<p class=\"note\">Each evaluation set's judge score (a grader's share correct; XSTest's share of answers that fit the prompt's label), paired by case; difference = after − before with a 95% bootstrap interval.</p>" +
    table(['set', 'judge', 'attack', 'pairs', 'before', 'after', 'difference'], rows, 'evaluation-table') +
    '</section>'
  );
}

function depthSection(c: PairedComparison): string {
  if (!c.depth.length) return '';
  const chart = curveSvg(
    'depth-chart',
    [
      { label: 'before', points: c.depth.map((p) => [p.k, p.asr_a] as const) },
      { label: 'after', points: c.depth.map((p) => [p.k, p.asr_b] as const) },
    ],
    'ASR',
  );
  return (
    '<section class="card" id="depth"><h2>Prefill depth: ASR by k harmful tokens</h2>' +
    chart +
    table(
      ['delivery', 'k', 'ASR before', 'ASR after', 'difference'],
      c.depth.map((p) => [
        esc(p.delivery),
        esc(p.k),
        esc(pct(p.asr_a)),
        esc(pct(p.asr_b)),
        esc(pp(p.difference, p.ci_low, p.ci_high)),
      ]),
    ) +
    '</section>'
  );
}

function transitionSection(t: LoopReport['transition']): string {
  if (!t) return '';
  const tokens = t.refusal_tokens.map((r) => `${JSON.stringify(r.text)} (${r.id})`).join(', ');
  const chart = curveSvg(
    'transition-chart',
    t.curves.map((c) => ({ label: c.target, points: c.points.map((p) => [p.k, p.mean] as const) })),
    'P(refusal token)',
  );
  const rows = t.curves.flatMap((c) =>
    c.points.map((p) => [
      esc(c.target),
      esc(p.k),
      esc(p.n),
      esc(
        p.mean === null
          ? '–'
          : `${p.mean.toFixed(4)} [${(p.ci_low ?? 0).toFixed(4)}, ${(p.ci_high ?? 0).toFixed(4)}]`,
      ),
      esc(p.exact_share === null ? '–' : pct(p.exact_share)),
    ]),
  );
  const diff = t.difference
    ? table(
        ['k', 'goals', 'after − before [95% CI]'],
        t.difference.map((d) => [
          esc(d.k),
          esc(d.n_pairs),
          esc(
            d.difference === null
              ? '–'
              : `${d.difference.toFixed(4)} [${(d.ci_low ?? 0).toFixed(4)}, ${(d.ci_high ?? 0).toFixed(4)}]`,
          ),
        ]),
        'transition-difference',
      )
    : '';
  return (
    '<section class="card" id="transition"><h2>Refusal transition</h2>' +
    `<p class="note">Probability that the next token is a refusal token (${esc(tokens)}) after k tokens of the model's own harmful answer: what RTO trains. Mean over goals, 95% bootstrap interval.</p>` +
    chart +
    table(['model', 'k', 'goals', 'mean P [95% CI]', 'exact readings'], rows) +
    diff +
    '</section>'
  );
}

const COLOURS = ['#dc2626', '#2563eb', '#16a34a', '#d97706'];

function curveSvg(
  id: string,
  series: { label: string; points: (readonly [number, number | null])[] }[],
  yLabel: string,
): string {
  const W = 720,
    H = 260,
    L = 56,
    R = 110,
    T = 14,
    B = 36;
  const maxK = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const x = (k: number): number => L + (k / maxK) * (W - L - R);
  const y = (v: number): number => T + (1 - v) * (H - T - B);
  const grid = [0, 0.5, 1]
    .map(
      (v) =>
        `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v * 100}%</text>`,
    )
    .join('');
  const lines = series
    .map((s, i) => {
      const pts = s.points.filter((p) => p[1] !== null) as [number, number][];
      const colour = COLOURS[i % COLOURS.length] as string;
      return (
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([k, v]) => `${x(k).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>` +
        pts
          .map(([k, v]) => `<circle cx="${x(k).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${colour}"/>`)
          .join('') +
        `<text x="${W - R + 8}" y="${T + 14 + i * 16}" font-size="12" fill="${colour}">${esc(s.label)}</text>`
      );
    })
    .join('');
  return `<svg id="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(yLabel)} by k">${grid}${lines}<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" font-size="11">k (harmful tokens)</text></svg>`;
}

export function renderLoopReport(r: LoopReport): string {
  const css = `${REPORT_CSS}\ntable { border-collapse: collapse; margin: 8px 0; } td, th { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }\nsvg { max-width: 100%; background: #fff; }`;
  const stages = table(
    ['stage', 'status', 'finished'],
    r.stages.map((s) => [esc(s.name), esc(s.status), esc(s.finished_at)]),
    'stages',
  );
  const facts = [
    ['before run', r.before_run],
    ['after run', r.after_run],
    ['failure judge', r.judge],
    ['harvested triples', r.harvest['count']],
    ['held-out goals', r.harvest['holdout_goals']],
    ['training steps', r.train['steps']],
    ['last loss', r.train['last_loss']],
  ];
  return htmlPage({
    title: `refusenik loop ${r.loop_id}`,
    css,
    bodyAttributes: 'data-rendered="1"',
    body: `<main id="app">
<header class="top"><h1>refusenik loop: ${esc(r.name ?? r.loop_id)}</h1><p class="sub">${esc(r.loop_id)} · generated ${esc(r.generated_at)}</p></header>
<section class="card" id="summary"><h2>Stages</h2>${stages}<dl class="kv">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>
${comparisonSection('Before vs after: all goals', r.comparison.all, 'compare-all')}
${comparisonSection('Goals trained on', r.comparison.trained_goals, 'compare-trained')}
${comparisonSection('Held-out goals (never trained on)', r.comparison.held_out_goals, 'compare-held-out')}
${evaluationSection(r.evaluations)}
${depthSection(r.comparison.all)}
${transitionSection(r.transition)}
</main>`,
  });
}
