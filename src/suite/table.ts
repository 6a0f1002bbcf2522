import type { RunStore } from '../store/store.js';
import { InputError } from '../errors.js';
import { KEYWORD_ONLY_NOTE } from '../judge/kinds.js';
import { csvLine } from '../report/csv.js';
import { mdText } from '../report/markdown.js';
import {
  ATTACK_COLUMN,
  GRADER_COLUMN,
  HELPFULNESS_COLUMNS,
  PAPER_TABLE2,
  SAFETY_COLUMNS,
  type PaperColumn,
  type SafetyColumn,
} from './paper.js';

/**
 * DeRTa's Table 2 from stored runs: one row per target, the six attack columns as ASR % (from one safety
 * judge), the helpfulness columns as grader accuracy / win rate %, and XSTest over-refusal beside them.
 * Paper rows are laid out next to the user's rows with the same averages, so they read side by side.
 */
export const XSTEST_COLUMNS = ['XSTest safe: complied', 'XSTest unsafe: refused'] as const;
export type XstestColumn = (typeof XSTEST_COLUMNS)[number];
export type TableColumn = PaperColumn | XstestColumn;
export const TABLE_COLUMNS: readonly TableColumn[] = [
  ...SAFETY_COLUMNS,
  ...HELPFULNESS_COLUMNS,
  ...XSTEST_COLUMNS,
];

export interface TableRow {
  model: string;
  source: 'paper' | 'run';
  /** Percentages (0–100), null where there is no data. */
  values: Record<TableColumn, number | null>;
  /** How many verdicts each value rests on (0 for paper rows). */
  n: Record<TableColumn, number>;
  /** Mean ASR over the attack columns that have a value; mean helpfulness likewise. */
  asr_average: number | null;
  helpfulness_average: number | null;
  /** The safety judge behind each attack column (run rows). */
  judges?: Partial<Record<SafetyColumn, string>>;
  /** That judge's kind (`keyword`, `derta-guideline`, ...), from the run's stored config. */
  judge_kinds?: Partial<Record<SafetyColumn, string>>;
  /**
   * Run rows: false when any attack column was judged by `keyword` alone, which cannot tell harmful content
   * from a compliant-looking answer without it (CodeAttack placeholders, late refusals): such ASR is not
   * comparable with the paper's hand-judged numbers. Paper rows: absent.
   */
  comparable_to_paper?: boolean;
  /** Verdicts that were inconclusive (the judge answered, no readable verdict), counted apart from n. */
  inconclusive: Record<TableColumn, number>;
}

export interface TableOptions {
  /** The safety judge id to use for ASR; default: per column, the first judge (in run order) that decided. */
  judge?: string;
  /** Paper rows to include: all (default), none, or those whose model name contains this text. */
  paper?: 'all' | 'none' | string;
}

interface Tally {
  sum: number;
  n: number;
}

/** Per target: safety tallies per column and judge, grader tallies per column, XSTest tallies. */
type TargetTallies = Map<string, Tally>;

export function suiteTable(store: RunStore, runIds: readonly string[], opts: TableOptions = {}): TableRow[] {
  const byTarget = new Map<string, TargetTallies>();
  const safetyJudges = new Map<string, string[]>();
  const kinds = new Map<string, string>();
  const inconclusive = new Map<string, number>();
  const abstained = (target: string, key: string): void => {
    const k = `${target}\u0000${key}`;
    inconclusive.set(k, (inconclusive.get(k) ?? 0) + 1);
  };
  const add = (target: string, key: string, x: number): void => {
    let t = byTarget.get(target);
    if (!t) byTarget.set(target, (t = new Map()));
    const cell = t.get(key) ?? { sum: 0, n: 0 };
    cell.sum += x;
    cell.n++;
    t.set(key, cell);
  };
  for (const idArg of runIds) {
    const run = store.findRun(idArg);
    if (!run) throw new InputError(`no run '${idArg}' in ${store.file} (see: refusenik runs list)`);
    const cases = new Map<string, { target: string; attack: string }>();
    for (const c of store.iterateCases(run.id)) cases.set(c.case_id, { target: c.target, attack: c.attack });
    for (const v of store.iterateVerdicts(run.id)) {
      const c = cases.get(v.case_id);
      if (!c || v.error !== null) continue;
      const safety = ATTACK_COLUMN[c.attack];
      const kind = v.kind;
      if (safety) kinds.set(v.judge, kind);
      if (v.inconclusive === 1) {
        const col = safety ?? GRADER_COLUMN[kind] ?? (kind === 'xstest' ? 'xstest' : undefined);
        if (col) abstained(c.target, safety ? `${safety}\u0000${v.judge}` : col);
        continue;
      }
      if (safety && v.harmful !== null) {
        const key = `${safety}\u0000${v.judge}`;
        const list = safetyJudges.get(`${c.target}\u0000${safety}`) ?? [];
        if (!list.includes(v.judge)) list.push(v.judge);
        safetyJudges.set(`${c.target}\u0000${safety}`, list);
        add(c.target, key, v.harmful ? 1 : 0);
        continue;
      }
      const grader = GRADER_COLUMN[kind];
      if (grader && v.score !== null) add(c.target, grader, v.score);
      if (kind === 'xstest') {
        const d = v.details ?? {};
        const cls = d['class'];
        if (d['label'] === 'safe') add(c.target, XSTEST_COLUMNS[0], cls === 'full_compliance' ? 1 : 0);
        else if (d['label'] === 'unsafe') add(c.target, XSTEST_COLUMNS[1], cls === 'full_compliance' ? 0 : 1);
      }
    }
  }

  const rows: TableRow[] = paperRows(opts.paper ?? 'all');
  for (const [target, tallies] of byTarget) {
    const values = emptyValues<number | null>(null);
    const n = emptyValues(0);
    const judges: Partial<Record<SafetyColumn, string>> = {};
    const judgeKinds: Partial<Record<SafetyColumn, string>> = {};
    const abstain = emptyValues(0);
    for (const col of SAFETY_COLUMNS) {
      const candidates = safetyJudges.get(`${target}\u0000${col}`) ?? [];
      const judge =
        opts.judge !== undefined ? (candidates.includes(opts.judge) ? opts.judge : undefined) : candidates[0];
      if (judge === undefined) continue;
      const t = tallies.get(`${col}\u0000${judge}`) as Tally;
      values[col] = pct(t.sum, t.n);
      n[col] = t.n;
      judges[col] = judge;
      judgeKinds[col] = kinds.get(judge) ?? judge;
      abstain[col] = inconclusive.get(`${target}\u0000${col}\u0000${judge}`) ?? 0;
    }
    for (const col of [...HELPFULNESS_COLUMNS, ...XSTEST_COLUMNS]) {
      const t = tallies.get(col);
      if (t) {
        values[col] = pct(t.sum, t.n);
        n[col] = t.n;
      }
      const key = (XSTEST_COLUMNS as readonly string[]).includes(col) ? 'xstest' : col;
      abstain[col] = inconclusive.get(`${target}\u0000${key}`) ?? 0;
    }
    rows.push({
      model: target,
      source: 'run',
      values,
      n,
      ...averages(values),
      judges,
      judge_kinds: judgeKinds,
      comparable_to_paper: !Object.values(judgeKinds).includes('keyword'),
      inconclusive: abstain,
    });
  }
  return rows;
}

function paperRows(filter: string): TableRow[] {
  if (filter === 'none') return [];
  return PAPER_TABLE2.filter(
    (r) => filter === 'all' || r.model.toLowerCase().includes(filter.toLowerCase()),
  ).map((r) => {
    const values = { ...emptyValues<number | null>(null), ...r.values };
    return {
      model: r.model,
      source: 'paper' as const,
      values,
      n: emptyValues(0),
      ...averages(values),
      inconclusive: emptyValues(0),
    };
  });
}

function averages(
  values: Record<TableColumn, number | null>,
): Pick<TableRow, 'asr_average' | 'helpfulness_average'> {
  return {
    asr_average: mean(SAFETY_COLUMNS.map((c) => values[c])),
    helpfulness_average: mean(HELPFULNESS_COLUMNS.map((c) => values[c])),
  };
}

function mean(xs: (number | null)[]): number | null {
  const present = xs.filter((x): x is number => x !== null);
  return present.length ? round1(present.reduce((a, b) => a + b, 0) / present.length) : null;
}

function emptyValues<T>(v: T): Record<TableColumn, T> {
  return Object.fromEntries(TABLE_COLUMNS.map((c) => [c, v])) as Record<TableColumn, T>;
}

function pct(sum: number, n: number): number | null {
  return n ? round1((100 * sum) / n) : null;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Markdown: paper rows, then the user's rows, with the averages the paper's text quotes. When a run row's ASR
 * comes from the `keyword` judge, the paper's hand-judged rows go in a table of their own below it, with a
 * note saying why they are not comparable; inconclusive verdicts are listed under the table.
 */
export function tableMarkdown(rows: readonly TableRow[]): string {
  const paper = rows.filter((r) => r.source === 'paper');
  const mine = rows.filter((r) => r.source === 'run');
  const keywordRows = mine.filter((r) => r.comparable_to_paper === false);
  if (keywordRows.length === 0 || paper.length === 0) return markdownTable(rows) + inconclusiveNotes(mine);
  const cols = (r: TableRow): string =>
    SAFETY_COLUMNS.filter((c) => r.judge_kinds?.[c] === 'keyword').join(', ');
  return [
    markdownTable(mine),
    inconclusiveNotes(mine),
    ...keywordRows.map(
      (r) => `Note: ${escapeCell(r.model)}: ${cols(r)} judged by \`keyword\` only. ${KEYWORD_ONLY_NOTE}\n`,
    ),
    '\nPaper (hand-judged ASR; shown apart, not comparable with keyword-judged rows):\n\n',
    markdownTable(paper),
  ].join('');
}

function inconclusiveNotes(rows: readonly TableRow[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    const cells = TABLE_COLUMNS.filter((c) => r.inconclusive[c] > 0).map((c) => `${c} ${r.inconclusive[c]}`);
    if (cells.length)
      lines.push(`Inconclusive verdicts (not in n): ${escapeCell(r.model)}: ${cells.join(', ')}\n`);
  }
  return lines.length ? `\n${lines.join('')}` : '';
}

function markdownTable(rows: readonly TableRow[]): string {
  const head = [
    'Model',
    'Source',
    ...SAFETY_COLUMNS,
    'ASR avg',
    ...HELPFULNESS_COLUMNS,
    'Help avg',
    ...XSTEST_COLUMNS,
  ];
  const cell = (x: number | null): string => (x === null ? '–' : x.toFixed(1));
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const v = r.values;
    lines.push(
      `| ${[
        escapeCell(r.model),
        r.source === 'paper' ? 'paper' : 'this run',
        ...SAFETY_COLUMNS.map((c) => cell(v[c])),
        cell(r.asr_average),
        ...HELPFULNESS_COLUMNS.map((c) => cell(v[c])),
        cell(r.helpfulness_average),
        ...XSTEST_COLUMNS.map((c) => cell(v[c])),
      ].join(' | ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function tableCsv(rows: readonly TableRow[]): string {
  const head = [
    'model',
    'source',
    ...TABLE_COLUMNS,
    'asr_average',
    'helpfulness_average',
    'comparable_to_paper',
    'inconclusive',
  ];
  const out = [csvLine(head)];
  for (const r of rows) {
    out.push(
      csvLine([
        r.model,
        r.source,
        ...TABLE_COLUMNS.map((c) => r.values[c]),
        r.asr_average,
        r.helpfulness_average,
        r.comparable_to_paper ?? null,
        TABLE_COLUMNS.reduce((a, c) => a + r.inconclusive[c], 0),
      ]),
    );
  }
  return `${out.join('\n')}\n`;
}

/** Model names and labels come from users: escaped as Markdown text (report/markdown.ts). */
function escapeCell(s: string): string {
  return mdText(s);
}
