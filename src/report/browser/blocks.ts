import { add, el, svg } from './dom.js';
import { colour } from './format.js';

/** The page's building blocks: sections, tables, preformatted text, legend swatches. */

export type Cell = string | number | null | undefined | Node;

export function section(app: Node, id: string, title: string, note?: string): HTMLElement {
  const s = add(app, el('section', 'card'));
  s.id = id;
  add(s, el('h2', null, title));
  if (note) add(s, el('p', 'note', note));
  return s;
}

/** A chart's `<svg>` in `parent`: its size is its viewBox, its label the accessible name. */
export function chartSvg(
  parent: Node,
  o: { id: string; label: string; width: number; height: number; cls?: string },
): SVGSVGElement {
  const attrs = { class: o.cls ?? 'chart', id: o.id, role: 'img', 'aria-label': o.label };
  return svg('svg', { viewBox: `0 0 ${o.width} ${o.height}`, ...attrs }, parent);
}

/** A table; columns from `numericFrom` on are right-aligned numbers. */
export function table(parent: Node, head: string[], rows: Cell[][], numericFrom: number): HTMLTableElement {
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

export function pre(text: string | null | undefined, cls?: string): HTMLPreElement {
  return el('pre', cls ?? null, text === null || text === undefined ? '' : String(text));
}

/** A heading and the node under it. */
export function field(parent: Node, label: string, node: Node): void {
  add(parent, el('h4', null, label));
  parent.appendChild(node);
}

/** A short coloured line, the legend key of a curve in a table row. */
export function swatch(i: number): SVGSVGElement {
  const sw = svg('svg', { width: 14, height: 4, class: 'swatch' });
  svg('rect', { width: 14, height: 4, fill: colour(i) }, sw);
  return sw;
}
