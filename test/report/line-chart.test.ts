import { describe, expect, it } from 'vitest';
import { lineChart, type LineChartSpec } from '../../src/report/chart/line-chart.js';
import { svgMarkup, svgNode, type SvgNode } from '../../src/report/chart/svg.js';

/** The line chart both the HTML report's page script and the loop's static pages draw with. */

const HOSTILE = '</svg><script>alert(1)</script><img src=x onerror="alert(2)">\'&';

function spec(o: Partial<LineChartSpec> = {}): LineChartSpec {
  return {
    id: 'c',
    label: HOSTILE,
    width: 400,
    height: 200,
    margin: { left: 50, right: 50, top: 10, bottom: 40 },
    x: { min: 0, max: 10 },
    xTicks: [0, 5, 10],
    xTitle: HOSTILE,
    curves: [
      {
        colour: '#111827',
        dots: true,
        title: HOSTILE,
        label: HOSTILE,
        points: [
          { x: 0, y: 0.5, low: 0.25, high: null, title: HOSTILE },
          { x: 5, y: null, low: 0, high: 1 },
          { x: 10, y: 1 },
        ],
      },
    ],
    ...o,
  };
}

function all(node: SvgNode, tag: string): SvgNode[] {
  return [...(node.tag === tag ? [node] : []), ...node.children.flatMap((c) => all(c, tag))];
}

describe('lineChart', () => {
  it('scales x and y into the margins, leaves points with no value out, draws a whisker where one is given', () => {
    const chart = lineChart(spec());
    const circles = all(chart, 'circle');
    expect(circles.map((c) => [c.attrs['cx'], c.attrs['cy']])).toEqual([
      [50, 85],
      [350, 10],
    ]);
    expect(all(chart, 'polyline')[0]?.attrs['points']).toBe('50.0,85.0 350.0,10.0');
    // The whisker: low 0.25, high null read as 0.
    const ci = all(chart, 'line').filter((l) => l.attrs['class'] === 'ci');
    expect(ci.map((l) => [l.attrs['y1'], l.attrs['y2']])).toEqual([[122.5, 160]]);
    // 5 grid lines with percent labels, 3 x ticks, the x title.
    expect(all(chart, 'line').filter((l) => l.attrs['class'] === 'grid')).toHaveLength(5);
    expect(all(chart, 'text').map((t) => t.text)).toEqual([
      '0%',
      '25%',
      '50%',
      '75%',
      '100%',
      '0',
      '5',
      '10',
      HOSTILE,
    ]);
  });

  it('has a log x axis, markers, a legend, and its look in attributes for a file without the stylesheet', () => {
    const chart = lineChart(
      spec({
        x: { min: 1, max: 100, log: true },
        markers: [{ x: 10, label: 'k = 10' }],
        legend: true,
        presentation: true,
      }),
    );
    const kline = all(chart, 'line').find((l) => l.attrs['class'] === 'kline');
    expect(kline?.attrs['x1']).toBe(200); // log 10 is half of log 100
    expect(kline?.attrs['stroke-dasharray']).toBe('4 4');
    expect(all(chart, 'polyline')[0]?.attrs['stroke-width']).toBe(2.2);
    expect(all(chart, 'text').some((t) => t.text === HOSTILE && t.attrs['fill'] === '#111827')).toBe(true);
    expect(lineChart(spec()).children.some((n) => n.attrs['stroke-width'] !== undefined)).toBe(false);
  });
});

describe('svgMarkup', () => {
  it('escapes every text and attribute value: hostile labels stay text', () => {
    const markup = svgMarkup(lineChart(spec({ legend: true })));
    expect(markup).not.toContain('<script');
    expect(markup).not.toContain('<img');
    expect(markup).not.toContain('</svg><');
    expect(markup).toContain('&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(markup).toContain('aria-label="&lt;/svg&gt;&lt;script&gt;');
    expect(markup).toContain('onerror=&quot;alert(2)&quot;&gt;&#39;&amp;');
    expect(markup.match(/<svg/g)).toHaveLength(1);
    expect(markup.endsWith('</svg>')).toBe(true);
  });

  it('writes numbers with two decimals at most and self-closes empty elements', () => {
    expect(svgMarkup(svgNode('circle', { cx: 0.1 + 0.2, cy: 24.500000000000007, r: 3 }))).toBe(
      '<circle cx="0.3" cy="24.5" r="3"/>',
    );
  });

  it('refuses names that are not plain names or that could run script', () => {
    expect(() => svgMarkup(svgNode('rect', { onload: 'alert(1)' }))).toThrow(/refused SVG name/);
    expect(() => svgMarkup(svgNode('rect', { 'x" onclick="y': 1 }))).toThrow(/refused SVG name/);
    expect(() => svgMarkup(svgNode('script>', {}))).toThrow(/refused SVG name/);
  });
});
