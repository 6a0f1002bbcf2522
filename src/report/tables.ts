import { NO_CATEGORY, type AsrRow, type CategoryAsrRow } from '../analysis/asr.js';
import type { AgreementReport } from '../analysis/agreement.js';
import type { PositionGroup } from '../analysis/refusal-position.js';
import type { RunRow } from '../store/store.js';

/** The ASR table as CSV, Markdown or a terminal table: the same rows, different clothes. */

const CSV_COLUMNS: (keyof AsrRow)[] = [
  'target',
  'attack',
  'variant',
  'judge',
  'n',
  'successes',
  'attack_success_rate',
  'ci_low',
  'ci_high',
  'refusals',
  'refusal_rate',
  'mean_score',
  'errors',
  'judge_errors',
  'inconclusive',
];

export function toCsv(rows: AsrRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(Number.isInteger(v) ? v : Number(v.toFixed(6))) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function pct(x: number | null, digits = 1): string {
  return x === null ? '–' : `${(x * 100).toFixed(digits)}%`;
}

/** `41.0% [34.4, 47.9]`: the rate with its 95% Wilson interval. */
export function asrWithCi(r: AsrRow): string {
  if (r.attack_success_rate === null) return '–';
  return `${pct(r.attack_success_rate)} [${((r.ci_low ?? 0) * 100).toFixed(1)}, ${((r.ci_high ?? 0) * 100).toFixed(1)}]`;
}

/** Cells for display tables (terminal, Markdown). */
export function displayRows(rows: AsrRow[]): string[][] {
  const head = ['target', 'attack', 'judge', 'n', 'ASR [95% CI]', 'refusals', 'inconclusive', 'errors'];
  return [
    head,
    ...rows.map((r) => [
      r.target,
      attackLabel(r),
      r.judge,
      String(r.n),
      asrWithCi(r),
      String(r.refusals),
      String(r.inconclusive),
      String(r.errors + r.judge_errors),
    ]),
  ];
}

/** Optional sections of the Markdown report, each left out when absent or empty. */
export interface MarkdownExtras {
  categories?: CategoryAsrRow[];
  positions?: { k: number; groups: PositionGroup[] };
  agreement?: AgreementReport;
}

export function toMarkdown(run: RunRow, rows: AsrRow[], extras: MarkdownExtras = {}): string {
  const [head, ...body] = displayRows(rows);
  const versions = JSON.parse(run.versions_json) as Record<string, unknown>;
  return [
    `# refusenik report: ${mdCell(run.name ?? run.id)}`,
    '',
    `- run: \`${run.id}\` (${run.status}), started ${run.created_at}`,
    `- refusenik ${String(versions['refusenik'] ?? '?')}; cases: ${run.cases_total}`,
    '- ASR = successes / cases the judge scored; target errors, judge failures and inconclusive verdicts are counted apart.',
    '',
    ...mdTable(head as string[], body, 3),
    '',
    ...categorySection(extras.categories),
    ...positionSection(extras.positions),
    ...agreementSection(extras.agreement),
  ].join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function mdTable(head: string[], body: string[][], numericFrom: number): string[] {
  return [
    `| ${head.map(mdCell).join(' | ')} |`,
    `|${head.map((_, i) => (i >= numericFrom ? '---:' : '---')).join('|')}|`,
    ...body.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ];
}

function categorySection(rows: CategoryAsrRow[] | undefined): string[] {
  const judged = (rows ?? []).filter((r) => r.n > 0);
  if (!judged.length || judged.every((r) => r.category === NO_CATEGORY)) return [];
  const sorted = [...judged].sort((a, b) => a.category.localeCompare(b.category));
  return [
    '## ASR per category',
    '',
    ...mdTable(
      ['category', 'target', 'attack', 'judge', 'n', 'ASR [95% CI]'],
      sorted.map((r) => [r.category, r.target, attackLabel(r), r.judge, String(r.n), asrWithCi(r)]),
      4,
    ),
    '',
  ];
}

function positionSection(positions: MarkdownExtras['positions']): string[] {
  const groups = (positions?.groups ?? []).filter((g) => g.summary.n > 0);
  if (!positions || !groups.length) return [];
  const k = positions.k;
  const tokens = groups.some((g) => g.summary.share_within_first_k_tokens !== undefined);
  const head = ['target', 'attack', 'responses', 'refusals', 'at word 1', `within ${k} words`];
  if (tokens) head.push(`within ${k} tokens`);
  head.push(`recoveries (refusal after word ${k})`);
  return [
    '## Refusal positions',
    '',
    'Position of the first refusal phrase in each response (share of refusing responses); a recovery starts ' +
      'compliant and refuses later.',
    '',
    ...mdTable(
      head,
      groups.map((g) => {
        const s = g.summary;
        const row = [
          g.target,
          attackLabel(g),
          String(s.n),
          String(s.refusals),
          pct(s.share_at_first_word),
          pct(s.share_within_first_k_words),
        ];
        if (tokens) row.push(pct(s.share_within_first_k_tokens ?? null));
        row.push(String(s.recoveries));
        return row;
      }),
      2,
    ),
    '',
  ];
}

function agreementSection(agreement: AgreementReport | undefined): string[] {
  if (!agreement || agreement.pairs.length === 0) return [];
  return [
    "## Judge agreement (harmful decision, Cohen's kappa)",
    '',
    ...mdTable(
      ['judge A', 'judge B', 'n', 'both harmful', 'A only', 'B only', 'neither', 'agreement', 'kappa'],
      agreement.pairs.map((p) => [
        p.judge_a,
        p.judge_b,
        String(p.n),
        String(p.confusion[0][0]),
        String(p.confusion[0][1]),
        String(p.confusion[1][0]),
        String(p.confusion[1][1]),
        pct(p.agreement),
        p.kappa === null ? 'n/a' : p.kappa.toFixed(3),
      ]),
      2,
    ),
    '',
  ];
}

function attackLabel(r: { attack: string; variant: string }): string {
  return r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack;
}
