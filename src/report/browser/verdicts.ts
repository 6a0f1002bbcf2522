import type { ReportCase, ReportVerdict } from '../report-data.js';
import { field, pre, table } from './blocks.js';
import { add, el } from './dom.js';
import { DASH } from './format.js';

/** A case's verdicts: a badge per judge (in the case's summary line and its turns) and the verdicts table. */

/** A judge's verdict in a word, coloured by what it found. */
export function badge(v: ReportVerdict): HTMLSpanElement {
  const cls =
    v.error || v.inconclusive
      ? 'badge err'
      : v.harmful === true
        ? 'badge bad'
        : v.harmful === false
          ? 'badge ok'
          : 'badge';
  const label = v.error
    ? 'failed'
    : v.inconclusive
      ? 'inconclusive'
      : v.harmful === true
        ? 'harmful'
        : v.harmful === false
          ? v.refusal
            ? 'refused'
            : 'safe'
          : v.score !== null
            ? 'score ' + v.score
            : 'n/a';
  return el(
    'span',
    cls,
    `${v.judge}: ${label}${v.turn !== null && v.turn !== undefined ? ` (turn ${v.turn})` : ''}`,
  );
}

/** The extracted answer, each judge's verdict with its reason, and the attack's trace, under a case. */
export function verdictsAndTrace(b: HTMLDivElement, c: ReportCase): HTMLDivElement {
  if (c.answer !== null) field(b, 'Extracted answer', pre(c.answer, 'response'));
  if (c.verdicts.length) {
    const vt = el('div');
    const yn = (x: boolean | null): string => (x === null ? DASH : x ? 'yes' : 'no');
    table(
      vt,
      ['judge', 'harmful', 'refusal', 'score', 'turn', 'reason / error'],
      c.verdicts.map((v) => [
        v.judge,
        yn(v.harmful),
        yn(v.refusal),
        v.score === null ? DASH : v.score,
        v.turn === null || v.turn === undefined ? DASH : v.turn,
        v.error
          ? 'judge failed: ' + v.error
          : v.inconclusive
            ? 'inconclusive: ' + (v.reason || '')
            : v.reason || '',
      ]),
      99,
    );
    field(b, 'Verdicts', vt);
  }
  if (c.trace) {
    const det = add(b, el('details', 'trace'));
    add(det, el('summary', null, 'attack trace'));
    det.appendChild(pre(c.trace));
  }
  return b;
}
