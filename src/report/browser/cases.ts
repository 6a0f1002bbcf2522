import type { ReportCase } from '../report-data.js';
import { section } from './blocks.js';
import { caseFilter, verdictOptions } from './case-filters.js';
import { caseRow } from './case-view.js';
import { add, el } from './dom.js';
import { attackName } from './format.js';
import type { Report } from './state.js';

const PAGE_SIZE = 50;

/**
 * The case drill-down: a search box and filters by target, attack and verdict over every case, rendered one
 * page at a time (a case's details are built when it is opened), so a 10k-case run stays responsive.
 */
export function renderCases({ data, app, earlyK }: Report): void {
  const casesSec = section(
    app,
    'cases',
    'Cases',
    'Every case with its prompt, response, extracted answer and each verdict. Search matches goal, prompt, response and judge reasons.',
  );
  const cases = data.cases;
  const filters = add(casesSec, el('div', 'filters'));
  const search = add(filters, el('input'));
  search.type = 'search';
  search.placeholder = 'search\u2026';
  search.id = 'case-search';
  function select(id: string, options: [string, string][]): HTMLSelectElement {
    const s = add(filters, el('select'));
    s.id = id;
    for (const [value, label] of options) {
      const opt = add(s, el('option', null, label));
      opt.value = value;
    }
    return s;
  }
  function distinct(f: (c: ReportCase) => string): string[] {
    const seen: string[] = [];
    for (const c of cases) {
      const v = f(c);
      if (!seen.includes(v)) seen.push(v);
    }
    return seen;
  }
  const same = (t: string): [string, string] => [t, t];
  const targetSel = select('case-target', [['', 'all targets'], ...distinct((c) => c.target).map(same)]);
  const attackSel = select('case-attack', [['', 'all attacks'], ...distinct(attackName).map(same)]);
  const verdictSel = select('case-verdict', verdictOptions(earlyK));
  const pager = add(casesSec, el('div', 'pager'));
  const list = add(casesSec, el('div', 'case-list'));
  list.id = 'case-list';
  const filter = caseFilter(cases, earlyK);
  /** Indexes into `cases` of the cases the filters let through. */
  let filtered: number[] = [];
  let page = 0;
  function applyFilters(): void {
    filtered = filter({
      query: search.value.trim().toLowerCase(),
      target: targetSel.value,
      attack: attackSel.value,
      verdict: verdictSel.value,
    });
    page = 0;
    renderPage();
  }
  function pagerButton(label: string, enabled: boolean, go: () => void): void {
    const b = add(pager, el('button', null, label));
    b.type = 'button';
    b.disabled = !enabled;
    b.addEventListener('click', go);
  }
  function renderPage(): void {
    const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    pager.textContent = '';
    pagerButton('\u2190 prev', page > 0, () => {
      page--;
      renderPage();
    });
    add(
      pager,
      el(
        'span',
        'page-info',
        `${filtered.length} of ${cases.length} cases \u00b7 page ${page + 1} / ${pages}`,
      ),
    );
    pagerButton('next \u2192', page < pages - 1, () => {
      page++;
      renderPage();
    });
    list.textContent = '';
    for (const i of filtered.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
      const c = cases[i];
      if (c) list.appendChild(caseRow(c, i));
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, 150);
  });
  for (const s of [targetSel, attackSel, verdictSel]) s.addEventListener('change', applyFilters);
  applyFilters();
}
