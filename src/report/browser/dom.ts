import { checkedName, type SvgAttrs, type SvgNode } from '../chart/svg.js';

/**
 * The page script's DOM helpers: every value goes in with `textContent` or `setAttribute`, never through
 * HTML parsing, so hostile model output stays text.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

export function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`refusenik report: the page has no #${id} element`);
  return e;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string | null,
  text?: string | number | null,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

export function add<T extends Node>(parent: Node, child: T): T {
  parent.appendChild(child);
  return child;
}

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: SvgAttrs,
  parent?: Node,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

export function svgText(parent: Node, x: number, y: number, text: string, attrs?: SvgAttrs): SVGTextElement {
  const t = svg('text', { x, y, ...attrs }, parent);
  t.textContent = text;
  return t;
}

/** An SVG `<title>` (the hover text) on `parent`. */
export function svgTitle(parent: Node, text: string): void {
  add(parent, document.createElementNS(SVG_NS, 'title')).textContent = text;
}

/** A chart built by src/report/chart (an element tree) as DOM nodes, appended to `parent`. */
export function svgTree(parent: Node, node: SvgNode): SVGElement {
  const e = document.createElementNS(SVG_NS, checkedName(node.tag));
  for (const [k, v] of Object.entries(node.attrs)) e.setAttribute(checkedName(k), String(v));
  if (node.text !== undefined) e.textContent = node.text;
  for (const child of node.children) svgTree(e, child);
  parent.appendChild(e);
  return e;
}
