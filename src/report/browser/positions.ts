import { lineChart } from '../chart/line-chart.js';
import { section, swatch, table, type Cell } from './blocks.js';
import { add, el, svgTree } from './dom.js';
import { attackName, colour, pct } from './format.js';
import type { Report } from './state.js';

const POSITIONS = [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

/** Where refusals start: cumulative curves of the first refusal's position, in words or tokens, and a table. */
export function renderPositions({ data, app, earlyK }: Report): void {
  const posSec = section(
    app,
    'positions',
    'Where refusals start',
    'Cumulative share of refusing responses whose first refusal phrase falls at or before each position (DeRTa, Figure 4). ' +
      'Early refusal is the aligned default; a curve that rises late means the model starts to comply and only then refuses.',
  );
  const groups = data.positions.groups.filter((g) => g.summary.refusals > 0);
  if (!groups.length) add(posSec, el('p', 'empty', 'No response contains a refusal phrase.'));
  else {
    let unit: 'words' | 'tokens' = 'words';
    const hasTokens = groups.some((g) => !!g.summary.cumulative_tokens);
    const controls = add(posSec, el('div', 'controls'));
    const curveBox = add(posSec, el('div'));
    const drawCurves = (): void => {
      curveBox.textContent = '';
      svgTree(
        curveBox,
        lineChart({
          id: 'position-chart',
          label: 'refusal position cumulative curves',
          width: 960,
          height: 340,
          margin: { left: 56, right: 20, top: 16, bottom: 40 },
          x: { min: 1, max: 100 },
          xTicks: POSITIONS,
          xTitle: `position of the first refusal (${unit})`,
          markers: [{ x: earlyK, label: 'k = ' + earlyK }],
          curves: groups.flatMap((g, i) => {
            const curve = unit === 'tokens' ? g.summary.cumulative_tokens : g.summary.cumulative;
            if (!curve) return [];
            const points = curve.map((v, j) => ({ x: j + 1, y: v }));
            return [{ colour: colour(i), points, title: `${g.target} \u00b7 ${attackName(g)}` }];
          }),
        }),
      );
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
}
