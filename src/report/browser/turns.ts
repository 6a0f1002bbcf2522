import type { ReportCase } from '../report-data.js';
import { field, pre } from './blocks.js';
import { add, el } from './dom.js';
import { badge } from './verdicts.js';

/** A multi-turn case turn by turn: each user question and the target's answer, the turns verdicts name marked. */
export function conversationView(
  c: ReportCase,
  messages: { role: string; content: string }[],
): HTMLDivElement {
  const box = el('div', 'conversation');
  const all = messages.concat([
    { role: 'assistant', content: c.status === 'error' ? '' : (c.response ?? '') },
  ]);
  let turn = 0;
  let current: HTMLDivElement | null = null;
  for (const m of all) {
    if (m.role === 'system') {
      add(box, el('div', 'role', 'system'));
      box.appendChild(pre(m.content));
      continue;
    }
    if (m.role === 'user' || current === null) {
      turn++;
      current = add(box, el('div', 'turn'));
      current.setAttribute('data-turn', String(turn));
      const head = add(current, el('div', 'turn-head', 'turn ' + turn));
      for (const v of c.verdicts) if (v.turn === turn) head.appendChild(badge(v));
    }
    add(current, el('div', 'role', m.role));
    current.appendChild(pre(m.content, m.role === 'assistant' ? 'response' : undefined));
  }
  if (c.status === 'error') field(box, 'Target error', pre(c.error, 'error'));
  return box;
}
