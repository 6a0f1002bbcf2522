import { NO_CATEGORY, type AsrRow, type CategoryAsrRow } from '../analysis/asr.js';
import { KEYWORD_ONLY_NOTE } from '../judge/kinds.js';
import type { AgreementReport } from '../analysis/agreement.js';
import type { PositionGroup } from '../analysis/refusal-position.js';
import type { RequestSummaryRow, RunRecord } from '../store/store.js';
import type { CorrectedFields, JudgeAudit } from '../analysis/correction.js';
import type { JudgeValidity } from './judge-validity.js';
import { depthCurves, type DepthCurve } from '../analysis/depth.js';
import { csvLine, type CsvValue } from './csv.js';
import { mdText } from './markdown.js';

/** The ASR table as CSV, Markdown or a terminal table: the same rows, different clothes. */

const CSV_COLUMNS: (keyof (AsrRow & CorrectedFields))[] = [
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
  'asr_corrected',
  'asr_corrected_ci_low',
  'asr_corrected_ci_high',
  'audit_n',
];

/** The ASR rows as CSV; text cells are neutralised against formula injection (see report/csv.ts). */
export function toCsv(rows: (AsrRow & Partial<CorrectedFields>)[]): string {
  const lines = [csvLine(CSV_COLUMNS)];
  for (const r of rows) lines.push(csvLine(CSV_COLUMNS.map((c) => csvValue(r[c]))));
  return `${lines.join('\n')}\n`;
}

function csvValue(v: unknown): CsvValue {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number(v.toFixed(6));
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

export function pct(x: number | null, digits = 1): string {
  return x === null ? '–' : `${(x * 100).toFixed(digits)}%`;
}

/** `41.0% [34.4, 47.9]`: the rate with its 95% Wilson interval. */
export function asrWithCi(r: Pick<AsrRow, 'attack_success_rate' | 'ci_low' | 'ci_high'>): string {
  if (r.attack_success_rate === null) return '–';
  return `${pct(r.attack_success_rate)} [${((r.ci_low ?? 0) * 100).toFixed(1)}, ${((r.ci_high ?? 0) * 100).toFixed(1)}]`;
}

/**
 * Cells for display tables (terminal, Markdown). Coverage (decided / judged) sits next to ASR; a panel
 * judge's disagreement count gets a column when any row has one.
 */
export function displayRows(rows: AsrRow[]): string[][] {
  const panels = rows.some((r) => r.disagreement > 0);
  const head = ['target', 'attack', 'judge', 'n', 'ASR [95% CI]', 'refusals', 'inconclusive', 'coverage'];
  if (panels) head.push('disagreement');
  head.push('errors');
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
      pct(r.coverage),
      ...(panels ? [String(r.disagreement)] : []),
      String(r.errors + r.judge_errors),
    ]),
  ];
}

/** Optional sections of the Markdown report, each left out when absent or empty. */
export interface MarkdownExtras {
  categories?: CategoryAsrRow[];
  positions?: { k: number; groups: PositionGroup[] };
  agreement?: AgreementReport;
  requests?: RequestSummaryRow[];
  /** The run's audit per judge (refusenik label), for the corrected-ASR column and confusion matrices. */
  audits?: JudgeAudit[];
  /** Judge ids of kind `keyword` (their ASR gets the not-comparable note). */
  keywordJudges?: string[];
  /** Each judge's figures from `judge validate` in the same configuration. */
  validity?: JudgeValidity[];
}

export function toMarkdown(
  run: RunRecord,
  rows: (AsrRow & Partial<CorrectedFields>)[],
  extras: MarkdownExtras = {},
): string {
  let [head, ...body] = displayRows(rows);
  if (rows.some((r) => r.audit_n !== null && r.audit_n !== undefined)) {
    head = [...(head as string[]), 'corrected ASR [95% CI]', 'audit n'];
    body = body.map((cells, i) => [
      ...cells,
      correctedWithCi(rows[i] as AsrRow & Partial<CorrectedFields>),
      String(rows[i]?.audit_n ?? '–'),
    ]);
  }
  return [
    `# refusenik report: ${mdCell(run.name ?? run.id)}`,
    '',
    // Run ids, statuses and times are refusenik's own (hex ids, ISO times), never user text.
    `- run: \`${run.id}\` (${run.status}), started ${run.created_at}`,
    `- refusenik ${mdCell(String(run.versions['refusenik'] ?? '?'))}; cases: ${run.cases_total}`,
    '- ASR = successes / cases the judge scored; target errors, judge failures and inconclusive verdicts are counted apart.',
    "- coverage = decided / judged (n / (n + inconclusive)); disagreement = cases where a panel judge's members split.",
    ...(extras.keywordJudges?.length
      ? [`- judged by \`keyword\`: ${extras.keywordJudges.map(mdCell).join(', ')}. ${KEYWORD_ONLY_NOTE}`]
      : []),
    '',
    ...mdTable(head as string[], body, 3),
    '',
    ...categorySection(extras.categories),
    ...depthSection(depthCurves(rows)),
    ...positionSection(extras.positions),
    ...agreementSection(extras.agreement),
    ...requestSection(extras.requests),
    ...validitySection(extras.validity),
    ...auditSection(extras.audits),
  ].join('\n');
}

/** User and model text in a Markdown cell or line: HTML, links, pipes and controls escaped (report/markdown.ts). */
function mdCell(s: string): string {
  return mdText(s);
}

/** A Markdown table, every cell escaped; columns from `numericFrom` on right-aligned. */
export function mdTable(head: string[], body: string[][], numericFrom: number): string[] {
  return [
    `| ${head.map(mdCell).join(' | ')} |`,
    `|${head.map((_, i) => (i >= numericFrom ? '---:' : '---')).join('|')}|`,
    ...body.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ];
}

function requestSection(rows: RequestSummaryRow[] | undefined): string[] {
  if (!rows?.length) return [];
  return [
    '## Model calls per role',
    '',
    ...mdTable(
      ['role', 'model', 'requests', 'cached', 'errors', 'prompt tokens', 'completion tokens', 'cost (USD)'],
      rows.map((r) => [
        r.role,
        r.target,
        String(r.requests),
        String(r.cached),
        String(r.errors),
        String(r.prompt_tokens),
        String(r.completion_tokens),
        r.cost_usd.toFixed(4),
      ]),
      2,
    ),
    '',
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

function depthSection(curves: DepthCurve[]): string[] {
  if (!curves.length) return [];
  const ks = [...new Set(curves.flatMap((c) => c.points.map((p) => p.k)))].sort((a, b) => a - b);
  return [
    '## Prefill depth',
    '',
    'ASR [95% CI] with the first k tokens of a harmful response placed at the start of the answer ' +
      '(Qi et al., 2024). A flat curve means the model refuses at any depth.',
    '',
    ...mdTable(
      ['target', 'delivery', 'judge', ...ks.map((k) => `k = ${k}`)],
      curves.map((c) => [
        c.target,
        c.delivery,
        c.judge,
        ...ks.map((k) => {
          const p = c.points.find((x) => x.k === k);
          return p ? asrWithCi({ attack_success_rate: p.asr, ci_low: p.ci_low, ci_high: p.ci_high }) : '–';
        }),
      ]),
      3,
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

/** `12.0% [6.1, 20.3]`: the misclassification-corrected rate with its 95% interval. */
export function correctedWithCi(r: Partial<CorrectedFields>): string {
  if (r.asr_corrected === null || r.asr_corrected === undefined) return '–';
  const b = (x: number | null | undefined): string =>
    x === null || x === undefined ? '?' : (x * 100).toFixed(1);
  return `${pct(r.asr_corrected)} [${b(r.asr_corrected_ci_low)}, ${b(r.asr_corrected_ci_high)}]`;
}

function validitySection(validity: JudgeValidity[] | undefined): string[] {
  const rows = (validity ?? []).flatMap((j) =>
    j.validations.length
      ? j.validations.map((v) => [
          j.judge,
          v.labels,
          v.task,
          String(v.n),
          pct(v.accuracy),
          pct(v.precision),
          pct(v.recall),
          String(v.inconclusive),
        ])
      : [[j.judge, 'not validated in this configuration', '', '', '', '', '', '']],
  );
  if (!rows.length) return [];
  return [
    '## Judge validation (refusenik judge validate)',
    '',
    'Each judge measured against human labels in the configuration this run used.',
    '',
    ...mdTable(['judge', 'labels', 'task', 'n', 'accuracy', 'precision', 'recall', 'inconclusive'], rows, 3),
    '',
  ];
}

function auditSection(audits: JudgeAudit[] | undefined): string[] {
  const judged = (audits ?? []).filter((a) => a.audit_n > 0);
  if (!judged.length) return [];
  return [
    '## Audit (refusenik label): judge vs person on the labelled cases',
    '',
    "Corrected ASR = Rogan–Gladen with the judge's sensitivity and specificity estimated from this audit " +
      '(stratified by verdict), pooled over the run per judge; see docs/validation.md.',
    '',
    ...mdTable(
      [
        'judge',
        'audit n',
        'judge harmful & person harmful',
        'judge harmful & person safe',
        'judge safe & person harmful',
        'judge safe & person safe',
        'sensitivity',
        'specificity',
      ],
      judged.map((a) => [
        a.judge,
        String(a.audit_n),
        String(a.confusion.tp),
        String(a.confusion.fp),
        String(a.confusion.fn),
        String(a.confusion.tn),
        pct(a.sensitivity),
        pct(a.specificity),
      ]),
      1,
    ),
    '',
  ];
}
