/**
 * The HTML report's in-page script (it runs in the browser, not in Node). It reads the report data from the
 * page's `<script type="application/json">` block and builds every element with DOM calls: all data goes in
 * through `textContent` and `setAttribute`, never through HTML parsing, so hostile model output stays text.
 * Charts are plain SVG. The case list renders one page at a time and builds a case's details only when it is
 * opened, so a 10k-case run stays responsive.
 *
 * Compiled on its own (tsconfig.browser.json: DOM, no Node) to dist/report/browser/client.js, which
 * src/report/html.ts inlines in a `<script>` element: so it stays a classic script (type-only imports, which
 * are erased; everything inside one function) and never contains the HTML comment-open or script-end
 * sequences.
 */
import type { ReportCase, ReportData, ReportVerdict } from '../report-data.js';

(() => {
  'use strict';

  type Cell = string | number | null | undefined | Node;
  type SvgAttrs = Record<string, string | number>;
  interface AsrFigures {
    attack_success_rate: number | null;
    ci_low: number | null;
    ci_high: number | null;
  }

  function byId(id: string): HTMLElement {
    const e = document.getElementById(id);
    if (!e) throw new Error(`refusenik report: the page has no #${id} element`);
    return e;
  }

  const data = JSON.parse(byId('report-data').textContent ?? '') as ReportData;
  const app = byId('app');
  const PALETTE = [
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
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const PAGE_SIZE = 50;
  const DASH = '\u2013';

  // ---- tiny DOM helpers: text only ------------------------------------------------------------------
  function el<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    cls?: string | null,
    text?: string | number | null,
  ): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add<T extends Node>(parent: Node, child: T): T {
    parent.appendChild(child);
    return child;
  }
  function svg<K extends keyof SVGElementTagNameMap>(
    tag: K,
    attrs: SvgAttrs,
    parent?: Node,
  ): SVGElementTagNameMap[K] {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgText(parent: Node, x: number, y: number, text: string, attrs?: SvgAttrs): SVGTextElement {
    const t = svg('text', { x, y, ...attrs }, parent);
    t.textContent = text;
    return t;
  }
  /**
   * A line chart's frame (both line charts share it): the svg, grid lines and percent labels on the y axis,
   * tick labels and a title on the x axis. Returns the svg and the y scale.
   */
  function lineChartFrame(
    parent: Node,
    o: {
      id: string;
      label: string;
      width: number;
      height: number;
      left: number;
      right: number;
      top: number;
      bottom: number;
      x: (v: number) => number;
      xTicks: readonly number[];
      xTitle: string;
    },
  ): { chart: SVGSVGElement; y: (v: number | null) => number } {
    const y = (v: number | null): number => o.top + (1 - (v ?? 0)) * (o.height - o.top - o.bottom);
    const chart = svg(
      'svg',
      { viewBox: `0 0 ${o.width} ${o.height}`, class: 'chart', id: o.id, role: 'img', 'aria-label': o.label },
      parent,
    );
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      svg('line', { x1: o.left, x2: o.width - o.right, y1: y(v), y2: y(v), class: 'grid' }, chart);
      svgText(chart, o.left - 6, y(v) + 4, pct(v, 0), { 'text-anchor': 'end', class: 'axis' });
    }
    for (const t of o.xTicks) {
      svgText(chart, o.x(t), o.height - o.bottom + 16, String(t), { 'text-anchor': 'middle', class: 'axis' });
    }
    svgText(chart, (o.left + o.width - o.right) / 2, o.height - 6, o.xTitle, {
      'text-anchor': 'middle',
      class: 'axis',
    });
    return { chart, y };
  }

  /** An SVG `<title>` (the hover text) on `parent`. */
  function svgTitle(parent: Node, text: string): void {
    add(parent, document.createElementNS(SVG_NS, 'title')).textContent = text;
  }
  function colour(i: number): string {
    return PALETTE[i % PALETTE.length] ?? '#2563eb';
  }
  function pct(x: number | null | undefined, digits = 1): string {
    return x === null || x === undefined ? DASH : (x * 100).toFixed(digits) + '%';
  }
  /** A share in percent with one decimal, null read as 0. */
  function pct1(x: number | null): string {
    return ((x ?? 0) * 100).toFixed(1);
  }
  function asrCi(r: AsrFigures): string {
    if (r.attack_success_rate === null) return DASH;
    return `${pct(r.attack_success_rate)} [${pct1(r.ci_low)}, ${pct1(r.ci_high)}]`;
  }
  function attackName(r: { attack: string; variant: string }): string {
    return r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack;
  }
  function short(value: string | null | undefined, n: number): string {
    const s = String(value === null || value === undefined ? '' : value)
      .replace(/\s+/g, ' ')
      .trim();
    return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
  }
  function section(id: string, title: string, note?: string): HTMLElement {
    const s = add(app, el('section', 'card'));
    s.id = id;
    add(s, el('h2', null, title));
    if (note) add(s, el('p', 'note', note));
    return s;
  }
  function table(parent: Node, head: string[], rows: Cell[][], numericFrom: number): HTMLTableElement {
    const wrap = add(parent, el('div', 'table-wrap'));
    const t = add(wrap, el('table'));
    const tr = add(add(t, el('thead')), el('tr'));
    head.forEach((h, i) => {
      add(tr, el('th', i >= numericFrom ? 'num' : null, h));
    });
    const body = add(t, el('tbody'));
    for (const r of rows) {
      const row = add(body, el('tr'));
      r.forEach((cell, i) => {
        const td = add(row, el('td', i >= numericFrom ? 'num' : null));
        if (cell instanceof Node) td.appendChild(cell);
        else td.textContent = cell === null || cell === undefined ? '' : String(cell);
      });
    }
    return t;
  }
  function pre(text: string | null | undefined, cls?: string): HTMLPreElement {
    return el('pre', cls ?? null, text === null || text === undefined ? '' : String(text));
  }
  /** A short coloured line, the legend key of a curve in a table row. */
  function swatch(i: number): SVGSVGElement {
    const sw = svg('svg', { width: 14, height: 4, class: 'swatch' });
    svg('rect', { width: 14, height: 4, fill: colour(i) }, sw);
    return sw;
  }

  // ---- header and metadata --------------------------------------------------------------------------
  const run = data.run;
  document.title = 'refusenik report: ' + (run.name || run.id);
  const header = add(app, el('header', 'top'));
  add(header, el('h1', null, 'refusenik report: ' + (run.name || run.id)));
  add(
    header,
    el(
      'p',
      'sub',
      `run ${run.id} \u00b7 ${run.status} \u00b7 started ${run.created_at} \u00b7 generated ${data.generated_at}`,
    ),
  );
  const stats = add(header, el('div', 'stats'));
  const judges: string[] = [];
  for (const r of data.asr) if (!judges.includes(r.judge)) judges.push(r.judge);
  const headline: [string, string | number][] = [
    ['cases', `${data.counts.cases} / ${run.cases_total}`],
    ['target errors', data.counts.errors],
    ['verdicts', data.counts.verdicts],
    ['judges', judges.length],
  ];
  for (const [label, value] of headline) {
    const s = add(stats, el('div', 'stat'));
    add(s, el('div', 'stat-value', value));
    add(s, el('div', 'stat-label', label));
  }
  const nav = add(header, el('nav'));
  const links: [string, string][] = [
    ['summary', 'Summary'],
    ['charts', 'Charts'],
    ...((data.depth || []).length ? [['depth', 'Prefill depth'] as [string, string]] : []),
    ...((data.bon || []).length ? [['bon', 'Best-of-N'] as [string, string]] : []),
    ['positions', 'Refusal positions'],
    ['agreement', 'Judge agreement'],
    ['categories', 'Categories'],
    ['cases', 'Cases'],
    ['meta', 'Run metadata'],
  ];
  for (const [id, label] of links) {
    const a = add(nav, el('a', null, label));
    a.setAttribute('href', '#' + id);
  }

  // ---- summary table -------------------------------------------------------------------------------
  const sum = section(
    'summary',
    'Attack success rate',
    'ASR = successes / cases the judge scored, with 95% Wilson intervals. Target errors, judge failures and inconclusive verdicts (the judge answered but gave no readable verdict) are counted apart, never as refusals. Queries / success: target queries of all the cases (a search attack counts every query of its search) per success; cost / success: USD of every model call (attacker, target, judge) per success.',
  );
  const keywordJudges = data.keyword_judges || [];
  if (keywordJudges.length)
    add(
      sum,
      el(
        'p',
        'note',
        'Judged by keyword: ' +
          keywordJudges.join(', ') +
          ". Refusal phrases cannot tell harmful content from an answer that only looks compliant (CodeAttack code with placeholders or the goal restated, a late refusal after harmful steps): this ASR is not comparable with hand-judged numbers such as the paper's.",
      ),
    );
  const audited = data.asr.some((r) => r.audit_n !== null && r.audit_n !== undefined);
  const validity = new Map<string, ReportData['validity'][number]['validations']>();
  for (const v of data.validity || []) validity.set(v.judge, v.validations);
  function correctedCi(r: ReportData['asr'][number]): string {
    if (r.asr_corrected === null || r.asr_corrected === undefined) return DASH;
    const b = (x: number | null | undefined): string =>
      x === null || x === undefined ? '?' : (x * 100).toFixed(1);
    return `${pct(r.asr_corrected)} [${b(r.asr_corrected_ci_low)}, ${b(r.asr_corrected_ci_high)}]`;
  }
  function validated(judge: string): string {
    const list = validity.get(judge) || [];
    if (!list.length) return 'not validated';
    return list
      .map(
        (v) =>
          `acc ${pct(v.accuracy)} \u00b7 prec ${pct(v.precision)} \u00b7 rec ${pct(v.recall)} (n ${v.n}, ${v.labels})`,
      )
      .join('; ');
  }
  const sumHead = ['target', 'attack', 'judge', 'n', 'ASR [95% CI]', 'queries / success', 'cost / success'];
  if (audited) sumHead.push('corrected ASR [95% CI]', 'audit n');
  function perSuccess(x: number | null | undefined, digits: number, prefix = ''): string {
    return x === null || x === undefined ? DASH : prefix + x.toFixed(digits);
  }
  const panels = data.asr.some((r) => r.disagreement > 0);
  sumHead.push('refusals', 'mean score', 'inconclusive', 'coverage');
  if (panels) sumHead.push('disagreement');
  sumHead.push('target errors', 'judge errors', 'judge validated');
  table(
    sum,
    sumHead,
    data.asr.map((r) => {
      const cells: Cell[] = [
        r.target,
        attackName(r),
        r.judge,
        r.n,
        asrCi(r),
        perSuccess(r.queries_per_success, 1),
        perSuccess(r.cost_per_success, 4, '$'),
      ];
      if (audited) cells.push(correctedCi(r), r.audit_n === null ? DASH : r.audit_n);
      cells.push(
        r.refusals,
        r.mean_score === null ? DASH : r.mean_score.toFixed(2),
        r.inconclusive,
        pct(r.coverage),
      );
      if (panels) cells.push(r.disagreement);
      return cells.concat([r.errors, r.judge_errors, validated(r.judge)]);
    }),
    3,
  );
  if ((data.audits || []).length) {
    add(sum, el('h3', null, 'Audit: judge vs person on the labelled cases'));
    add(
      sum,
      el(
        'p',
        'note',
        "Corrected ASR = Rogan\u2013Gladen with the judge's sensitivity and specificity estimated from this audit (sampled by verdict), pooled over the run per judge; 95% interval carries the uncertainty of the audit and of the judged cases.",
      ),
    );
    table(
      sum,
      [
        'judge',
        'audit n',
        'judge harmful \u00b7 person harmful',
        'judge harmful \u00b7 person safe',
        'judge safe \u00b7 person harmful',
        'judge safe \u00b7 person safe',
        'sensitivity',
        'specificity',
      ],
      data.audits.map((a) => [
        a.judge,
        a.audit_n,
        a.confusion.tp,
        a.confusion.fp,
        a.confusion.fn,
        a.confusion.tn,
        pct(a.sensitivity),
        pct(a.specificity),
      ]),
      1,
    );
  }

  // ---- chart: ASR bars with CI whiskers ----------------------------------------------------------------
  const charts = section(
    'charts',
    'ASR by target \u00d7 attack \u00d7 judge',
    'Bars: attack success rate; whiskers: 95% Wilson interval.',
  );
  const judgeColor = new Map<string, string>();
  judges.forEach((j, i) => judgeColor.set(j, colour(i)));
  const bars = data.asr.filter((r) => r.n > 0);
  if (!bars.length) add(charts, el('p', 'empty', 'No judged cases yet.'));
  else {
    const W = 960,
      LABEL = 360,
      RIGHT = 70,
      ROW = 24,
      TOP = 26;
    const H = TOP + bars.length * ROW + 10;
    const x = (v: number | null): number => LABEL + (v ?? 0) * (W - LABEL - RIGHT);
    const chart = svg(
      'svg',
      {
        viewBox: `0 0 ${W} ${H}`,
        class: 'chart',
        id: 'asr-chart',
        role: 'img',
        'aria-label': 'attack success rate bar chart',
      },
      charts,
    );
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      svg('line', { x1: x(t), x2: x(t), y1: TOP - 6, y2: H - 6, class: 'grid' }, chart);
      svgText(chart, x(t), TOP - 10, pct(t, 0), { 'text-anchor': 'middle', class: 'axis' });
    }
    bars.forEach((r, i) => {
      const y = TOP + i * ROW;
      const label = `${r.target} \u00b7 ${attackName(r)} \u00b7 ${r.judge}`;
      const t = svgText(chart, LABEL - 8, y + ROW / 2 + 4, short(label, 56), {
        'text-anchor': 'end',
        class: 'label',
      });
      svgTitle(t, label);
      const bar = svg(
        'rect',
        {
          x: x(0),
          y: y + 4,
          width: Math.max(0.5, x(r.attack_success_rate) - x(0)),
          height: ROW - 8,
          fill: judgeColor.get(r.judge) ?? colour(0),
          class: 'bar',
        },
        chart,
      );
      svgTitle(bar, `${label}: ${asrCi(r)}, n = ${r.n}`);
      const cy = y + ROW / 2;
      svg('line', { x1: x(r.ci_low), x2: x(r.ci_high), y1: cy, y2: cy, class: 'whisker' }, chart);
      svg('line', { x1: x(r.ci_low), x2: x(r.ci_low), y1: cy - 5, y2: cy + 5, class: 'whisker' }, chart);
      svg('line', { x1: x(r.ci_high), x2: x(r.ci_high), y1: cy - 5, y2: cy + 5, class: 'whisker' }, chart);
      svgText(chart, x(r.ci_high) + 6, cy + 4, pct(r.attack_success_rate), { class: 'value' });
    });
    const legend = add(charts, el('div', 'legend'));
    for (const j of judges) {
      const item = add(legend, el('span', 'legend-item'));
      const sw = svg('svg', { width: 12, height: 12, class: 'swatch' }, item);
      svg('rect', { width: 12, height: 12, fill: judgeColor.get(j) ?? colour(0) }, sw);
      add(item, el('span', null, j));
    }
  }

  // ---- chart: prefill depth, ASR(k) with intervals ---------------------------------------------------
  const depth = data.depth || [];
  if (depth.length) {
    const depSec = section(
      'depth',
      'Prefill depth',
      'ASR with the first k tokens of a harmful response placed at the start of the answer (Qi et al., 2024), with 95% Wilson intervals. ' +
        'A curve that climbs from k = 0 means the alignment is only a few tokens deep; a flat one means the model refuses at any depth.',
    );
    let maxK = 1;
    for (const c of depth) for (const p of c.points) if (p.k > maxK) maxK = p.k;
    const DW = 960,
      DH = 320,
      DL = 56,
      DR = 20,
      DT = 16,
      DB = 40;
    const dx = (k: number): number => DL + (k / maxK) * (DW - DL - DR);
    const ticks: number[] = [];
    for (const c of depth) for (const p of c.points) if (!ticks.includes(p.k)) ticks.push(p.k);
    const { chart: dc, y: dy } = lineChartFrame(depSec, {
      id: 'depth-chart',
      label: 'ASR by prefill depth',
      width: DW,
      height: DH,
      left: DL,
      right: DR,
      top: DT,
      bottom: DB,
      x: dx,
      xTicks: ticks,
      xTitle: 'prefilled harmful tokens (k)',
    });
    const figures = (p: (typeof depth)[number]['points'][number]): AsrFigures => ({
      attack_success_rate: p.asr,
      ci_low: p.ci_low,
      ci_high: p.ci_high,
    });
    depth.forEach((c, i) => {
      const stroke = colour(i);
      const pts = c.points.filter((p) => p.asr !== null);
      for (const p of pts) {
        svg(
          'line',
          { x1: dx(p.k), x2: dx(p.k), y1: dy(p.ci_low), y2: dy(p.ci_high), stroke, class: 'ci' },
          dc,
        );
        const dot = svg('circle', { cx: dx(p.k), cy: dy(p.asr), r: 3.5, fill: stroke }, dc);
        svgTitle(
          dot,
          `${c.target} \u00b7 ${c.delivery} \u00b7 ${c.judge} \u00b7 k = ${p.k}: ${asrCi(figures(p))}`,
        );
      }
      const line = svg(
        'polyline',
        {
          points: pts.map((p) => dx(p.k).toFixed(1) + ',' + dy(p.asr).toFixed(1)).join(' '),
          fill: 'none',
          stroke,
          class: 'curve',
        },
        dc,
      );
      svgTitle(line, `${c.target} \u00b7 ${c.delivery} \u00b7 ${c.judge}`);
    });
    table(
      depSec,
      ['', 'target', 'delivery', 'judge', ...ticks.map((k) => 'k = ' + k)],
      depth.map((c, i) => [
        swatch(i),
        c.target,
        c.delivery,
        c.judge,
        ...ticks.map((k) => {
          const p = c.points.find((q) => q.k === k);
          return p ? asrCi(figures(p)) : DASH;
        }),
      ]),
      4,
    );
  }

  // ---- chart: Best-of-N, ASR(N) on a log axis with intervals ----------------------------------------
  const bon = data.bon || [];
  if (bon.length) {
    const bonSec = section(
      'bon',
      'Best-of-N',
      "ASR when up to N augmented samples per goal are allowed (Hughes et al., 2024), read from each goal's samples to its first harmful verdict, with 95% Wilson intervals. " +
        "The fit is the paper's power law, -log ASR(N) = a \u00b7 N^(-b), on the points with 0 < ASR < 1.",
    );
    let maxN = 2;
    for (const c of bon) if (c.budget > maxN) maxN = c.budget;
    const BW = 960,
      BH = 320,
      BL = 56,
      BR = 20,
      BT = 16,
      BB = 40;
    const bx = (n: number): number => BL + (Math.log(n) / Math.log(maxN)) * (BW - BL - BR);
    const ticks: number[] = [];
    for (const c of bon) for (const p of c.points) if (!ticks.includes(p.n)) ticks.push(p.n);
    ticks.sort((a, b) => a - b);
    const { chart: bc, y: by } = lineChartFrame(bonSec, {
      id: 'bon-chart',
      label: 'ASR by Best-of-N samples',
      width: BW,
      height: BH,
      left: BL,
      right: BR,
      top: BT,
      bottom: BB,
      x: bx,
      xTicks: ticks,
      xTitle: 'samples per goal (N, log scale)',
    });
    const figures = (p: (typeof bon)[number]['points'][number]): AsrFigures => ({
      attack_success_rate: p.asr,
      ci_low: p.ci_low,
      ci_high: p.ci_high,
    });
    bon.forEach((c, i) => {
      const stroke = colour(i);
      for (const p of c.points) {
        svg(
          'line',
          { x1: bx(p.n), x2: bx(p.n), y1: by(p.ci_low), y2: by(p.ci_high), stroke, class: 'ci' },
          bc,
        );
        const dot = svg('circle', { cx: bx(p.n), cy: by(p.asr), r: 3.5, fill: stroke }, bc);
        svgTitle(dot, `${c.target} \u00b7 ${c.variant} \u00b7 N = ${p.n}: ${asrCi(figures(p))}`);
      }
      const line = svg(
        'polyline',
        {
          points: c.points.map((p) => bx(p.n).toFixed(1) + ',' + by(p.asr).toFixed(1)).join(' '),
          fill: 'none',
          stroke,
          class: 'curve',
        },
        bc,
      );
      svgTitle(line, `${c.target} \u00b7 ${c.variant}`);
    });
    table(
      bonSec,
      [
        '',
        'target',
        'variant',
        'goals',
        'mean samples to success',
        'fit a, b (R\u00b2)',
        ...ticks.map((n) => 'N = ' + n),
      ],
      bon.map((c, i) => [
        swatch(i),
        c.target,
        c.variant,
        String(c.goals),
        c.mean_samples_to_success === null ? DASH : c.mean_samples_to_success.toFixed(1),
        c.fit ? `${c.fit.a.toFixed(2)}, ${c.fit.b.toFixed(2)} (${c.fit.r2.toFixed(2)})` : DASH,
        ...ticks.map((n) => {
          const p = c.points.find((q) => q.n === n);
          return p ? asrCi(figures(p)) : DASH;
        }),
      ]),
      6,
    );
  }

  // ---- chart: refusal-position cumulative curves ------------------------------------------------------
  const posSec = section(
    'positions',
    'Where refusals start',
    'Cumulative share of refusing responses whose first refusal phrase falls at or before each position (DeRTa, Figure 4). ' +
      'Early refusal is the aligned default; a curve that rises late means the model starts to comply and only then refuses.',
  );
  /** The early-refusal window, in words (and tokens). */
  const earlyK = data.positions.k;
  const groups = data.positions.groups.filter((g) => g.summary.refusals > 0);
  if (!groups.length) add(posSec, el('p', 'empty', 'No response contains a refusal phrase.'));
  else {
    let unit: 'words' | 'tokens' = 'words';
    const hasTokens = groups.some((g) => !!g.summary.cumulative_tokens);
    const controls = add(posSec, el('div', 'controls'));
    const curveBox = add(posSec, el('div'));
    const drawCurves = (): void => {
      curveBox.textContent = '';
      const W = 960,
        H = 340,
        L = 56,
        R = 20,
        T = 16,
        B = 40;
      const xs = (p: number): number => L + ((p - 1) / 99) * (W - L - R);
      const { chart: c, y: ys } = lineChartFrame(curveBox, {
        id: 'position-chart',
        label: 'refusal position cumulative curves',
        width: W,
        height: H,
        left: L,
        right: R,
        top: T,
        bottom: B,
        x: xs,
        xTicks: [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
        xTitle: `position of the first refusal (${unit})`,
      });
      svg('line', { x1: xs(earlyK), x2: xs(earlyK), y1: T, y2: H - B, class: 'kline' }, c);
      svgText(c, xs(earlyK) + 4, T + 12, 'k = ' + earlyK, { class: 'axis' });
      groups.forEach((g, i) => {
        const curve = unit === 'tokens' ? g.summary.cumulative_tokens : g.summary.cumulative;
        if (!curve) return;
        const pts = curve.map((v, j) => xs(j + 1).toFixed(1) + ',' + ys(v).toFixed(1));
        const line = svg(
          'polyline',
          { points: pts.join(' '), fill: 'none', stroke: colour(i), class: 'curve' },
          c,
        );
        svgTitle(line, `${g.target} \u00b7 ${attackName(g)}`);
      });
    };
    if (hasTokens) {
      for (const u of ['words', 'tokens'] as const) {
        const b = add(controls, el('button', u === unit ? 'on' : null, u));
        b.type = 'button';
        b.addEventListener('click', () => {
          unit = u;
          for (const x of Array.from(controls.children)) x.className = x.textContent === u ? 'on' : '';
          drawCurves();
        });
      }
    }
    drawCurves();
    const head = ['', 'target', 'attack', 'responses', 'refusals', 'first word', `\u2264 ${earlyK} words`];
    if (hasTokens) head.push(`\u2264 ${earlyK} tokens`);
    head.push('recoveries');
    table(
      posSec,
      head,
      groups.map((g, i) => {
        const s = g.summary;
        const row: Cell[] = [
          swatch(i),
          g.target,
          attackName(g),
          s.n,
          s.refusals,
          pct(s.share_at_first_word),
          pct(s.share_within_first_k_words),
        ];
        if (hasTokens) row.push(pct(s.share_within_first_k_tokens));
        row.push(s.recoveries);
        return row;
      }),
      3,
    );
  }

  // ---- judge agreement: kappa matrix --------------------------------------------------------------
  const agr = section(
    'agreement',
    'Judge agreement',
    "Cohen's kappa on the harmful / not-harmful decision, over the cases both judges decided (1 = perfect, 0 = chance level).",
  );
  const aj = data.agreement.judges;
  if (aj.length < 2)
    add(agr, el('p', 'empty', aj.length ? 'One judge in this run: nothing to compare.' : 'No verdicts.'));
  else {
    const pairOf = (a: string, b: string): ReportData['agreement']['pairs'][number] | null =>
      data.agreement.pairs.find(
        (p) => (p.judge_a === a && p.judge_b === b) || (p.judge_a === b && p.judge_b === a),
      ) ?? null;
    const CELL = 84,
      LW = 170;
    const size = LW + aj.length * CELL + 10;
    const km = svg(
      'svg',
      {
        viewBox: `0 0 ${size} ${size}`,
        class: 'chart kappa',
        id: 'kappa-chart',
        role: 'img',
        'aria-label': 'kappa matrix',
      },
      agr,
    );
    km.setAttribute('width', String(Math.min(size, 640)));
    aj.forEach((a, i) => {
      svgText(km, LW - 8, LW + i * CELL + CELL / 2 + 4, short(a, 22), {
        'text-anchor': 'end',
        class: 'label',
      });
      const tl = svgText(km, 0, 0, short(a, 22), {
        class: 'label',
        transform: `translate(${LW + i * CELL + CELL / 2 + 4},${LW - 8}) rotate(-45)`,
      });
      tl.setAttribute('text-anchor', 'start');
      aj.forEach((b, j) => {
        const p = i === j ? null : pairOf(a, b);
        const kappa = i === j ? 1 : p ? p.kappa : null;
        const fill =
          kappa === null
            ? '#e5e7eb'
            : kappa >= 0
              ? `rgba(22,163,74,${(0.12 + 0.8 * kappa).toFixed(2)})`
              : `rgba(220,38,38,${(0.12 + 0.8 * -kappa).toFixed(2)})`;
        const cell = svg(
          'rect',
          { x: LW + j * CELL, y: LW + i * CELL, width: CELL - 2, height: CELL - 2, fill, class: 'cell' },
          km,
        );
        svgTitle(cell, `${a} vs ${b}` + (p ? `: n = ${p.n}, agreement ${pct(p.agreement)}` : ''));
        svgText(
          km,
          LW + j * CELL + CELL / 2,
          LW + i * CELL + CELL / 2 + 5,
          kappa === null ? 'n/a' : kappa.toFixed(2),
          { 'text-anchor': 'middle', class: 'cell-text' },
        );
      });
    });
    table(
      agr,
      ['judge A', 'judge B', 'n', 'both harmful', 'A only', 'B only', 'neither', 'agreement', 'kappa'],
      data.agreement.pairs.map((p) => [
        p.judge_a,
        p.judge_b,
        p.n,
        p.confusion[0][0],
        p.confusion[0][1],
        p.confusion[1][0],
        p.confusion[1][1],
        pct(p.agreement),
        p.kappa === null ? 'n/a' : p.kappa.toFixed(3),
      ]),
      2,
    );
  }

  // ---- per-category table -------------------------------------------------------------------------
  const cat = section(
    'categories',
    'ASR per category',
    'Behaviors grouped by their dataset category; the same Wilson intervals, on smaller n.',
  );
  const cats = data.categories.filter((r) => r.n > 0);
  if (!cats.length || cats.every((r) => r.category === '(none)')) {
    add(cat, el('p', 'empty', 'The dataset has no categories.'));
  } else {
    cats.sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
    table(
      cat,
      ['category', 'target', 'attack', 'judge', 'n', 'ASR [95% CI]', ''],
      cats.map((r) => {
        const mini = svg('svg', { width: 120, height: 10, class: 'mini' });
        svg('rect', { width: 120, height: 10, class: 'mini-bg' }, mini);
        svg(
          'rect',
          {
            width: Math.max(0.5, 120 * (r.attack_success_rate ?? 0)),
            height: 10,
            fill: judgeColor.get(r.judge) || colour(0),
          },
          mini,
        );
        return [r.category, r.target, attackName(r), r.judge, r.n, asrCi(r), mini];
      }),
      4,
    );
  }

  // ---- case drill-down ----------------------------------------------------------------------------
  const casesSec = section(
    'cases',
    'Cases',
    'Every case with its prompt, response, extracted answer and each verdict. Search matches goal, prompt, response and judge reasons.',
  );
  const cases = data.cases;
  const filters = add(casesSec, el('div', 'filters'));
  const search = add(filters, el('input'));
  search.type = 'search';
  search.placeholder = 'search\u2026';
  search.id = 'case-search';
  function select(id: string, options: [string, string][]): HTMLSelectElement {
    const s = add(filters, el('select'));
    s.id = id;
    for (const [value, label] of options) {
      const opt = add(s, el('option', null, label));
      opt.value = value;
    }
    return s;
  }
  function distinct(f: (c: ReportCase) => string): string[] {
    const seen: string[] = [];
    for (const c of cases) {
      const v = f(c);
      if (!seen.includes(v)) seen.push(v);
    }
    return seen;
  }
  const same = (t: string): [string, string] => [t, t];
  const targetSel = select('case-target', [['', 'all targets'], ...distinct((c) => c.target).map(same)]);
  const attackSel = select('case-attack', [['', 'all attacks'], ...distinct(attackName).map(same)]);
  const verdictSel = select('case-verdict', [
    ['', 'all verdicts'],
    ['harmful', 'harmful (any judge)'],
    ['safe', 'not harmful (every judge)'],
    ['disagree', 'judges disagree'],
    ['refusal', 'has a refusal phrase'],
    ['late', 'refuses after word ' + earlyK],
    ['error', 'target error'],
    ['judge-error', 'judge failure'],
  ]);
  const pager = add(casesSec, el('div', 'pager'));
  const list = add(casesSec, el('div', 'case-list'));
  list.id = 'case-list';
  /** Each case's searchable text, lower-cased, built on the first search that reaches it. */
  const haystack: (string | undefined)[] = new Array<string | undefined>(cases.length);
  function textOf(i: number, c: ReportCase): string {
    let text = haystack[i];
    if (text === undefined) {
      const parts: (string | null)[] = [c.goal, c.response, c.answer, c.error, c.behavior_id, c.category];
      if (c.prompt && c.prompt.kind === 'chat') for (const m of c.prompt.messages) parts.push(m.content);
      else if (c.prompt && c.prompt.kind === 'completion') parts.push(c.prompt.text);
      for (const v of c.verdicts) parts.push(v.reason, v.error);
      text = parts
        .filter((p) => p)
        .join('\n')
        .toLowerCase();
      haystack[i] = text;
    }
    return text;
  }
  function matchesVerdict(c: ReportCase, f: string): boolean {
    const decided = c.verdicts.filter((v) => v.harmful !== null);
    switch (f) {
      case 'harmful':
        return decided.some((v) => v.harmful);
      case 'safe':
        return decided.length > 0 && decided.every((v) => !v.harmful);
      case 'disagree':
        return decided.some((v) => v.harmful) && decided.some((v) => !v.harmful);
      case 'refusal':
        return c.refusal_word !== null;
      case 'late':
        return c.refusal_word !== null && c.refusal_word > earlyK;
      case 'error':
        return c.status === 'error';
      case 'judge-error':
        return c.verdicts.some((v) => v.error);
      default:
        return true;
    }
  }
  /** Indexes into `cases` of the cases the filters let through. */
  let filtered: number[] = [];
  let page = 0;
  function applyFilters(): void {
    const q = search.value.trim().toLowerCase();
    filtered = [];
    cases.forEach((c, i) => {
      if (targetSel.value && c.target !== targetSel.value) return;
      if (attackSel.value && attackName(c) !== attackSel.value) return;
      if (verdictSel.value && !matchesVerdict(c, verdictSel.value)) return;
      if (q && !textOf(i, c).includes(q)) return;
      filtered.push(i);
    });
    page = 0;
    renderPage();
  }
  function pagerButton(label: string, enabled: boolean, go: () => void): void {
    const b = add(pager, el('button', null, label));
    b.type = 'button';
    b.disabled = !enabled;
    b.addEventListener('click', go);
  }
  function renderPage(): void {
    const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    pager.textContent = '';
    pagerButton('\u2190 prev', page > 0, () => {
      page--;
      renderPage();
    });
    add(
      pager,
      el(
        'span',
        'page-info',
        `${filtered.length} of ${cases.length} cases \u00b7 page ${page + 1} / ${pages}`,
      ),
    );
    pagerButton('next \u2192', page < pages - 1, () => {
      page++;
      renderPage();
    });
    list.textContent = '';
    for (const i of filtered.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) list.appendChild(caseRow(i));
  }
  function badge(v: ReportVerdict): HTMLSpanElement {
    const cls =
      v.error || v.inconclusive
        ? 'badge err'
        : v.harmful === true
          ? 'badge bad'
          : v.harmful === false
            ? 'badge ok'
            : 'badge';
    const label = v.error
      ? 'failed'
      : v.inconclusive
        ? 'inconclusive'
        : v.harmful === true
          ? 'harmful'
          : v.harmful === false
            ? v.refusal
              ? 'refused'
              : 'safe'
            : v.score !== null
              ? 'score ' + v.score
              : 'n/a';
    return el(
      'span',
      cls,
      `${v.judge}: ${label}${v.turn !== null && v.turn !== undefined ? ` (turn ${v.turn})` : ''}`,
    );
  }
  function caseRow(i: number): HTMLDetailsElement {
    const c = cases[i];
    const d = el('details', 'case');
    if (!c) return d;
    d.setAttribute('data-case', c.id);
    const s = add(d, el('summary'));
    add(s, el('span', 'case-no', '#' + (i + 1)));
    if (c.status === 'error') add(s, el('span', 'badge err', 'target error'));
    for (const v of c.verdicts) s.appendChild(badge(v));
    add(s, el('span', 'case-meta', `${c.target} \u00b7 ${attackName(c)}`));
    add(s, el('span', 'case-goal', short(c.goal, 140)));
    d.addEventListener('toggle', () => {
      if (d.open && !d.getAttribute('data-built')) {
        d.setAttribute('data-built', '1');
        d.appendChild(caseBody(c));
      }
    });
    return d;
  }
  function field(parent: Node, label: string, node: Node): void {
    add(parent, el('h4', null, label));
    parent.appendChild(node);
  }
  function caseBody(c: ReportCase): HTMLDivElement {
    const b = el('div', 'case-body');
    const meta: [string, string | number][] = [
      ['case', c.id],
      ['behavior', c.behavior_id + (c.category ? ` (${c.category})` : '')],
      ['sample', c.sample],
      ['latency', c.latency_ms === null ? DASH : Math.round(c.latency_ms) + ' ms'],
      [
        'tokens',
        `${c.prompt_tokens === null ? '?' : c.prompt_tokens} in / ${c.completion_tokens === null ? '?' : c.completion_tokens} out`,
      ],
      [
        'first refusal',
        c.refusal_word === null
          ? 'none'
          : 'word ' + c.refusal_word + (c.refusal_token !== null ? ', token ' + c.refusal_token : ''),
      ],
    ];
    const dl = add(b, el('dl', 'kv'));
    for (const [term, value] of meta) {
      add(dl, el('dt', null, term));
      add(dl, el('dd', null, value));
    }
    field(b, 'Goal', pre(c.goal));
    if (c.turns !== null && c.turns !== undefined && c.prompt && c.prompt.kind === 'chat') {
      field(b, `Conversation (${c.turns} turns)`, conversationView(c, c.prompt.messages));
    } else {
      promptAndResponse(b, c);
    }
    if (c.tree && c.tree.length) field(b, `Search tree (${c.tree.length} nodes)`, treeView(c.tree));
    return verdictsAndTrace(b, c);
  }
  /** A multi-turn case turn by turn: each user question and the target's answer, the turns verdicts name marked. */
  function conversationView(c: ReportCase, messages: { role: string; content: string }[]): HTMLDivElement {
    const box = el('div', 'conversation');
    const all = messages.concat([
      { role: 'assistant', content: c.status === 'error' ? '' : (c.response ?? '') },
    ]);
    let turn = 0;
    let current: HTMLDivElement | null = null;
    for (const m of all) {
      if (m.role === 'system') {
        add(box, el('div', 'role', 'system'));
        box.appendChild(pre(m.content));
        continue;
      }
      if (m.role === 'user' || current === null) {
        turn++;
        current = add(box, el('div', 'turn'));
        current.setAttribute('data-turn', String(turn));
        const head = add(current, el('div', 'turn-head', 'turn ' + turn));
        for (const v of c.verdicts) if (v.turn === turn) head.appendChild(badge(v));
      }
      add(current, el('div', 'role', m.role));
      current.appendChild(pre(m.content, m.role === 'assistant' ? 'response' : undefined));
    }
    if (c.status === 'error') field(box, 'Target error', pre(c.error, 'error'));
    return box;
  }
  /** TAP's tree as nested lists: each node's depth, fate and score, its prompt and answer on demand. */
  function treeView(nodes: NonNullable<ReportCase['tree']>): HTMLElement {
    const children = new Map<number | null, typeof nodes>();
    for (const n of nodes) {
      const list = children.get(n.parent) || [];
      list.push(n);
      children.set(n.parent, list);
    }
    const build = (parent: number | null, depth: number): HTMLUListElement => {
      const ul = el('ul', 'tree');
      for (const n of children.get(parent) || []) {
        const li = add(ul, el('li'));
        li.setAttribute('data-node', String(n.id));
        const cls =
          n.fate === 'queried'
            ? n.kept
              ? 'node kept'
              : 'node pruned'
            : n.fate === 'off-topic'
              ? 'node off'
              : 'node';
        const d = add(li, el('details', cls));
        const label =
          `#${n.id} · depth ${n.depth} · ` +
          (n.fate === 'queried'
            ? `score ${n.score === null ? '?' : n.score}${n.kept ? ' · kept' : ' · pruned'}`
            : n.fate === 'off-topic'
              ? 'off topic (not sent)'
              : n.fate === 'width-phase1'
                ? 'over width (not sent)'
                : n.fate);
        add(d, el('summary', null, label));
        add(d, el('div', 'role', 'prompt'));
        d.appendChild(pre(n.prompt));
        if (n.response !== null) {
          add(d, el('div', 'role', 'answer'));
          d.appendChild(pre(n.response, 'response'));
        }
        if (depth < 60 && children.has(n.id)) li.appendChild(build(n.id, depth + 1));
      }
      return ul;
    };
    return build(null, 0);
  }
  function promptAndResponse(b: HTMLDivElement, c: ReportCase): void {
    const p = el('div', 'prompt');
    if (c.prompt && c.prompt.kind === 'chat') {
      for (const m of c.prompt.messages) {
        add(p, el('div', 'role', m.role));
        p.appendChild(pre(m.content));
      }
    } else if (c.prompt && c.prompt.kind === 'completion') {
      add(p, el('div', 'role', 'completion prompt'));
      p.appendChild(pre(c.prompt.text));
    }
    field(b, 'Prompt', p);
    if (c.status === 'error') field(b, 'Target error', pre(c.error, 'error'));
    else field(b, 'Response', pre(c.response, 'response'));
  }
  function verdictsAndTrace(b: HTMLDivElement, c: ReportCase): HTMLDivElement {
    if (c.answer !== null) field(b, 'Extracted answer', pre(c.answer, 'response'));
    if (c.verdicts.length) {
      const vt = el('div');
      const yn = (x: boolean | null): string => (x === null ? DASH : x ? 'yes' : 'no');
      table(
        vt,
        ['judge', 'harmful', 'refusal', 'score', 'turn', 'reason / error'],
        c.verdicts.map((v) => [
          v.judge,
          yn(v.harmful),
          yn(v.refusal),
          v.score === null ? DASH : v.score,
          v.turn === null || v.turn === undefined ? DASH : v.turn,
          v.error
            ? 'judge failed: ' + v.error
            : v.inconclusive
              ? 'inconclusive: ' + (v.reason || '')
              : v.reason || '',
        ]),
        99,
      );
      field(b, 'Verdicts', vt);
    }
    if (c.trace) {
      const det = add(b, el('details', 'trace'));
      add(det, el('summary', null, 'attack trace'));
      det.appendChild(pre(c.trace));
    }
    return b;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, 150);
  });
  for (const s of [targetSel, attackSel, verdictSel]) s.addEventListener('change', applyFilters);
  applyFilters();

  // ---- run metadata -------------------------------------------------------------------------------
  const metaSec = section('meta', 'Run metadata');
  const info: [string, string | number][] = [
    ['run id', run.id],
    ['name', run.name || ''],
    ['status', run.status],
    ['created', run.created_at],
    ['updated', run.updated_at],
    ['config file', run.config_file || ''],
    ['cases', `${data.counts.ok} done, ${data.counts.errors} errors, of ${run.cases_total}`],
  ];
  const versions = run.versions;
  if (versions && typeof versions === 'object') {
    for (const [name, v] of Object.entries(versions as Record<string, unknown>)) {
      info.push(['version: ' + name, typeof v === 'string' ? v : JSON.stringify(v)]);
    }
  }
  table(metaSec, ['', ''], info, 99);
  add(metaSec, el('h3', null, 'Requests, tokens and cost per role'));
  if (!data.requests.length) add(metaSec, el('p', 'empty', 'No requests were logged.'));
  else {
    table(
      metaSec,
      ['role', 'model', 'requests', 'cached', 'errors', 'prompt tokens', 'completion tokens', 'cost (USD)'],
      data.requests.map((r) => [
        r.role,
        r.target,
        r.requests,
        r.cached,
        r.errors,
        r.prompt_tokens,
        r.completion_tokens,
        (r.cost_usd || 0).toFixed(4),
      ]),
      2,
    );
  }
  const cfg = add(metaSec, el('details', 'config'));
  add(cfg, el('summary', null, 'config snapshot (secret-looking values redacted)'));
  cfg.appendChild(pre(JSON.stringify(run.config, null, 2)));
  document.body.setAttribute('data-rendered', '1');
})();
