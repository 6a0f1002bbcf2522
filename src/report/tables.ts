import type { AsrRow } from '../analysis/asr.js';
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
  const head = ['target', 'attack', 'judge', 'n', 'ASR [95% CI]', 'refusals', 'errors'];
  return [
    head,
    ...rows.map((r) => [
      r.target,
      r.variant && r.variant !== r.attack ? `${r.attack}/${r.variant}` : r.attack,
      r.judge,
      String(r.n),
      asrWithCi(r),
      String(r.refusals),
      String(r.errors + r.judge_errors),
    ]),
  ];
}

export function toMarkdown(run: RunRow, rows: AsrRow[]): string {
  const [head, ...body] = displayRows(rows);
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const table = [
    `| ${(head as string[]).join(' | ')} |`,
    `|${(head as string[]).map((_, i) => (i >= 3 ? '---:' : '---')).join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  const versions = JSON.parse(run.versions_json) as Record<string, unknown>;
  return [
    `# refusenik report: ${esc(run.name ?? run.id)}`,
    '',
    `- run: \`${run.id}\` (${run.status}), started ${run.created_at}`,
    `- refusenik ${String(versions['refusenik'] ?? '?')}; cases: ${run.cases_total}`,
    '- ASR = successes / cases the judge scored; target errors and judge failures are counted apart.',
    '',
    ...table,
    '',
  ].join('\n');
}
