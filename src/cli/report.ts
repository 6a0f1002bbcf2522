import { writeFileAtomic } from '../util/atomic-write.js';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore, type RunRecord } from '../store/store.js';
import { observedStatus } from '../store/lease.js';
import { categoryAsrRows } from '../analysis/asr.js';
import { correctedAsrRows, runAudits } from '../analysis/correction.js';
import { runJudgeValidity } from '../report/judge-validity.js';
import { judgeAgreement } from '../analysis/agreement.js';
import { runPositions } from '../analysis/refusal-position.js';
import { loadTokenCounter } from '../analysis/token-positions.js';
import { toCsv, toMarkdown } from '../report/tables.js';
import { collectReportData, keywordJudges } from '../report/report-data.js';
import { renderHtml } from '../report/html.js';
import { intOption } from './common.js';
import { printDocument } from '../util/terminal.js';

const FORMATS = ['json', 'csv', 'md', 'html'] as const;
type Format = (typeof FORMATS)[number];

interface ReportFlags {
  db: string;
  format: string;
  out?: string;
  tokenizer?: string;
  k: number;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'report a stored run: attack success rate per target x attack x judge, with 95% Wilson intervals. ' +
        'md adds per-category ASR, refusal positions and judge agreement; html is one self-contained page ' +
        '(no network) with charts and a searchable drill-down of every case.',
    )
    .argument('<run-id>', 'run id (or a unique prefix; see: refusenik runs list)')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'md')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--tokenizer <dir>', "md/html: also count refusal positions in this tokenizer.json's tokens")
    .option('--k <n>', 'md/html: the early-refusal window in words/tokens', intOption('--k', 1), 5)
    .addHelpText('after', '\nExample: refusenik report <run-id> --format html --out report.html')
    .action((runArg: string, flags: ReportFlags) => {
      if (!(FORMATS as readonly string[]).includes(flags.format)) {
        throw new InputError(`unknown format '${flags.format}'; available: ${FORMATS.join(', ')}`, {
          field: '--format',
        });
      }
      const store = RunStore.openReadOnly(flags.db);
      try {
        const run = store.findRun(runArg);
        if (!run) throw new InputError(`no run '${runArg}' in ${flags.db} (see: refusenik runs list)`);
        // A `running` run with no live writer reads `interrupted` (see store/lease.ts).
        const text = render(
          flags.format as Format,
          store,
          { ...run, status: observedStatus(store.leases, run) },
          flags,
        );
        if (flags.out) {
          writeFileAtomic(flags.out, text, { protect: { 'the run store': flags.db } });
        } else printDocument(text);
      } finally {
        store.close();
      }
    });
}

function render(format: Format, store: RunStore, run: RunRecord, flags: ReportFlags): string {
  const tokens = flags.tokenizer ? loadTokenCounter(flags.tokenizer) : undefined;
  switch (format) {
    case 'json': {
      // Each row with its corrected ASR (audit labels) and its judge's validated figures (judge validate).
      const rows = correctedAsrRows(store, run.id);
      const validity = new Map(
        runJudgeValidity(store, run, [...new Set(rows.map((r) => r.judge))]).map((v) => [
          v.judge,
          v.validations,
        ]),
      );
      const out = rows.map((r) => ({ ...r, judge_validations: validity.get(r.judge) ?? [] }));
      return `${JSON.stringify(out, null, 2)}\n`;
    }
    case 'csv':
      return toCsv(correctedAsrRows(store, run.id));
    case 'md': {
      const rows = correctedAsrRows(store, run.id);
      return toMarkdown(run, rows, {
        audits: [...runAudits(store, run.id).values()],
        validity: runJudgeValidity(store, run, [...new Set(rows.map((r) => r.judge))]),
        categories: categoryAsrRows(store, run.id, []),
        positions: { k: flags.k, groups: runPositions(store, run.id, { k: flags.k, tokens }).groups },
        agreement: judgeAgreement(store, run.id),
        requests: store.requestSummary(run.id),
        keywordJudges: keywordJudges(run, rows),
      });
    }
    case 'html':
      return renderHtml(collectReportData(store, run, { k: flags.k, tokens }));
  }
}
