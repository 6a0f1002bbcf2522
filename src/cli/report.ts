import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { DEFAULT_DB, RunStore } from '../store/store.js';
import { asrRows } from '../analysis/asr.js';
import { toCsv, toMarkdown } from '../report/tables.js';

const FORMATS = ['json', 'csv', 'md'] as const;
type Format = (typeof FORMATS)[number];

interface ReportFlags {
  db: string;
  format: string;
  out?: string;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('report a stored run: attack success rate per target x attack x judge, with 95% Wilson intervals')
    .argument('<run-id>', 'run id (or a unique prefix; see: refusenik runs list)')
    .option('--db <file>', 'run store (SQLite)', DEFAULT_DB)
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'md')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((runArg: string, flags: ReportFlags) => {
      if (!(FORMATS as readonly string[]).includes(flags.format)) {
        throw new InputError(`unknown format '${flags.format}'; available: ${FORMATS.join(', ')}`, { field: '--format' });
      }
      const store = RunStore.open(flags.db);
      try {
        const run = store.findRun(runArg);
        if (!run) throw new InputError(`no run '${runArg}' in ${flags.db} (see: refusenik runs list)`);
        const rows = asrRows(store, run.id, []);
        const text = render(flags.format as Format, run, rows);
        if (flags.out) writeFileSync(flags.out, text);
        else process.stdout.write(text);
      } finally {
        store.close();
      }
    });
}

function render(format: Format, run: Parameters<typeof toMarkdown>[0], rows: ReturnType<typeof asrRows>): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(rows, null, 2)}\n`;
    case 'csv':
      return toCsv(rows);
    case 'md':
      return toMarkdown(run, rows);
  }
}
