import { add, el } from './dom.js';
import type { Report } from './state.js';

/** The page title, the run's headline counts and the links to the sections. */
export function renderHeader({ data, app, judges }: Report): void {
  const run = data.run;
  document.title = 'refusenik report: ' + (run.name || run.id);
  const header = add(app, el('header', 'top'));
  add(header, el('h1', null, 'refusenik report: ' + (run.name || run.id)));
  add(
    header,
    el(
      'p',
      'sub',
      `run ${run.id} \u00b7 ${run.status} \u00b7 started ${run.created_at} \u00b7 generated ${data.generated_at}`,
    ),
  );
  const stats = add(header, el('div', 'stats'));
  const headline: [string, string | number][] = [
    ['cases', `${data.counts.cases} / ${run.cases_total}`],
    ['target errors', data.counts.errors],
    ['verdicts', data.counts.verdicts],
    ['judges', judges.length],
  ];
  for (const [label, value] of headline) {
    const s = add(stats, el('div', 'stat'));
    add(s, el('div', 'stat-value', value));
    add(s, el('div', 'stat-label', label));
  }
  const nav = add(header, el('nav'));
  const links: [string, string][] = [
    ['summary', 'Summary'],
    ['charts', 'Charts'],
    ...((data.depth || []).length ? [['depth', 'Prefill depth'] as [string, string]] : []),
    ...((data.bon || []).length ? [['bon', 'Best-of-N'] as [string, string]] : []),
    ['positions', 'Refusal positions'],
    ['agreement', 'Judge agreement'],
    ['categories', 'Categories'],
    ['cases', 'Cases'],
    ['meta', 'Run metadata'],
  ];
  for (const [id, label] of links) {
    const a = add(nav, el('a', null, label));
    a.setAttribute('href', '#' + id);
  }
}
