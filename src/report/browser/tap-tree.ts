import type { ReportCase } from '../report-data.js';
import { pre } from './blocks.js';
import { add, el } from './dom.js';

/** TAP's tree as nested lists: each node's depth, fate and score, its prompt and answer on demand. */
export function treeView(nodes: NonNullable<ReportCase['tree']>): HTMLElement {
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
