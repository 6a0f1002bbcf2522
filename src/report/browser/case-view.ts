import type { ReportCase } from '../report-data.js';
import { field, pre } from './blocks.js';
import { add, el } from './dom.js';
import { attackName, DASH, short } from './format.js';
import { treeView } from './tap-tree.js';
import { conversationView } from './turns.js';
import { badge, verdictsAndTrace } from './verdicts.js';

/**
 * One case of the case list: its summary line (number, verdict badges, target and attack, goal), and its
 * details (metadata, goal, prompt and response or the conversation, TAP's tree, verdicts, trace), built only
 * when it is first opened.
 */
export function caseRow(c: ReportCase, i: number): HTMLDetailsElement {
  const d = el('details', 'case');
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
