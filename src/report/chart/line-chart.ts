import { svgLabel, svgNode, svgTitle, type SvgAttrs, type SvgNode } from './svg.js';

/**
 * The one line-chart builder of the reports: share curves (ASR or a probability, 0 to 1) over a numeric x
 * (prefill depth k, Best-of-N's N, a refusal's position), with optional interval whiskers, dots and a legend.
 * The HTML report's page script draws its depth, Best-of-N and refusal-position charts with it, the loop's
 * static pages their depth and transition curves: data in, an SVG element tree out (./svg.ts renders it to
 * escaped markup; the page script to DOM nodes).
 */

export interface CurvePoint {
  x: number;
  /** A point with no value is left out of the dots and the line. */
  y: number | null;
  /** The interval: given (even as null, read as 0) draws a whisker from low to high. */
  low?: number | null;
  high?: number | null;
  /** Hover text of the point's dot. */
  title?: string;
}

export interface Curve {
  colour: string;
  points: readonly CurvePoint[];
  /** A dot at every point. */
  dots?: boolean;
  /** Hover text of the line. */
  title?: string;
  /** The curve's name in the legend (the right margin), where the chart has one. */
  label?: string;
}

export interface LineChartSpec {
  id: string;
  /** The chart's accessible name. */
  label: string;
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
  /** The x axis's range, linear or (from min > 0) logarithmic. */
  x: { min: number; max: number; log?: boolean };
  xTicks: readonly number[];
  xTitle: string;
  /** Dashed vertical lines with a label, such as the early-refusal window. */
  markers?: readonly { x: number; label: string }[];
  curves: readonly Curve[];
  /** Each curve's label in the right margin, in its colour. */
  legend?: boolean;
  /**
   * Draw the look into attributes too (colours, widths, font sizes), for a page or file without the report's
   * stylesheet (an .svg file of its own); the classes stay, and the stylesheet wins where there is one.
   */
  presentation?: boolean;
}

const Y_TICKS = [0, 0.25, 0.5, 0.75, 1];
const DOT_RADIUS = 3.5;

/** What the report's stylesheet gives each class (REPORT_CSS), for `presentation`. */
const LOOK: Record<string, SvgAttrs> = {
  grid: { stroke: '#e5e7eb', 'stroke-width': 1 },
  axis: { fill: '#6b7280', 'font-size': 11 },
  curve: { 'stroke-width': 2.2 },
  ci: { 'stroke-width': 1.5, opacity: 0.55 },
  kline: { stroke: '#6b7280', 'stroke-dasharray': '4 4' },
};

function percent(v: number): string {
  return `${(v * 100).toFixed(0)}%`;
}

export function lineChart(o: LineChartSpec): SvgNode {
  const { left, right, top, bottom } = o.margin;
  const look = (cls: string): SvgAttrs => (o.presentation ? { class: cls, ...LOOK[cls] } : { class: cls });
  const from = o.x.log ? Math.log(o.x.min) : o.x.min;
  const to = o.x.log ? Math.log(o.x.max) : o.x.max;
  const x = (v: number): number =>
    left + (((o.x.log ? Math.log(v) : v) - from) / (to - from)) * (o.width - left - right);
  const y = (v: number | null): number => top + (1 - (v ?? 0)) * (o.height - top - bottom);
  const axisText = (px: number, py: number, text: string, anchor?: 'start' | 'middle' | 'end'): SvgNode =>
    svgLabel(px, py, text, { ...(anchor ? { 'text-anchor': anchor } : {}), ...look('axis') });

  const nodes: SvgNode[] = [];
  for (const v of Y_TICKS) {
    nodes.push(svgNode('line', { x1: left, x2: o.width - right, y1: y(v), y2: y(v), ...look('grid') }));
    nodes.push(axisText(left - 6, y(v) + 4, percent(v), 'end'));
  }
  for (const t of o.xTicks) nodes.push(axisText(x(t), o.height - bottom + 16, String(t), 'middle'));
  nodes.push(axisText((left + o.width - right) / 2, o.height - 6, o.xTitle, 'middle'));
  for (const m of o.markers ?? []) {
    nodes.push(svgNode('line', { x1: x(m.x), x2: x(m.x), y1: top, y2: o.height - bottom, ...look('kline') }));
    nodes.push(axisText(x(m.x) + 4, top + 12, m.label));
  }
  o.curves.forEach((c) => {
    const stroke = c.colour;
    const points = c.points.filter((p): p is CurvePoint & { y: number } => p.y !== null);
    for (const p of points) {
      if (p.low !== undefined || p.high !== undefined) {
        const x1 = x(p.x);
        nodes.push(
          svgNode('line', { x1, x2: x1, y1: y(p.low ?? null), y2: y(p.high ?? null), stroke, ...look('ci') }),
        );
      }
      if (c.dots) {
        const title = p.title === undefined ? [] : [svgTitle(p.title)];
        nodes.push(svgNode('circle', { cx: x(p.x), cy: y(p.y), r: DOT_RADIUS, fill: stroke }, title));
      }
    }
    const line = points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    const title = c.title === undefined ? [] : [svgTitle(c.title)];
    nodes.push(svgNode('polyline', { points: line, fill: 'none', stroke, ...look('curve') }, title));
  });
  if (o.legend) {
    o.curves.forEach((c, i) => {
      if (c.label !== undefined)
        nodes.push(
          svgLabel(o.width - right + 8, top + 14 + i * 16, c.label, { 'font-size': 12, fill: c.colour }),
        );
    });
  }
  const size = `0 0 ${o.width} ${o.height}`;
  return svgNode(
    'svg',
    { viewBox: size, class: 'chart', id: o.id, role: 'img', 'aria-label': o.label },
    nodes,
  );
}
