import { section, table } from './blocks.js';
import { add, el, svg } from './dom.js';
import { asrCi, attackName } from './format.js';
import type { Report } from './state.js';

/** ASR per dataset category, with a bar in the judge's colour. */
export function renderCategories({ data, app, judgeColour }: Report): void {
  const cat = section(
    app,
    'categories',
    'ASR per category',
    'Behaviors grouped by their dataset category; the same Wilson intervals, on smaller n.',
  );
  const cats = data.categories.filter((r) => r.n > 0);
  if (!cats.length || cats.every((r) => r.category === '(none)')) {
    add(cat, el('p', 'empty', 'The dataset has no categories.'));
  } else {
    cats.sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
    table(
      cat,
      ['category', 'target', 'attack', 'judge', 'n', 'ASR [95% CI]', ''],
      cats.map((r) => {
        const mini = svg('svg', { width: 120, height: 10, class: 'mini' });
        svg('rect', { width: 120, height: 10, class: 'mini-bg' }, mini);
        svg(
          'rect',
          {
            width: Math.max(0.5, 120 * (r.attack_success_rate ?? 0)),
            height: 10,
            fill: judgeColour(r.judge),
          },
          mini,
        );
        return [r.category, r.target, attackName(r), r.judge, r.n, asrCi(r), mini];
      }),
      4,
    );
  }
}
