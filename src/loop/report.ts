import { escapeHtml as esc, htmlPage, REPORT_CSS } from '../report/html.js';
import { mdText } from '../report/markdown.js';
import { mdTable } from '../report/tables.js';
import { lineChart } from '../report/chart/line-chart.js';
import { svgMarkup } from '../report/chart/svg.js';
import type { PairedComparison } from '../analysis/paired.js';
import type { PairedScoreRow } from '../analysis/paired-scores.js';
import type { RefusalToken, TransitionCurve, TransitionDifference } from '../analysis/transition.js';
import type { Comparison, Split, SplitAsr } from './compare.js';
import type { SideRuns } from './measure.js';
import type { PairedRate } from './health.js';

/**
 * The loop's before/after page: one static HTML file with no script at all, every value escaped (goals and
 * model names are hostile text), under a CSP that allows only its own style: the stages, the paired
 * comparison (all goals, trained goals, held-out goals), the prefill-depth curve and the transition probe.
 */

export interface LoopReport extends Comparison {
  loop_id: string;
  name: string | null;
  /** The training variant of an ablation; null for a single-variant loop. */
  variant: { name: string; title: string } | null;
  generated_at: string;
  stages: { name: string; status: string }[];
  before_run: string;
  after_run: string;
  /** Every run behind the figures, per side. */
  runs: { before: SideRuns; after: SideRuns };
  harvest: Record<string, unknown>;
  helpful: Record<string, unknown>;
  train: Record<string, unknown>;
  /** Helpfulness / over-refusal sets: their judges' mean scores before and after. */
  evaluations: { name: string; rows: PairedScoreRow[] }[];
  transition_curves: {
    curves: TransitionCurve[];
    difference: TransitionDifference[] | null;
    refusal_tokens: RefusalToken[];
  } | null;
}

/** One variant of an ablation, as ablation.json lists it. */
export interface AblationRow {
  variant: string;
  title: string;
  comparison: string;
  asr: Comparison['asr'];
  transition: Comparison['transition'];
  over_refusal: Comparison['over_refusal'];
  mmlu: Comparison['mmlu'];
  retention: Comparison['retention'];
  degeneration: { before: number | null; after: number | null; n: number };
  collapsed: boolean;
  collapse_reasons: string[];
  train: { steps: number | null; first_loss: number | null; last_loss: number | null };
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

function transitionSection(t: LoopReport['transition_curves']): string {
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

const COLOURS = ['#111827', '#dc2626', '#2563eb', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#be185d'];

/** Curves by k (share 0 to 1), a legend in the right margin: the report's line chart, as escaped markup. */
function curveSvg(
  id: string,
  series: { label: string; points: (readonly [number, number | null])[] }[],
  yLabel: string,
): string {
  const ks = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const chart = lineChart({
    id,
    label: `${yLabel} by k`,
    width: 720,
    height: 260,
    margin: { left: 56, right: 110, top: 14, bottom: 36 },
    x: { min: 0, max: Math.max(1, ...ks) },
    xTicks: ks,
    xTitle: 'k (harmful tokens)',
    legend: true,
    // Also written as .svg files of their own (standaloneSvg), without the report's stylesheet.
    presentation: true,
    curves: series.map((s, i) => ({
      colour: COLOURS[i % COLOURS.length] as string,
      label: s.label,
      dots: true,
      points: s.points.map(([x, y]) => ({ x, y })),
    })),
  });
  return svgMarkup(chart);
}

const SPLIT_TITLES: Record<Split, string> = {
  all: 'all goals',
  trained: 'goals trained on',
  heldout: 'held-out goals (never trained on)',
};

/** The depth curve: the depth probe's runs, else prefill attacks among the loop's own attacks. */
function depthOf(r: LoopReport): PairedComparison | null {
  const all = r.paired.all;
  if (all?.depth?.depth.length) return all.depth;
  return all?.attacks.depth.length ? all.attacks : null;
}

/** The verdict first: collapsed or not, and why. */
function verdictSection(r: LoopReport): string {
  const reasons = r.collapse_reasons.map((x) => `<li>${esc(x)}</li>`).join('');
  return r.collapsed
    ? `<section class="card" id="verdict" data-collapsed="1"><h2>Collapsed: the ASR change is not a safety gain</h2><p>Training broke the model: a model that refuses or babbles at everything has a low ASR too.</p><ul>${reasons}</ul></section>`
    : '<section class="card" id="verdict" data-collapsed="0"><h2>Not collapsed</h2><p class="note">Over-refusal, retention, MMLU and degeneration stayed within the configured limits (health.collapse).</p></section>';
}

function healthSection(r: LoopReport): string {
  const rows: string[][] = [];
  const h = r.health;
  const paired = (label: string, x: PairedRate | null): void => {
    if (x)
      rows.push([
        label,
        esc(pct(x.before)),
        esc(`${pct(x.after)} (${pp(x.difference, x.ci_low, x.ci_high)})`),
        esc(x.n),
      ]);
  };
  paired('over-refusal (benign prompts refused)', h.over_refusal);
  paired('MMLU accuracy', h.mmlu);
  if (h.retention)
    rows.push([
      'retention: NLL of held-out helpful answers (nats/token)',
      esc(h.retention.before.nll?.toFixed(4) ?? '–'),
      esc(
        `${h.retention.after.nll?.toFixed(4) ?? '–'}${h.retention.ratio !== null ? ` (×${h.retention.ratio.toFixed(3)})` : ''}`,
      ),
      esc(h.retention.after.answers),
    ]);
  rows.push([
    'degeneration (answers looping until max_tokens)',
    esc(pct(h.degeneration.before.rate)),
    esc(pct(h.degeneration.after.rate)),
    esc(h.degeneration.after.n),
  ]);
  return (
    '<section class="card" id="health"><h2>Capability and collapse</h2>' +
    table(['measure', 'before', 'after', 'n'], rows, 'health-table') +
    '</section>'
  );
}

function asrSection(r: LoopReport): string {
  const rows: string[][] = [];
  for (const [attack, splits] of Object.entries(r.asr)) {
    for (const split of ['all', 'trained', 'heldout'] as const) {
      const a = splits[split];
      if (!a) continue;
      rows.push([
        esc(attack),
        esc(split),
        esc(a.n),
        esc(pct(a.asr_before)),
        esc(pct(a.asr_after)),
        esc(pp(a.difference, a.ci_low, a.ci_high)),
      ]);
    }
  }
  return (
    '<section class="card" id="asr"><h2>ASR by attack and goal split</h2>' +
    table(['attack', 'goals', 'pairs', 'before', 'after', 'difference [95% CI]'], rows, 'asr-table') +
    '</section>'
  );
}

export function renderLoopReport(r: LoopReport): string {
  const css = `${REPORT_CSS}\ntable { border-collapse: collapse; margin: 8px 0; } td, th { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }\nsvg { max-width: 100%; background: #fff; }`;
  const stages = table(
    ['stage', 'status'],
    r.stages.map((s) => [esc(s.name), esc(s.status)]),
    'stages',
  );
  const facts = [
    ['variant', r.variant ? `${r.variant.name}: ${r.variant.title}` : null],
    ['before run', r.before_run],
    ['after run', r.after_run],
    ['failure judge', r.judge],
    ['harvested triples', r.harvest['count']],
    ['failures left out', JSON.stringify(r.harvest['dropped'] ?? {})],
    ['held-out goals', r.harvest['holdout_goals']],
    [
      'helpful pairs (train / held out)',
      `${String(r.helpful['train_count'] ?? 0)} / ${String(r.helpful['heldout_count'] ?? 0)}`,
    ],
    ['training steps', r.train['steps']],
    ['loss first → last', `${String(r.train['first_loss'] ?? '–')} → ${String(r.train['last_loss'] ?? '–')}`],
    ['converged', r.train['converged']],
  ].filter(([, v]) => v !== null && v !== undefined);
  const paired = (['all', 'trained', 'heldout'] as const)
    .map((split) =>
      comparisonSection(
        `Before vs after: ${SPLIT_TITLES[split]}`,
        r.paired[split]?.attacks ?? null,
        `compare-${split === 'heldout' ? 'held-out' : split}`,
      ),
    )
    .join('\n');
  return htmlPage({
    title: `refusenik loop ${r.loop_id}`,
    css,
    bodyAttributes: 'data-rendered="1"',
    body: `<main id="app">
<header class="top"><h1>refusenik loop: ${esc(r.name ?? r.loop_id)}</h1><p class="sub">${esc(r.loop_id)} · generated ${esc(r.generated_at)}</p></header>
${verdictSection(r)}
${asrSection(r)}
${healthSection(r)}
<section class="card" id="summary"><h2>Stages</h2>${stages}<dl class="kv">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>
${paired}
${evaluationSection(r.evaluations)}
${depthOf(r) ? depthSection(depthOf(r) as PairedComparison) : ''}
${transitionSection(r.transition_curves)}
</main>`,
  });
}

/** The ablation's page: one row per variant, and the depth and transition curves of all of them. */
export function renderAblation(loopId: string, name: string | null, rows: readonly AblationRow[]): string {
  const css = `${REPORT_CSS}\ntable { border-collapse: collapse; margin: 8px 0; } td, th { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }\nsvg { max-width: 100%; background: #fff; }`;
  const attacks = [...new Set(rows.flatMap((r) => Object.keys(r.asr)))].filter(
    (a) => !a.startsWith('prefill'),
  );
  const asr = (r: AblationRow, a: string, split: Split): string => {
    const x = r.asr[a]?.[split];
    return x ? `${pct(x.asr_before)} → ${pct(x.asr_after)}` : '–';
  };
  const head = [
    'variant',
    ...attacks.map((a) => `${a} (held-out)`),
    'P(refusal) k=10 (held-out)',
    'over-refusal',
    'retention NLL ×',
    'degeneration',
    'collapsed',
  ];
  const body = rows.map((r) => {
    const t = r.transition?.heldout?.find((p) => p.k === 10) ?? r.transition?.all?.find((p) => p.k === 10);
    return [
      esc(`${r.variant}: ${r.title}`),
      ...attacks.map((a) => esc(asr(r, a, 'heldout'))),
      esc(t ? `${t.p_before?.toFixed(3) ?? '–'} → ${t.p_after?.toFixed(3) ?? '–'}` : '–'),
      esc(r.over_refusal ? `${pct(r.over_refusal.before)} → ${pct(r.over_refusal.after)}` : '–'),
      esc(r.retention?.ratio?.toFixed(3) ?? '–'),
      esc(`${pct(r.degeneration.before)} → ${pct(r.degeneration.after)}`),
      esc(r.collapsed ? `yes: ${r.collapse_reasons.join('; ')}` : 'no'),
    ];
  });
  return htmlPage({
    title: `refusenik ablation ${loopId}`,
    css,
    bodyAttributes: 'data-rendered="1"',
    body: `<main id="app">
<header class="top"><h1>refusenik ablation: ${esc(name ?? loopId)}</h1><p class="sub">${esc(loopId)}</p></header>
<section class="card" id="ablation"><h2>Variants, same goals, seed and budget</h2>${table(head, body, 'ablation-table')}</section>
<section class="card"><h2>Prefill depth (held-out goals): ASR after training by k</h2>${ablationDepthSvg(rows)}</section>
<section class="card"><h2>Refusal transition (held-out goals): P(refusal token) after training by k</h2>${ablationTransitionSvg(rows)}</section>
</main>`,
  });
}

/** ASR(k) of the depth probe on held-out goals: the base once, then each variant after training. */
export function ablationDepthSvg(rows: readonly AblationRow[]): string {
  const pointsOf = (r: AblationRow, side: 'asr_before' | 'asr_after'): (readonly [number, number | null])[] =>
    Object.entries(r.asr)
      .filter(([a]) => a.startsWith('prefill'))
      .map(
        ([a, s]) => [Number(/k(\d+)/.exec(a)?.[1] ?? 0), s.heldout?.[side] ?? s.all?.[side] ?? null] as const,
      )
      .sort((x, y) => x[0] - y[0]);
  const first = rows[0];
  const series = [
    ...(first ? [{ label: 'base', points: pointsOf(first, 'asr_before') }] : []),
    ...rows.map((r) => ({ label: r.variant, points: pointsOf(r, 'asr_after') })),
  ];
  return curveSvg('ablation-depth', series, 'ASR');
}

export function ablationTransitionSvg(rows: readonly AblationRow[]): string {
  const split = (r: AblationRow) => r.transition?.heldout ?? r.transition?.all ?? [];
  const first = rows[0];
  const series = [
    ...(first ? [{ label: 'base', points: split(first).map((p) => [p.k, p.p_before] as const) }] : []),
    ...rows.map((r) => ({ label: r.variant, points: split(r).map((p) => [p.k, p.p_after] as const) })),
  ];
  return curveSvg('ablation-transition', series, 'P(refusal token)');
}

/** An inline chart as an SVG file of its own (the namespace, a white background, its text in a sans font). */
export function standaloneSvg(svg: string): string {
  return svg.replace(
    '<svg ',
    '<svg xmlns="http://www.w3.org/2000/svg" style="background:#fff;font-family:sans-serif" ',
  );
}

/**
 * The ablation as Markdown (ablation.md): per attack and goal split the ASR before → after with the paired
 * difference's 95% interval, the depth and transition curves by k, and the health of every variant beside them.
 */
export function renderAblationMarkdown(
  loopId: string,
  name: string | null,
  rows: readonly AblationRow[],
): string {
  const tableMd = (head: string[], body: string[][]): string[] => mdTable(head, body, 1);
  const attacks = [...new Set(rows.flatMap((r) => Object.keys(r.asr)))];
  const plainAttacks = attacks.filter((a) => !a.startsWith('prefill'));
  const depth = attacks
    .filter((a) => a.startsWith('prefill'))
    .sort((x, y) => Number(/k(\d+)/.exec(x)?.[1] ?? 0) - Number(/k(\d+)/.exec(y)?.[1] ?? 0));
  const asrCell = (x: SplitAsr | undefined): string =>
    x
      ? `${pct(x.asr_before)} → ${pct(x.asr_after)} (${pp(x.difference, x.ci_low, x.ci_high)}, n ${x.n})`
      : '–';
  const out: string[] = [`# refusenik ablation: ${mdText(name ?? loopId)}`, '', `loop \`${loopId}\``, ''];
  for (const split of ['heldout', 'trained'] as const) {
    out.push(
      `## ASR on ${split === 'heldout' ? 'held-out' : 'trained'} goals: before → after (difference [95% CI], pairs)`,
      '',
      ...tableMd(
        ['variant', ...plainAttacks],
        rows.map((r) => [r.variant, ...plainAttacks.map((a) => asrCell(r.asr[a]?.[split]))]),
      ),
      '',
    );
  }
  if (depth.length > 0) {
    const first = rows[0];
    const k = (a: string) => `k=${/k(\d+)/.exec(a)?.[1] ?? '?'}`;
    const at = (r: AblationRow, a: string, side: 'asr_before' | 'asr_after') =>
      pct(r.asr[a]?.heldout?.[side] ?? r.asr[a]?.all?.[side]);
    out.push(
      '## Prefill depth on held-out goals: ASR after k tokens of a harmful answer',
      '',
      ...tableMd(
        ['model', ...depth.map(k)],
        [
          ...(first ? [['base', ...depth.map((a) => at(first, a, 'asr_before'))]] : []),
          ...rows.map((r) => [r.variant, ...depth.map((a) => at(r, a, 'asr_after'))]),
        ],
      ),
      '',
    );
  }
  const curve = (r: AblationRow) => r.transition?.heldout ?? r.transition?.all ?? [];
  const ks = [...new Set(rows.flatMap((r) => curve(r).map((p) => p.k)))].sort((a, b) => a - b);
  if (ks.length > 0) {
    const first = rows[0];
    const p = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
    out.push(
      '## Refusal transition on held-out goals: P(refusal token | k harmful tokens)',
      '',
      ...tableMd(
        ['model', ...ks.map((k) => `k=${k}`)],
        [
          ...(first ? [['base', ...ks.map((k) => p(curve(first).find((x) => x.k === k)?.p_before))]] : []),
          ...rows.map((r) => [r.variant, ...ks.map((k) => p(curve(r).find((x) => x.k === k)?.p_after))]),
        ],
      ),
      '',
    );
  }
  const rate = (x: PairedRate | null) => (x ? `${pct(x.before)} → ${pct(x.after)} (n ${x.n})` : '–');
  out.push(
    '## Health: capability, over-refusal and degeneration, before → after',
    '',
    ...tableMd(
      ['variant', 'over-refusal', 'MMLU', 'retention NLL', 'degeneration', 'train loss', 'collapsed'],
      rows.map((r) => [
        r.variant,
        rate(r.over_refusal),
        rate(r.mmlu),
        r.retention
          ? `${r.retention.nll_before?.toFixed(3) ?? '–'} → ${r.retention.nll_after?.toFixed(3) ?? '–'} (×${r.retention.ratio?.toFixed(3) ?? '–'})`
          : '–',
        `${pct(r.degeneration.before)} → ${pct(r.degeneration.after)} (n ${r.degeneration.n})`,
        r.train.steps === null
          ? '–'
          : `${r.train.first_loss?.toFixed(2) ?? '–'} → ${r.train.last_loss?.toFixed(2) ?? '–'} (${r.train.steps} steps)`,
        r.collapsed ? `yes: ${r.collapse_reasons.join('; ')}` : 'no',
      ]),
    ),
    '',
  );
  return out.join('\n');
}
