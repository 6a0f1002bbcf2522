import { chartSvg, section } from './blocks.js';
import { add, el, svg, svgText, svgTitle } from './dom.js';
import { asrCi, attackName, pct, short } from './format.js';
import type { Report } from './state.js';

/** ASR bars with their 95% intervals as whiskers, one row per target × attack × judge, and the judges' legend. */
export function renderAsrChart({ data, app, judges, judgeColour }: Report): void {
  const bars = data.asr.filter((r) => r.n > 0);
  const charts = section(
    app,
    'charts',
    'ASR by target \u00d7 attack \u00d7 judge',
    'Bars: attack success rate; whiskers: 95% Wilson interval.',
  );
  if (!bars.length) add(charts, el('p', 'empty', 'No judged cases yet.'));
  else {
    const W = 960,
      LABEL = 360,
      RIGHT = 70,
      ROW = 24,
      TOP = 26;
    const H = TOP + bars.length * ROW + 10;
    const x = (v: number | null): number => LABEL + (v ?? 0) * (W - LABEL - RIGHT);
    const chart = chartSvg(charts, {
      id: 'asr-chart',
      label: 'attack success rate bar chart',
      width: W,
      height: H,
    });
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
          fill: judgeColour(r.judge),
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
      svg('rect', { width: 12, height: 12, fill: judgeColour(j) }, sw);
      add(item, el('span', null, j));
    }
  }
}
