/**
 * A small SVG element tree: what the report's chart builders return, so that one builder serves both the
 * static pages (rendered to markup here, every value escaped) and the HTML report's in-page script (turned
 * into DOM nodes there with `setAttribute` and `textContent`, src/report/browser/dom.ts). Pure: no DOM, no
 * Node, so it is bundled into the page script as it is.
 */

export type SvgAttrs = Readonly<Record<string, string | number>>;

export interface SvgNode {
  readonly tag: string;
  readonly attrs: SvgAttrs;
  /** Text content, placed before the children (as `textContent` then `appendChild` would). */
  readonly text?: string;
  readonly children: readonly SvgNode[];
}

export function svgNode(
  tag: string,
  attrs: SvgAttrs,
  children: readonly SvgNode[] = [],
  text?: string,
): SvgNode {
  return text === undefined ? { tag, attrs, children } : { tag, attrs, text, children };
}

/** A `<text>` element at (x, y). */
export function svgLabel(x: number, y: number, text: string, attrs: SvgAttrs = {}): SvgNode {
  return svgNode('text', { x, y, ...attrs }, [], text);
}

/** An SVG `<title>` (the hover text). */
export function svgTitle(text: string): SvgNode {
  return svgNode('title', {}, [], text);
}

/**
 * Element and attribute names come from code, never from data; refused here all the same if one could run
 * script (an event handler) or does not look like a name, in both renderers.
 */
export function checkedName(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9:-]*$/.test(name) || /^on/i.test(name)) {
    throw new Error(`refusenik chart: refused SVG name ${JSON.stringify(name)}`);
  }
  return name;
}

/** Text for element content and (double-quoted) attribute values, in HTML and in XML alike. */
export function escapeMarkup(value: string | number): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A coordinate in markup: two decimals at most (a file read by people and diffs, not a float's noise). */
function markupValue(v: string | number): string {
  return typeof v === 'number' ? String(Number(v.toFixed(2))) : v;
}

/** The tree as markup: every attribute value and text escaped, empty elements self-closed. */
export function svgMarkup(node: SvgNode): string {
  const tag = checkedName(node.tag);
  const attrs = Object.entries(node.attrs)
    .map(([k, v]) => ` ${checkedName(k)}="${escapeMarkup(markupValue(v))}"`)
    .join('');
  const inner =
    (node.text === undefined ? '' : escapeMarkup(node.text)) + node.children.map(svgMarkup).join('');
  return inner === '' ? `<${tag}${attrs}/>` : `<${tag}${attrs}>${inner}</${tag}>`;
}
