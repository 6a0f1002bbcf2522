import type { ReportData } from '../report-data.js';
import { chartSvg, section, table } from './blocks.js';
import { add, el, svg, svgText, svgTitle } from './dom.js';
import { pct, short } from './format.js';
import type { Report } from './state.js';

/** Judge agreement: the kappa matrix of every pair of judges, and the pairs' confusion counts. */
export function renderAgreement({ data, app }: Report): void {
  const agr = section(
    app,
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
    const km = chartSvg(agr, {
      id: 'kappa-chart',
      label: 'kappa matrix',
      width: size,
      height: size,
      cls: 'chart kappa',
    });
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
}
